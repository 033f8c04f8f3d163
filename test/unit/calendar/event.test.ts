// Graph events to iCalendar, from Microsoft's documented examples (fixtures/graph) and events
// shaped like them; every expected line is written here by hand.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { eventToICalendar } from "../../../src/calendar/event.js";
import type { GraphEvent } from "../../../src/graph/types.js";
import { graphExample } from "../../helpers/graph-fixtures.js";

/** The content lines, unfolded (RFC 5545 §3.1); every physical line checked on the way. */
function lines(text: string): string[] {
  assert.ok(text.endsWith("\r\n"), "CRLF after the last line");
  const physical = text.slice(0, -2).split("\r\n");
  for (const line of physical)
    assert.ok(Buffer.byteLength(line) <= 75, `folded at 75 octets: ${line}`);
  return text
    .replace(/\r\n[ \t]/g, "")
    .slice(0, -2)
    .split("\r\n");
}

/** The lines of each VEVENT, in order. */
function vevents(text: string): string[][] {
  const out: string[][] = [];
  let current: string[] | undefined;
  for (const line of lines(text)) {
    if (line === "BEGIN:VEVENT") current = [];
    else if (line === "END:VEVENT") {
      out.push(current!);
      current = undefined;
    } else current?.push(line);
  }
  return out;
}

function includesAll(actual: string[], expected: string[]): void {
  for (const line of expected)
    assert.ok(actual.includes(line), `missing ${line} in\n${actual.join("\n")}`);
}

const opts = (mailboxZone: string) => ({ mailboxZone, attachmentMaxBytes: 1000 });

describe("a weekly series with one moved and one cancelled occurrence", () => {
  // Microsoft's documented series master: Mondays 12:00-14:00 Pacific, Sep 4 to Dec 31 2017.
  const master = graphExample("user-post-events-recurring-weekly-enddate.http").body as GraphEvent;
  // Its occurrences as /instances lists them, in UTC: 19:00Z under daylight-saving time, 20:00Z
  // after it ends on Nov 5. Oct 16 was cancelled (no instance); Oct 23 moved to Tuesday Oct 24.
  const slots = [
    "2017-09-04T19:00:00Z",
    "2017-09-11T19:00:00Z",
    "2017-09-18T19:00:00Z",
    "2017-09-25T19:00:00Z",
    "2017-10-02T19:00:00Z",
    "2017-10-09T19:00:00Z",
    "2017-10-23T19:00:00Z",
    "2017-10-30T19:00:00Z",
    "2017-11-06T20:00:00Z",
    "2017-11-13T20:00:00Z",
    "2017-11-20T20:00:00Z",
    "2017-11-27T20:00:00Z",
    "2017-12-04T20:00:00Z",
    "2017-12-11T20:00:00Z",
    "2017-12-18T20:00:00Z",
    "2017-12-25T20:00:00Z",
  ];
  const instances: GraphEvent[] = slots.map((slot) => {
    const moved = slot.startsWith("2017-10-23");
    return {
      id: `occ-${slot}`,
      type: moved ? "exception" : "occurrence",
      seriesMasterId: master.id,
      originalStart: slot,
      subject: moved ? "Let's go for lunch (moved)" : master.subject,
      start: {
        dateTime: moved ? "2017-10-24T13:00:00.0000000" : slot.slice(0, 19),
        timeZone: moved ? "Pacific Standard Time" : "UTC",
      },
      end: {
        dateTime: moved ? "2017-10-24T15:00:00.0000000" : slot.slice(0, 19),
        timeZone: moved ? "Pacific Standard Time" : "UTC",
      },
      iCalUId: `own-uid-of-${slot}`,
    };
  });
  const window = { start: new Date("2017-01-01T00:00:00Z"), end: new Date("2018-06-01T00:00:00Z") };
  const result = eventToICalendar(
    { event: master, instances, window },
    opts("Pacific Standard Time"),
  );
  const [main, override, ...rest] = vevents(result.text);

  it("keeps the series in wall time with its TZID and VTIMEZONE, and its end date as UNTIL", () => {
    const all = lines(result.text);
    assert.equal(all[0], "BEGIN:VCALENDAR");
    includesAll(all, [
      "VERSION:2.0",
      "BEGIN:VTIMEZONE",
      "TZID:America/Los_Angeles",
      "END:VTIMEZONE",
    ]);
    assert.ok(
      all.indexOf("END:VTIMEZONE") < all.indexOf("BEGIN:VEVENT"),
      "the VTIMEZONE comes first",
    );
    includesAll(main!, [
      "UID:040000008200E00074C5B7101A82E0080000000028CEBE04293FD3010000000000000000100000009F85AB8AF8ED4D4FAC777FA89954BDB7",
      "DTSTART;TZID=America/Los_Angeles:20170904T120000",
      "DTEND;TZID=America/Los_Angeles:20170904T140000",
      "RRULE:FREQ=WEEKLY;BYDAY=MO;UNTIL=20180101T075959Z;WKST=SU",
    ]);
    assert.equal(
      result.uid,
      "040000008200E00074C5B7101A82E0080000000028CEBE04293FD3010000000000000000100000009F85AB8AF8ED4D4FAC777FA89954BDB7",
    );
  });

  it("writes the cancelled occurrence as the one EXDATE, even across the change of daylight-saving time", () => {
    assert.deepEqual(
      main!.filter((l) => l.startsWith("EXDATE")),
      ["EXDATE;TZID=America/Los_Angeles:20171016T120000"],
    );
  });

  it("writes the moved occurrence as an override under the master's UID, not its own", () => {
    assert.deepEqual(rest, []);
    includesAll(override!, [
      "UID:040000008200E00074C5B7101A82E0080000000028CEBE04293FD3010000000000000000100000009F85AB8AF8ED4D4FAC777FA89954BDB7",
      "RECURRENCE-ID;TZID=America/Los_Angeles:20171023T120000",
      "DTSTART;TZID=America/Los_Angeles:20171024T130000",
      "DTEND;TZID=America/Los_Angeles:20171024T150000",
      "SUMMARY:Let's go for lunch (moved)",
    ]);
    assert.ok(!override!.some((l) => l.startsWith("RRULE")));
  });

  it("carries the organizer and attendee without scheduling, the reminder, location, body and show-as", () => {
    includesAll(main!, [
      "SUMMARY:Let's go for lunch",
      "DESCRIPTION:Does late morning work for you?",
      "LOCATION:Harry's Bar",
      "CLASS:PUBLIC",
      "TRANSP:OPAQUE",
      "X-MICROSOFT-CDO-BUSYSTATUS:BUSY",
      "PRIORITY:5",
      "ORGANIZER;CN=Alex Wilber;SCHEDULE-AGENT=CLIENT:mailto:AlexW@contoso.onmicrosoft.com",
      "ATTENDEE;CN=Adele Vance;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;SCHEDULE-AGENT=CLIENT:mailto:AdeleV@contoso.onmicrosoft.com",
      "CREATED:20171007T045912Z",
      "LAST-MODIFIED:20171007T045913Z",
      "DTSTAMP:20171007T045913Z",
      "BEGIN:VALARM",
      "ACTION:DISPLAY",
      "TRIGGER:-PT15M",
    ]);
    assert.deepEqual(result.losses, []);
    assert.equal(result.label, "Let's go for lunch (2017-09-04)");
  });

  it("converts the same input to the same text (a rerun sees no change)", () => {
    assert.equal(
      eventToICalendar({ event: master, instances, window }, opts("Pacific Standard Time")).text,
      result.text,
    );
  });

  it("finds no cancellation outside the window it was given", () => {
    const narrow = {
      start: new Date("2017-11-01T00:00:00Z"),
      end: new Date("2018-06-01T00:00:00Z"),
    };
    const later = instances.filter((i) => i.originalStart! >= "2017-11");
    const text = eventToICalendar(
      { event: master, instances: later, window: narrow },
      opts("Pacific Standard Time"),
    ).text;
    assert.ok(!text.includes("EXDATE"), text);
  });
});

describe("an all-day event across the March daylight-saving change", () => {
  const base: GraphEvent = {
    id: "allday-1",
    iCalUId: "allday-uid",
    subject: "Séminaire à Lyon",
    isAllDay: true,
    originalStartTimeZone: "Romance Standard Time",
    originalEndTimeZone: "Romance Standard Time",
  };

  it("takes its dates from its own zone, not from the UTC instant (which is the day before)", () => {
    // Sat Mar 28 to Mon Mar 30 2026 (exclusive) in Paris, read without Prefer: UTC values.
    const event = {
      ...base,
      start: { dateTime: "2026-03-27T23:00:00.0000000", timeZone: "UTC" },
      end: { dateTime: "2026-03-29T22:00:00.0000000", timeZone: "UTC" },
    };
    const [vevent] = vevents(eventToICalendar({ event }, opts("Romance Standard Time")).text);
    includesAll(vevent!, [
      "DTSTART;VALUE=DATE:20260328",
      "DTEND;VALUE=DATE:20260330",
      "SUMMARY:Séminaire à Lyon",
    ]);
  });

  it("reads the same dates when Graph gave them in the mailbox's zone", () => {
    const event = {
      ...base,
      start: { dateTime: "2026-03-28T00:00:00.0000000", timeZone: "Romance Standard Time" },
      end: { dateTime: "2026-03-30T00:00:00.0000000", timeZone: "Romance Standard Time" },
    };
    const result = eventToICalendar({ event }, opts("Romance Standard Time"));
    includesAll(vevents(result.text)[0]!, [
      "DTSTART;VALUE=DATE:20260328",
      "DTEND;VALUE=DATE:20260330",
    ]);
    assert.ok(!result.text.includes("VTIMEZONE"), "dates need no VTIMEZONE");
  });
});

describe("a private event with categories and an online meeting", () => {
  const event: GraphEvent = {
    id: "private-1",
    iCalUId: "private-uid",
    subject: "Rendez-vous médical",
    sensitivity: "private",
    showAs: "free",
    importance: "high",
    categories: ["Personnel", "Santé"],
    isReminderOn: false,
    reminderMinutesBeforeStart: 15,
    isOnlineMeeting: true,
    onlineMeeting: { joinUrl: "https://teams.microsoft.com/l/meetup-join/19%3ameeting_x" },
    body: {
      contentType: "text",
      content: "Apporter la carte Vitale; ordonnance, résultats\r\nSecond line",
    },
    start: { dateTime: "2026-04-14T10:30:00.0000000", timeZone: "Romance Standard Time" },
    end: { dateTime: "2026-04-14T11:00:00.0000000", timeZone: "Romance Standard Time" },
    originalStartTimeZone: "Romance Standard Time",
    originalEndTimeZone: "Romance Standard Time",
  };
  const [vevent] = vevents(eventToICalendar({ event }, opts("Romance Standard Time")).text);

  it("is CLASS:PRIVATE, free (TRANSPARENT), high priority, with its categories and accents", () => {
    includesAll(vevent!, [
      "CLASS:PRIVATE",
      "TRANSP:TRANSPARENT",
      "X-MICROSOFT-CDO-BUSYSTATUS:FREE",
      "PRIORITY:1",
      "CATEGORIES:Personnel,Santé",
      "SUMMARY:Rendez-vous médical",
      "DESCRIPTION:Apporter la carte Vitale\\; ordonnance\\, résultats\\nSecond line",
      "DTSTART;TZID=Europe/Paris:20260414T103000",
      "URL:https://teams.microsoft.com/l/meetup-join/19%3ameeting_x",
      "X-MICROSOFT-SKYPETEAMSMEETINGURL:https://teams.microsoft.com/l/meetup-join/19%3ameeting_x",
    ]);
  });

  it("has no alarm when the reminder is off, and no organizer without attendees", () => {
    assert.ok(!vevent!.includes("BEGIN:VALARM"));
    assert.ok(!vevent!.some((l) => l.startsWith("ORGANIZER")));
  });
});

describe("a meeting from the documented list with Prefer: outlook.timezone", () => {
  const [event] = (
    graphExample("user-list-events-prefer-timezone.http").body as { value: GraphEvent[] }
  ).value;

  it("keeps the requested zone's wall time, each attendee with its response and no scheduling, and the HTML body as text", () => {
    const result = eventToICalendar({ event: event! }, opts("Pacific Standard Time"));
    includesAll(vevents(result.text)[0]!, [
      "UID:AAMkAGIAAAoZDOFAAA=",
      "DTSTART;TZID=America/Los_Angeles:20170421T100000",
      "DTEND;TZID=America/Los_Angeles:20170421T120000",
      "DESCRIPTION:Dana\\, this is the time you selected for our orientation. Please bring the notes I sent you.",
      "ATTENDEE;CN=Samantha Booth;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;SCHEDULE-AGENT=CLIENT:mailto:samanthab@a830edad905084922E17020313.onmicrosoft.com",
      "ATTENDEE;CN=Dana Swope;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;SCHEDULE-AGENT=CLIENT:mailto:danas@a830edad905084922E17020313.onmicrosoft.com",
      "ORGANIZER;CN=Samantha Booth;SCHEDULE-AGENT=CLIENT:mailto:samanthab@a830edad905084922E17020313.onmicrosoft.com",
    ]);
  });

  it("maps every response and attendee type", () => {
    const meeting: GraphEvent = {
      ...event!,
      attendees: [
        {
          type: "required",
          status: { response: "accepted" },
          emailAddress: { name: "A", address: "a@contoso.test" },
        },
        {
          type: "optional",
          status: { response: "tentativelyAccepted" },
          emailAddress: { name: "B", address: "b@contoso.test" },
        },
        {
          type: "required",
          status: { response: "declined" },
          emailAddress: { address: "c@contoso.test" },
        },
        {
          type: "resource",
          status: { response: "notResponded" },
          emailAddress: { name: "Salle Été", address: "salle@contoso.test" },
        },
      ],
    };
    const attendees = vevents(
      eventToICalendar({ event: meeting }, opts("Pacific Standard Time")).text,
    )[0]!.filter((l) => l.startsWith("ATTENDEE"));
    assert.deepEqual(attendees, [
      "ATTENDEE;CN=A;ROLE=REQ-PARTICIPANT;PARTSTAT=ACCEPTED;SCHEDULE-AGENT=CLIENT:mailto:a@contoso.test",
      "ATTENDEE;CN=B;ROLE=OPT-PARTICIPANT;PARTSTAT=TENTATIVE;SCHEDULE-AGENT=CLIENT:mailto:b@contoso.test",
      "ATTENDEE;ROLE=REQ-PARTICIPANT;PARTSTAT=DECLINED;SCHEDULE-AGENT=CLIENT:mailto:c@contoso.test",
      "ATTENDEE;CN=Salle Été;CUTYPE=RESOURCE;ROLE=NON-PARTICIPANT;PARTSTAT=NEEDS-ACTION;SCHEDULE-AGENT=CLIENT:mailto:salle@contoso.test",
    ]);
  });
});

describe("attachments", () => {
  const event: GraphEvent = {
    id: "att-1",
    subject: "Budget",
    start: { dateTime: "2026-05-04T09:00:00.0000000", timeZone: "UTC" },
    end: { dateTime: "2026-05-04T10:00:00.0000000", timeZone: "UTC" },
    originalStartTimeZone: "UTC",
  };
  const attachments = [
    {
      "@odata.type": "#microsoft.graph.fileAttachment",
      name: "ordre du jour.txt",
      contentType: "text/plain",
      size: 5,
      contentBytes: "aGVsbG8=",
    },
    {
      "@odata.type": "#microsoft.graph.fileAttachment",
      name: "plans.pdf",
      contentType: "application/pdf",
      size: 2_000_000,
      contentBytes: "JVBERi0=",
    },
    { "@odata.type": "#microsoft.graph.itemAttachment", name: "Invitation transférée" },
  ];

  it("embeds a file under the size limit and names the others in the losses", () => {
    const result = eventToICalendar({ event, attachments }, opts("UTC"));
    const vevent = vevents(result.text)[0]!;
    assert.deepEqual(
      vevent.filter((l) => l.startsWith("ATTACH")),
      [
        "ATTACH;ENCODING=BASE64;FMTTYPE=text/plain;X-FILENAME=ordre du jour.txt;VALUE=BINARY:aGVsbG8=",
      ],
    );
    includesAll(vevent, ["DTSTART:20260504T090000Z", "DTEND:20260504T100000Z"]);
    assert.deepEqual(result.losses, [
      'attachment "plans.pdf" of "Budget": 2000000 bytes, over ATTACHMENT_MAX_SIZE',
      'attachment "Invitation transférée" of "Budget": an attached Outlook item or a cloud link has no file to copy',
    ]);
  });
});

describe("time zones Exchange names that are not Windows ones", () => {
  it("writes an unknown custom zone in the mailbox's zone and says so", () => {
    const event: GraphEvent = {
      id: "custom-1",
      subject: "Vol",
      originalStartTimeZone: "Customized Time Zone",
      start: { dateTime: "2026-06-01T08:00:00.0000000", timeZone: "Romance Standard Time" },
      end: { dateTime: "2026-06-01T10:00:00.0000000", timeZone: "Romance Standard Time" },
    };
    const result = eventToICalendar({ event }, opts("Romance Standard Time"));
    includesAll(vevents(result.text)[0]!, ["DTSTART;TZID=Europe/Paris:20260601T080000"]);
    assert.deepEqual(result.losses, [
      '"Vol": time zone "Customized Time Zone" is unknown, its times are written in Europe/Paris',
    ]);
  });
});

describe("instances Graph gave without their original start (the documented $select)", () => {
  // Microsoft's documented instances: Mondays 20:30 UTC, Apr 8 to 29 2019, Apr 15 moved to Apr 16.
  const { value: instances } = graphExample("event-list-instances-exception.http").body as {
    value: GraphEvent[];
  };
  const master: GraphEvent = {
    id: "AAMkAGUzYRgWAAA=",
    iCalUId: "review-q3",
    type: "seriesMaster",
    subject: "Review strategy for Q3",
    start: { dateTime: "2019-04-08T20:30:00.0000000", timeZone: "UTC" },
    end: { dateTime: "2019-04-08T21:00:00.0000000", timeZone: "UTC" },
    originalStartTimeZone: "UTC",
    recurrence: {
      pattern: { type: "weekly", interval: 1, daysOfWeek: ["monday"], firstDayOfWeek: "sunday" },
      range: {
        type: "endDate",
        startDate: "2019-04-08",
        endDate: "2019-04-29",
        recurrenceTimeZone: "UTC",
      },
    },
  };
  const window = { start: new Date("2019-04-08T09:00:00Z"), end: new Date("2019-04-30T09:00:00Z") };

  it("writes no EXDATE, since the moved occurrence's slot is unknown, and says the override is lost", () => {
    const result = eventToICalendar({ event: master, instances, window }, opts("UTC"));
    assert.ok(!result.text.includes("EXDATE"), result.text);
    assert.equal(vevents(result.text).length, 1);
    assert.deepEqual(result.losses, [
      '"Review strategy for Q3": a changed occurrence (Review strategy for Q3) came without its original start, so it is not carried, and no cancelled occurrence is written',
    ]);
  });

  it("finds a cancelled slot from plain occurrences' starts when no exception is in the way", () => {
    const occurrences = instances.filter(
      (i) => i.type === "occurrence" && !i.start!.dateTime.startsWith("2019-04-22"),
    );
    const text = eventToICalendar(
      { event: master, instances: occurrences, window },
      opts("UTC"),
    ).text;
    assert.deepEqual(
      vevents(text)[0]!.filter((l) => l.startsWith("EXDATE")),
      ["EXDATE:20190415T203000Z", "EXDATE:20190422T203000Z"],
    );
  });

  it("writes no EXDATE when Graph listed no instance at all", () => {
    assert.ok(
      !eventToICalendar({ event: master, instances: [], window }, opts("UTC")).text.includes(
        "EXDATE",
      ),
    );
  });
});
