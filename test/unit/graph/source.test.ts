// The Graph source against the Graph stand-in over HTTP: which collections it reads and skips,
// what each item becomes, and how the client meets a refused token, throttling, a denied or
// missing mailbox and the per-mailbox limit. Expected lines written by hand from the seed.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { AUDIENCE } from "../../../scripts/standin/oauth-server.js";
import { GraphError } from "../../../src/graph/errors.js";
import { GraphSource, seriesWindow } from "../../../src/graph/source.js";
import type { GraphWait } from "../../../src/graph/client.js";
import type { SourceCollection, SourceItem } from "../../../src/items/contract.js";
import type { StoredToken } from "../../../src/token/index.js";
import { startGraphWorld, type GraphWorld } from "../../helpers/graph-standin.js";

let world: GraphWorld;
before(async () => {
  world = await startGraphWorld();
});
after(() => world.stop());

const settings = () => ({
  url: world.graph.url,
  calendarWindow: { backYears: 2, aheadYears: 5 },
  attachmentMaxBytes: 1024,
  vcardVersion: "3.0" as const,
});
/** 2026-03-01: the seed's events lie within 2 years back and 5 ahead. */
const NOW = new Date("2026-03-01T12:00:00Z");

function source(
  address: string,
  extra: { first?: StoredToken; onWait?: (w: GraphWait) => void; renewals?: StoredToken[] } = {},
) {
  let current: StoredToken | undefined = extra.first;
  return new GraphSource({
    address,
    settings: settings(),
    now: () => NOW,
    throttleBudgetMs: 60_000,
    onWait: extra.onWait,
    tokens: {
      fresh: async () => (current ??= await world.token()),
      renewAfterExpiry: async () => {
        current = await world.token();
        extra.renewals?.push(current);
        return current;
      },
    },
  });
}

async function all(items: AsyncIterable<SourceItem>): Promise<SourceItem[]> {
  const out: SourceItem[] = [];
  for await (const item of items) out.push(item);
  return out;
}
const unfolded = (item: SourceItem) => item.body.replace(/\r\n[ \t]/g, "").split("\r\n");
function includesAll(item: SourceItem, expected: string[]) {
  const lines = unfolded(item);
  for (const line of expected)
    assert.ok(lines.includes(line), `missing ${line} in\n${lines.join("\n")}`);
}

describe("Graph source: alice's collections", () => {
  it("reads the calendars alice owns and skips the shared, generated and read-only ones, saying why", async () => {
    const { owned, skipped } = await source("alice@contoso.test").collections("calendar");
    assert.deepEqual(owned, [
      { kind: "calendar", id: "cal-alice-default", name: "Calendar", isDefault: true },
      { kind: "calendar", id: "cal-alice-projets", name: "Projets Été", isDefault: false },
    ]);
    assert.deepEqual(
      skipped.map((s) => s.name),
      ["Calendrier de Bob", "Anniversaires", "Jours fériés en France"],
    );
    assert.match(skipped[0]!.reason, /^shared into this mailbox by Bob Durand/);
    assert.match(skipped[1]!.reason, /birthdays/);
    assert.match(skipped[2]!.reason, /read-only/);
  });

  it("reads the default contacts folder and every folder below it, named Parent/Child", async () => {
    const { owned, skipped } = await source("alice@contoso.test").collections("contacts");
    assert.deepEqual(owned, [
      { kind: "contacts", id: "contacts", name: "Contacts", isDefault: true },
      { kind: "contacts", id: "cf-alice-fournisseurs", name: "Fournisseurs", isDefault: false },
      { kind: "contacts", id: "cf-alice-europe", name: "Fournisseurs/Europe", isDefault: false },
    ]);
    assert.deepEqual(skipped, []);
  });
});

describe("Graph source: alice's items", () => {
  const calendar: SourceCollection = {
    kind: "calendar",
    id: "cal-alice-default",
    name: "Calendar",
    isDefault: true,
  };
  let items: SourceItem[];
  before(async () => {
    items = await all(source("alice@contoso.test").items(calendar));
  });
  const bySubject = (s: string) => items.find((i) => i.label.startsWith(s))!;

  it("gives one item per single event or series", () => {
    assert.deepEqual(items.map((i) => i.label).sort(), [
      "Point hebdo équipe (2026-03-02)",
      "Rendez-vous médical (2026-04-14)",
      "Revue de projet Été (2026-04-02)",
      "Séminaire à Lyon (2026-03-28)",
    ]);
    for (const item of items) assert.match(item.version, /^[0-9a-f]{64}$/);
  });

  it("writes the weekly series across the DST change with its moved occurrence and its cancelled one", () => {
    const weekly = bySubject("Point hebdo");
    assert.equal(weekly.uid, "040000008200E00074C5B7101A82E00800000000A1ICEWEEKLY");
    includesAll(weekly, [
      "DTSTART;TZID=Europe/Paris:20260302T090000",
      "RRULE:FREQ=WEEKLY;BYDAY=MO;UNTIL=20260427T215959Z",
      "EXDATE;TZID=Europe/Paris:20260413T090000",
      "RECURRENCE-ID;TZID=Europe/Paris:20260316T090000",
      "DTSTART;TZID=Europe/Paris:20260317T100000",
      "SUMMARY:Point hebdo équipe (décalé)",
      "DESCRIPTION:Ordre du jour : avancement\\, risques.",
      "TZID:Europe/Paris",
    ]);
    assert.equal(unfolded(weekly).filter((l) => l.startsWith("EXDATE")).length, 1);
    assert.equal(unfolded(weekly).filter((l) => l === `UID:${weekly.uid}`).length, 2);
  });

  it("writes the all-day event as dates, the private one CLASS:PRIVATE, the meeting's attendees without scheduling", () => {
    includesAll(bySubject("Séminaire"), [
      "DTSTART;VALUE=DATE:20260328",
      "DTEND;VALUE=DATE:20260330",
      "X-MICROSOFT-CDO-BUSYSTATUS:OOF",
    ]);
    includesAll(bySubject("Rendez-vous"), ["CLASS:PRIVATE", "TRIGGER:-PT1H"]);
    includesAll(bySubject("Revue"), [
      "ORGANIZER;CN=Alice Martin;SCHEDULE-AGENT=CLIENT:mailto:alice@contoso.test",
      "ATTENDEE;CN=Bob Durand;ROLE=REQ-PARTICIPANT;PARTSTAT=ACCEPTED;SCHEDULE-AGENT=CLIENT:mailto:bob@contoso.test",
      "ATTENDEE;CN=Carol Lefèvre;ROLE=OPT-PARTICIPANT;PARTSTAT=TENTATIVE;SCHEDULE-AGENT=CLIENT:mailto:carol@contoso.test",
      "URL:https://teams.microsoft.com/l/meetup-join/19%3ameeting_revue%40thread.v2/0",
      "CATEGORIES:Projets,Équipe",
    ]);
  });

  it("embeds the small file attachment of Projets Été and names the attached item in the losses", async () => {
    const [launch] = await all(
      source("alice@contoso.test").items({
        kind: "calendar",
        id: "cal-alice-projets",
        name: "Projets Été",
        isDefault: false,
      }),
    );
    includesAll(launch!, [
      "ATTACH;ENCODING=BASE64;FMTTYPE=text/plain;X-FILENAME=programme.txt;VALUE=BINARY:UHJvZ3JhbW1lIGRlIGwnw6l0w6kgMjAyNg==",
    ]);
    assert.deepEqual(launch!.losses, [
      'attachment "plans.pdf" of "Lancement des projets d\'été": 2000000 bytes, over ATTACHMENT_MAX_SIZE',
      'attachment "Invitation d\'origine" of "Lancement des projets d\'été": an attached Outlook item or a cloud link has no file to copy',
    ]);
    // Listed without content; only the small file was read whole.
    const asked = world.graph.requests.filter((r) => r.includes("/attachments"));
    assert.ok(asked.some((r) => r.includes("/attachments/att-1")));
    assert.ok(!asked.some((r) => r.includes("/attachments/att-3")), asked.join("\n"));
  });

  it("reads contacts with their photo, every email and phone", async () => {
    const [elodie] = await all(
      source("alice@contoso.test").items({
        kind: "contacts",
        id: "cf-alice-fournisseurs",
        name: "Fournisseurs",
        isDefault: false,
      }),
    );
    includesAll(elodie!, [
      "FN:Élodie Dupont-Lefèvre",
      "EMAIL;TYPE=INTERNET:elodie@fournitures-ete.fr",
      "EMAIL;TYPE=INTERNET:elodie.dupont@exemple.fr",
      "EMAIL;TYPE=INTERNET:e.dupont@exemple.org",
      "TEL;TYPE=WORK,VOICE:+33 4 72 00 00 02",
      "TEL;TYPE=CELL:+33 6 12 34 56 78",
      "ADR;TYPE=HOME:;;3 chemin des Prés;Écully;;69130;France",
      "BDAY;VALUE=DATE:19800517",
    ]);
    assert.ok(unfolded(elodie!).some((l) => l.startsWith("PHOTO;ENCODING=b;TYPE=JPEG:/9j/")));
    const defaults = await all(
      source("alice@contoso.test").items({
        kind: "contacts",
        id: "contacts",
        name: "Contacts",
        isDefault: true,
      }),
    );
    assert.deepEqual(defaults.map((c) => c.label).sort(), ["Jean Martin", "Zoë Durand"]);
  });

  it("kept at most 4 requests in flight for alice, and never met Outlook's concurrency limit", async () => {
    const s = source("alice@contoso.test");
    await Promise.all([
      all(s.items(calendar)),
      all(s.items({ kind: "contacts", id: "contacts", name: "Contacts", isDefault: true })),
      all(
        s.items({
          kind: "contacts",
          id: "cf-alice-fournisseurs",
          name: "Fournisseurs",
          isDefault: false,
        }),
      ),
    ]);
    assert.ok(world.graph.maxInFlight("alice@contoso.test") <= 4);
    assert.ok(!world.graph.requests.some((r) => r.startsWith("429") && r.includes("alice")));
  });
});

describe("Graph source: errors", () => {
  it("waits out throttling (Retry-After) and ends ok, telling each wait", async () => {
    const waits: GraphWait[] = [];
    const { owned } = await source("busy@contoso.test", {
      onWait: (w) => waits.push(w),
    }).collections("calendar");
    assert.equal(owned.length, 1);
    assert.deepEqual(waits, [
      { delayMs: 1000, suggestedMs: 1000, status: 429 },
      { delayMs: 1000, suggestedMs: 1000, status: 429 },
    ]);
  });

  it("gets a new token once when Graph refuses one (an Exchange Online token here)", async () => {
    const renewals: StoredToken[] = [];
    const { owned } = await source("carol@contoso.test", {
      first: await world.token(AUDIENCE),
      renewals,
    }).collections("calendar");
    assert.equal(owned.length, 1);
    assert.equal(renewals.length, 1);
  });

  it("ends not_delegated for a mailbox not granted, mailbox_not_enabled for a user without one", async () => {
    await assert.rejects(
      source("bob@contoso.test").collections("calendar"),
      (e) =>
        e instanceof GraphError &&
        e.runClass === "not_delegated" &&
        e.status === 403 &&
        e.code === "ErrorAccessDenied",
    );
    await assert.rejects(
      source("nomailbox@contoso.test").collections("contacts"),
      (e) => e instanceof GraphError && e.runClass === "mailbox_not_enabled",
    );
  });
});

describe("access: one request per permission a part needs, for check", () => {
  const verdicts = async (address: string, kind: "calendar" | "contacts") =>
    (await source(address).access(kind)).map(
      (a) => `${a.permission.app} ${a.verdict} ${a.said ?? "-"}`,
    );

  it("grants alice every permission, refuses bob each one, and tells a user without a mailbox from an unknown one", async () => {
    assert.deepEqual(await verdicts("alice@contoso.test", "calendar"), [
      "Calendars.Read granted -",
      "MailboxSettings.Read granted -",
    ]);
    assert.deepEqual(await verdicts("alice@contoso.test", "contacts"), ["Contacts.Read granted -"]);
    assert.deepEqual(await verdicts("bob@contoso.test", "contacts"), [
      "Contacts.Read refused 403 ErrorAccessDenied",
    ]);
    assert.deepEqual(await verdicts("nomailbox@contoso.test", "calendar"), [
      "Calendars.Read no_mailbox 404 MailboxNotEnabledForRESTAPI",
      "MailboxSettings.Read no_mailbox 404 MailboxNotEnabledForRESTAPI",
    ]);
    assert.deepEqual(await verdicts("nobody@contoso.test", "contacts"), [
      "Contacts.Read unknown_user 404 ErrorInvalidUser",
    ]);
  });

  it("an unknown user's collections fail with Graph's code, never read as empty", async () => {
    for (const kind of ["calendar", "contacts"] as const)
      await assert.rejects(
        source("nobody@contoso.test").collections(kind),
        (e) =>
          e instanceof GraphError &&
          e.runClass === "other" &&
          e.status === 404 &&
          e.code === "ErrorInvalidUser",
      );
  });

  it("refuses only the permission the app's token lacks, with one cheap request each", async () => {
    world.oauth.setGraphRoles(["Calendars.Read"]);
    try {
      const before = world.graph.requests.length;
      assert.deepEqual(await verdicts("alice@contoso.test", "calendar"), [
        "Calendars.Read granted -",
        "MailboxSettings.Read refused 403 ErrorAccessDenied",
      ]);
      assert.deepEqual(await verdicts("alice@contoso.test", "contacts"), [
        "Contacts.Read refused 403 ErrorAccessDenied",
      ]);
      assert.deepEqual(world.graph.requests.slice(before).sort(), [
        "200 /v1.0/users/alice%40contoso.test/calendars?$top=1&$select=id",
        "403 /v1.0/users/alice%40contoso.test/contactFolders?$top=1&$select=id",
        "403 /v1.0/users/alice%40contoso.test/mailboxSettings",
      ]);
    } finally {
      world.oauth.setGraphRoles(["Calendars.Read", "Contacts.Read", "MailboxSettings.Read"]);
    }
  });
});

describe("the window a series' instances are asked over", () => {
  it("is CALENDAR_WINDOW around today, clipped to the series' own span", () => {
    const window = { backYears: 2, aheadYears: 5 };
    const ended = {
      id: "x",
      recurrence: {
        pattern: { type: "weekly" },
        range: { type: "endDate", startDate: "2026-03-02", endDate: "2026-04-27" },
      },
    };
    assert.deepEqual(seriesWindow(ended, NOW, window), {
      start: new Date("2026-03-01T00:00:00Z"),
      end: new Date("2026-04-29T00:00:00Z"),
    });
    const endless = {
      id: "y",
      recurrence: { pattern: { type: "daily" }, range: { type: "noEnd", startDate: "2015-01-01" } },
    };
    assert.deepEqual(seriesWindow(endless, NOW, window), {
      start: new Date("2024-03-01T12:00:00Z"),
      end: new Date("2031-03-01T12:00:00Z"),
    });
  });
});
