// SCHEDULE-AGENT=CLIENT on every organizer and attendee a calendar object carries.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { withClientScheduling } from "../../../src/dav/scheduling.js";

const event = (...people: string[]) =>
  [
    "BEGIN:VCALENDAR",
    "VERSION:2.0",
    "PRODID:-//test//EN",
    "BEGIN:VEVENT",
    "UID:meeting-1",
    "DTSTAMP:20261201T090000Z",
    "DTSTART:20261208T090000Z",
    ...people,
    "END:VEVENT",
    "END:VCALENDAR",
    "",
  ].join("\r\n");

/** The content lines, long ones unfolded. */
const lines = (text: string) => text.replace(/\r\n[ \t]/g, "").split("\r\n");

describe("withClientScheduling", () => {
  it("adds it where it is missing and replaces SERVER", () => {
    const stored = withClientScheduling(
      event(
        'ORGANIZER;CN="Dupont, Zoé":mailto:zoe@contoso.test',
        "ATTENDEE;PARTSTAT=ACCEPTED;ROLE=REQ-PARTICIPANT:mailto:bob@contoso.test",
        "ATTENDEE;SCHEDULE-AGENT=SERVER:mailto:carol@fabrikam.test",
      ),
    );
    const people = lines(stored).filter((l) => /^(ORGANIZER|ATTENDEE)/.test(l));
    assert.deepEqual(people, [
      'ORGANIZER;CN="Dupont, Zoé";SCHEDULE-AGENT=CLIENT:mailto:zoe@contoso.test',
      "ATTENDEE;PARTSTAT=ACCEPTED;ROLE=REQ-PARTICIPANT;SCHEDULE-AGENT=CLIENT:mailto:bob@contoso.test",
      "ATTENDEE;SCHEDULE-AGENT=CLIENT:mailto:carol@fabrikam.test",
    ]);
    assert.ok(stored.endsWith("END:VCALENDAR\r\n"));
  });

  it("leaves an object that has it everywhere byte for byte as it was", () => {
    const given = event(
      "ORGANIZER;SCHEDULE-AGENT=CLIENT:mailto:zoe@contoso.test",
      "ATTENDEE;SCHEDULE-AGENT=client:mailto:bob@contoso.test",
    );
    assert.equal(withClientScheduling(given), given);
    const alone = event("SUMMARY:Sans invités");
    assert.equal(withClientScheduling(alone), alone);
  });
});
