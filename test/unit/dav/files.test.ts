// The file destination: one .ics per calendar, one .vcf per contact folder, read back by a rerun.
import assert from "node:assert/strict";
import { readdir, readFile, rm, stat } from "node:fs/promises";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { FileDestination, safeFileName } from "../../../src/dav/files.js";
import { tempDir } from "../../helpers/env.js";
import { FOURNISSEURS, PROJETS, sourceItem as item } from "../../helpers/items.js";

const PARIS = [
  "BEGIN:VTIMEZONE",
  "TZID:Europe/Paris",
  "BEGIN:STANDARD",
  "DTSTART:19701025T030000",
  "TZOFFSETFROM:+0200",
  "TZOFFSETTO:+0100",
  "END:STANDARD",
  "END:VTIMEZONE",
];

function calendar(...lines: string[]): string {
  return [
    "BEGIN:VCALENDAR",
    "VERSION:2.0",
    "PRODID:-//test//EN",
    ...PARIS,
    ...lines,
    "END:VCALENDAR",
    "",
  ].join("\r\n");
}

const SERIES = calendar(
  "BEGIN:VEVENT",
  "UID:series-1",
  "DTSTAMP:20261201T090000Z",
  "DTSTART;TZID=Europe/Paris:20261207T100000",
  "RRULE:FREQ=WEEKLY;COUNT=4",
  "SUMMARY:Point d'équipe",
  "END:VEVENT",
  "BEGIN:VEVENT",
  "UID:series-1",
  "DTSTAMP:20261201T090000Z",
  "RECURRENCE-ID;TZID=Europe/Paris:20261214T100000",
  "DTSTART;TZID=Europe/Paris:20261214T150000",
  "SUMMARY:Point d'équipe (déplacé)",
  "END:VEVENT",
);
const SINGLE = calendar(
  "BEGIN:VEVENT",
  "UID:single-2",
  "DTSTAMP:20261201T090000Z",
  "DTSTART;TZID=Europe/Paris:20261209T090000",
  "SUMMARY:Visite",
  "END:VEVENT",
);
const card = (uid: string, name: string) =>
  [
    "BEGIN:VCARD",
    "VERSION:3.0",
    `UID:${uid}`,
    `FN:${name}`,
    "PHOTO;ENCODING=b;TYPE=JPEG:/9j/4AAQ",
    "END:VCARD",
    "",
  ].join("\r\n");

const count = (text: string, what: string) => text.split(what).length - 1;

describe("FileDestination", () => {
  let dir: string;
  before(async () => {
    dir = await tempDir("files-destination-");
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it("writes one file per collection, a calendar's time zone once, and reads them back", async () => {
    const files = new FileDestination(dir);
    const projets = await files.ensure(PROJETS);
    const fournisseurs = await files.ensure(FOURNISSEURS);
    const series = await files.put(projets, item("series-1", SERIES));
    const single = await files.put(projets, item("single-2", SINGLE));
    const zoe = await files.put(fournisseurs, item("zoe", card("zoe", "Zoé Dupont")));
    await files.put(fournisseurs, item("marc", card("marc", "Marc Noël")));
    await files.close();

    assert.deepEqual((await readdir(dir)).sort(), [
      "Contacts - Fournisseurs.vcf",
      "Projets Été.ics",
    ]);
    assert.equal(projets.location, path.join(dir, "Projets Été.ics"));
    const ics = await readFile(projets.location, "utf8");
    assert.equal(count(ics, "BEGIN:VCALENDAR"), 1);
    assert.equal(count(ics, "BEGIN:VTIMEZONE"), 1);
    assert.equal(count(ics, "BEGIN:VEVENT"), 3);
    assert.match(ics, /RECURRENCE-ID;TZID=Europe\/Paris:20261214T100000\r\n/);
    assert.equal(count(ics, "\n"), count(ics, "\r\n"));
    const vcf = await readFile(fournisseurs.location, "utf8");
    assert.equal(count(vcf, "BEGIN:VCARD"), 2);
    assert.match(vcf, /FN:Zoé Dupont\r\n/);
    assert.equal((await stat(fournisseurs.location)).mode & 0o777, 0o600);

    const rerun = new FileDestination(dir);
    const again = await rerun.ensure(PROJETS);
    assert.deepEqual(
      await rerun.list(again),
      new Map([
        ["series-1", series],
        ["single-2", single],
      ]),
    );
    const contacts = await rerun.ensure(FOURNISSEURS);
    assert.deepEqual((await rerun.list(contacts)).get("zoe"), zoe);
    await rerun.remove(again, "single-2");
    await rerun.close();
    const after = await readFile(projets.location, "utf8");
    assert.equal(count(after, "BEGIN:VEVENT"), 2);
    assert.doesNotMatch(after, /single-2/);
  });

  it("names files safely and keeps accents", () => {
    assert.equal(safeFileName("Projets Été", "calendar"), "Projets Été.ics");
    assert.equal(safeFileName("Proje\u0301ts", "calendar"), "Projéts.ics");
    assert.equal(safeFileName('R&D: "Q1"?', "contacts"), "R&D_ _Q1__.vcf");
    assert.equal(safeFileName("CON", "calendar"), "_CON.ics");
    assert.equal(safeFileName(" .. ", "contacts"), "Contacts.vcf");
  });
});
