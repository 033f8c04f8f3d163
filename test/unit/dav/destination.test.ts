// The DAV destination against a real Radicale: discovery, the default collections, collections
// created with their accents, items stored, listed, updated and removed, reruns, and how a wrong
// password and a stopped server are classified. Read-backs use plain requests, not the code under test.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { freePort } from "../../../scripts/standin/ports.js";
import { DavDestination } from "../../../src/dav/destination.js";
import { classifyDavFailure, DavError } from "../../../src/dav/failure.js";
import { FOURNISSEURS, PROJETS, sourceItem as item } from "../../helpers/items.js";
import { startRadicale, type Radicale } from "../../helpers/radicale.js";

const ALICE = { user: "alice@contoso.test", password: "pâssword:1" };
const BOB = { user: "bob@contoso.test", password: "bob-secret" };
const CAROL = { user: "carol@contoso.test", password: "carol-secret" };
const DAN = { user: "dan@contoso.test", password: "dan-secret" };

const EVENT = (summary: string) =>
  [
    "BEGIN:VCALENDAR",
    "VERSION:2.0",
    "PRODID:-//m365-imapsync//test//EN",
    "BEGIN:VEVENT",
    "UID:040000008200E00074C5B7101A82E008-réunion",
    "DTSTAMP:20261201T090000Z",
    "DTSTART:20261208T090000Z",
    "DTEND:20261208T100000Z",
    `SUMMARY:${summary}`,
    "ORGANIZER;SCHEDULE-AGENT=CLIENT:mailto:alice@contoso.test",
    "ATTENDEE;SCHEDULE-AGENT=CLIENT;PARTSTAT=ACCEPTED:mailto:bob@contoso.test",
    "END:VEVENT",
    "END:VCALENDAR",
    "",
  ].join("\r\n");

const CONTACT = [
  "BEGIN:VCARD",
  "VERSION:3.0",
  "UID:contact-zoé-1",
  "FN:Zoé Dupont",
  "N:Dupont;Zoé;;;",
  "EMAIL;TYPE=INTERNET:zoe@fournisseur.test",
  "END:VCARD",
  "",
].join("\r\n");

const EVENT_UID = "040000008200E00074C5B7101A82E008-réunion";

/** A plain request as another client would send it. */
async function request(
  url: string,
  login: { user: string; password: string },
  method: string,
  body?: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; text: string }> {
  const auth = Buffer.from(`${login.user}:${login.password}`, "utf8").toString("base64");
  const response = await fetch(url, {
    method,
    body,
    headers: { Authorization: `Basic ${auth}`, "Content-Type": "application/xml", ...headers },
  });
  return { status: response.status, text: await response.text() };
}

const DISPLAYNAME = (name: string) =>
  `<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:"><D:prop><D:displayname/></D:prop></D:propfind>${name}`;

describe("DavDestination against Radicale", () => {
  let radicale: Radicale;
  before(async () => {
    radicale = await startRadicale(
      Object.fromEntries([ALICE, BOB, CAROL, DAN].map((l) => [l.user, l.password])),
    );
  });
  after(async () => {
    await radicale?.stop();
  });

  it("discovers each home from the server's root", async () => {
    const dav = new DavDestination({ url: radicale.url }, ALICE);
    const expected = `${radicale.url}alice%40contoso.test/`;
    assert.equal(await dav.home("calendar"), expected);
    assert.equal(await dav.home("contacts"), expected);
  });

  it("takes a fixed home, {user} standing for the address", async () => {
    const dav = new DavDestination(
      { url: radicale.url, calendarHome: `${radicale.url}{user}` },
      ALICE,
    );
    assert.equal(await dav.home("calendar"), `${radicale.url}alice%40contoso.test/`);
  });

  it("maps the source's defaults to the server's own default collections", async () => {
    // As Nextcloud makes them for a new account: a calendar "personal", an address book "contacts".
    const home = `${radicale.url}bob%40contoso.test/`;
    const mkcalendar = await request(
      `${home}personal/`,
      BOB,
      "MKCALENDAR",
      '<?xml version="1.0" encoding="utf-8"?><C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop><D:displayname>Personal</D:displayname></D:prop></D:set></C:mkcalendar>',
    );
    assert.equal(mkcalendar.status, 201);
    const mkcol = await request(
      `${home}contacts/`,
      BOB,
      "MKCOL",
      '<?xml version="1.0" encoding="utf-8"?><D:mkcol xmlns:D="DAV:" xmlns:CR="urn:ietf:params:xml:ns:carddav"><D:set><D:prop><D:resourcetype><D:collection/><CR:addressbook/></D:resourcetype><D:displayname>Contacts</D:displayname></D:prop></D:set></D:mkcol>',
    );
    assert.equal(mkcol.status, 201);
    const dav = new DavDestination({ url: radicale.url }, BOB);
    // A non-default one first: it must not become the default.
    const other = await dav.ensure({
      kind: "calendar",
      id: "c2",
      name: "Équipe",
      isDefault: false,
    });
    const calendar = await dav.ensure({
      kind: "calendar",
      id: "c1",
      name: "Calendrier",
      isDefault: true,
    });
    const contacts = await dav.ensure({
      kind: "contacts",
      id: "f1",
      name: "Contacts",
      isDefault: true,
    });
    assert.equal(calendar.location, `${radicale.url}bob@contoso.test/personal/`);
    assert.equal(contacts.location, `${radicale.url}bob@contoso.test/contacts/`);
    assert.equal(other.location, `${radicale.url}bob@contoso.test/equipe/`);
  });

  it("creates the default where the server has none, and finds it again on a rerun", async () => {
    const source = { kind: "calendar", id: "c1", name: "Calendrier", isDefault: true } as const;
    const first = await new DavDestination({ url: radicale.url }, CAROL).ensure(source);
    assert.equal(first.location, `${radicale.url}carol@contoso.test/calendar/`);
    // The mailbox's language changed since: its default calendar has another name.
    const renamed = { ...source, name: "Calendar" };
    const again = await new DavDestination({ url: radicale.url }, CAROL).ensure(renamed);
    assert.equal(again.location, first.location);
    const contacts = { kind: "contacts", id: "f1", name: "Contacts", isDefault: true } as const;
    const book = await new DavDestination({ url: radicale.url }, CAROL).ensure(contacts);
    assert.equal(book.location, `${radicale.url}carol@contoso.test/contacts/`);
  });

  it("never takes a collection an earlier run made for another source collection as the default", async () => {
    // A run that stopped after "Projets Été" and before the default calendar.
    const stopped = new DavDestination({ url: radicale.url }, DAN);
    assert.equal(
      (await stopped.ensure(PROJETS)).location,
      `${radicale.url}dan@contoso.test/projets-ete/`,
    );
    const rerun = new DavDestination({ url: radicale.url }, DAN);
    const calendar = await rerun.ensure({
      kind: "calendar",
      id: "c1",
      name: "Calendar",
      isDefault: true,
    });
    assert.equal(calendar.location, `${radicale.url}dan@contoso.test/calendar/`);
  });

  it("creates a calendar and an address book with their accented names, once", async () => {
    const dav = new DavDestination({ url: radicale.url }, ALICE);
    const projets = await dav.ensure(PROJETS);
    const fournisseurs = await dav.ensure(FOURNISSEURS);
    assert.equal(projets.location, `${radicale.url}alice@contoso.test/projets-ete/`);
    assert.equal(fournisseurs.location, `${radicale.url}alice@contoso.test/fournisseurs/`);
    const names = await request(
      `${radicale.url}alice%40contoso.test/`,
      ALICE,
      "PROPFIND",
      DISPLAYNAME(""),
      { Depth: "1" },
    );
    assert.match(names.text, /<displayname>Projets Été<\/displayname>/);
    assert.match(names.text, /<displayname>Fournisseurs<\/displayname>/);
    const rerun = new DavDestination({ url: radicale.url }, ALICE);
    const again = await rerun.ensure(PROJETS);
    assert.equal(again.location, projets.location);
    const after = await request(
      `${radicale.url}alice%40contoso.test/`,
      ALICE,
      "PROPFIND",
      DISPLAYNAME(""),
      { Depth: "1" },
    );
    assert.equal(after.text.split("<displayname>Projets Été</displayname>").length - 1, 1);
  });

  it("stores, lists, updates and removes an event and a contact", async () => {
    const dav = new DavDestination({ url: radicale.url }, ALICE);
    const calendar = await dav.ensure(PROJETS);
    const contacts = await dav.ensure(FOURNISSEURS);
    assert.equal((await dav.list(calendar)).size, 0);
    const stored = await dav.put(calendar, item(EVENT_UID, EVENT("Réunion d'été")));
    const card = await dav.put(contacts, item("contact-zoé-1", CONTACT));
    assert.deepEqual(await dav.list(calendar), new Map([[EVENT_UID, stored]]));
    assert.deepEqual(await dav.list(contacts), new Map([["contact-zoé-1", card]]));
    const got = await request(
      `${calendar.location.replace("alice@", "alice%40")}`,
      ALICE,
      "PROPFIND",
      undefined,
      { Depth: "1" },
    );
    assert.equal(got.text.split(".ics</href>").length - 1, 1);

    const updated = await dav.put(calendar, item(EVENT_UID, EVENT("Réunion déplacée")));
    assert.notEqual(updated.etag, stored.etag);
    assert.deepEqual(await dav.list(calendar), new Map([[EVENT_UID, updated]]));

    await dav.remove(calendar, EVENT_UID);
    await dav.remove(contacts, "contact-zoé-1");
    assert.equal((await dav.list(calendar)).size, 0);
    assert.equal((await dav.list(contacts)).size, 0);
  });

  it("a rerun that puts the same UID without listing first leaves one item", async () => {
    const first = new DavDestination({ url: radicale.url }, ALICE);
    await first.put(await first.ensure(PROJETS), item(EVENT_UID, EVENT("Première")));
    const rerun = new DavDestination({ url: radicale.url }, ALICE);
    const calendar = await rerun.ensure(PROJETS);
    const stored = await rerun.put(calendar, item(EVENT_UID, EVENT("Seconde")));
    const listed = await rerun.list(calendar);
    assert.deepEqual([...listed.keys()], [EVENT_UID]);
    assert.equal(listed.get(EVENT_UID)?.etag, stored.etag);
  });

  it("stores every organizer and attendee with SCHEDULE-AGENT=CLIENT", async () => {
    const dav = new DavDestination({ url: radicale.url }, CAROL);
    const calendar = await dav.ensure(PROJETS);
    const plain = EVENT("Sans paramètre").replaceAll(";SCHEDULE-AGENT=CLIENT", "");
    assert.doesNotMatch(plain, /SCHEDULE-AGENT/);
    await dav.put(calendar, item(EVENT_UID, plain));
    const listing = await request(
      calendar.location.replace("carol@", "carol%40"),
      CAROL,
      "PROPFIND",
      undefined,
      {
        Depth: "1",
      },
    );
    const href = /<href>([^<]+\.ics)<\/href>/.exec(listing.text)?.[1];
    assert.ok(href, listing.text);
    const got = (await request(new URL(href, radicale.url).href, CAROL, "GET")).text.replace(
      /\r\n[ \t]/g,
      "",
    );
    assert.match(got, /\r\nORGANIZER;SCHEDULE-AGENT=CLIENT:mailto:alice@contoso\.test\r\n/);
    assert.match(
      got,
      /\r\nATTENDEE;PARTSTAT=ACCEPTED;SCHEDULE-AGENT=CLIENT:mailto:bob@contoso\.test\r\n/,
    );
  });

  it("overwrites in place an item that another client stored under another name", async () => {
    const dav = new DavDestination({ url: radicale.url }, BOB);
    const calendar = await dav.ensure(PROJETS);
    const theirs = `${calendar.location.replace("bob@", "bob%40")}imported-by-thunderbird.ics`;
    const put = await request(theirs, BOB, "PUT", EVENT("Importé à la main"), {
      "Content-Type": "text/calendar; charset=utf-8",
    });
    assert.equal(put.status, 201);
    const stored = await dav.put(calendar, item(EVENT_UID, EVENT("Migré")));
    assert.deepEqual(await dav.list(calendar), new Map([[EVENT_UID, stored]]));
    const got = await request(theirs, BOB, "GET");
    assert.match(got.text, /SUMMARY:Migré/);
  });

  it("a wrong password is the destination's login failure, naming the password file", async () => {
    const dav = new DavDestination({ url: radicale.url }, { ...ALICE, password: "wrong" });
    const error = await dav.home("calendar").then(
      () => assert.fail("the login should be refused"),
      (e: unknown) => e,
    );
    assert.ok(error instanceof DavError, String(error));
    const c = classifyDavFailure(error);
    assert.equal(c.class, "auth_failed_destination");
    assert.equal(c.lostConnection, false);
    assert.match(c.remedy, /alice@contoso\.test/);
    assert.match(c.remedy, /password_file/);
    assert.doesNotMatch(JSON.stringify({ ...error, message: error.message }), /wrong/);
  });

  it("a server that does not answer is the network class, retried", async () => {
    const port = await freePort();
    const dav = new DavDestination({ url: `http://127.0.0.1:${port}/` }, ALICE);
    const error = await dav.home("contacts").then(
      () => assert.fail("nothing listens there"),
      (e: unknown) => e,
    );
    assert.ok(error instanceof DavError, String(error));
    const c = classifyDavFailure(error);
    assert.equal(c.class, "connect_failed_destination");
    assert.equal(c.lostConnection, true);
    assert.match(c.remedy, /ECONNREFUSED/);
    assert.match(c.remedy, /DAV_URL/);
  });
});
