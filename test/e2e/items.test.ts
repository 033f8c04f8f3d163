// Calendars and contacts end to end through the built CLI: the Graph stand-in as the source (its
// OAuth server issues the app's token) and a real Radicale as the CalDAV/CardDAV destination.
// Radicale is read back with plain PROPFIND/REPORT requests parsed by ical.js, code used only here;
// the expected occurrences are written by hand from the seed's description.
import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import ICAL from "ical.js";
import { APP_CLIENT_ID } from "../../scripts/standin/oauth-server.js";
import { runCli, tempDir } from "../helpers/env.js";
import { makeScene, usersAndWorld } from "../helpers/cli-scene.js";
import { graphEnv, startGraphWorld, type GraphWorld } from "../helpers/graph-standin.js";
import { startRadicale, type Radicale } from "../helpers/radicale.js";

const PASSWORDS = {
  "alice@contoso.test": "alice-both-pw",
  "alice@example.net": "alice-dav-pw",
  "bob@example.net": "bob-dav-pw",
  "busy@example.net": "busy-dav-pw",
  "carol@example.net": "carol-dav-pw",
};

let world: GraphWorld;
let radicale: Radicale;
before(async () => {
  world = await startGraphWorld();
  radicale = await startRadicale(PASSWORDS);
});
after(async () => {
  await radicale?.stop();
  await world?.stop();
});

async function dav(method: string, url: string, user: string, body: string, depth = "1") {
  const auth = Buffer.from(`${user}:${PASSWORDS[user as keyof typeof PASSWORDS]}`).toString(
    "base64",
  );
  const response = await fetch(url, {
    method,
    headers: { Authorization: `Basic ${auth}`, Depth: depth, "Content-Type": "application/xml" },
    body,
  });
  assert.ok(response.status < 300, `${method} ${url}: ${response.status}`);
  return response.text();
}

/** Every calendar-data or address-data text of every collection in the user's home. */
async function stored(
  user: string,
  kind: "calendar" | "addressbook",
): Promise<Map<string, string[]>> {
  const home = new URL(`/${user}/`, radicale.url).href;
  const listing = await dav(
    "PROPFIND",
    home,
    user,
    `<?xml version="1.0"?><d:propfind xmlns:d="DAV:"><d:prop><d:resourcetype/><d:displayname/></d:prop></d:propfind>`,
  );
  const hrefs = [...listing.matchAll(/<(?:\w+:)?response>([\s\S]*?)<\/(?:\w+:)?response>/g)]
    .map((m) => m[1]!)
    .filter((r) => new RegExp(`<(?:\\w+:)?${kind}\\s*/>`).test(r))
    .map((r) => /<(?:\w+:)?href>([^<]+)</.exec(r)![1]!);
  const found = new Map<string, string[]>();
  for (const href of hrefs) {
    const report =
      kind === "calendar"
        ? `<?xml version="1.0"?><c:calendar-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:prop><c:calendar-data/></d:prop><c:filter><c:comp-filter name="VCALENDAR"/></c:filter></c:calendar-query>`
        : `<?xml version="1.0"?><c:addressbook-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:carddav"><d:prop><c:address-data/></d:prop></c:addressbook-query>`;
    const text = await dav("REPORT", new URL(href, radicale.url).href, user, report);
    const tag = kind === "calendar" ? "calendar-data" : "address-data";
    const datas = [
      ...text.matchAll(new RegExp(`<(?:\\w+:)?${tag}[^>]*>([\\s\\S]*?)</(?:\\w+:)?${tag}>`, "g")),
    ].map((m) =>
      m[1]!
        .replaceAll("&lt;", "<")
        .replaceAll("&gt;", ">")
        .replaceAll("&amp;", "&")
        .replaceAll("&#13;", "\r"),
    );
    found.set(decodeURIComponent(href), datas);
  }
  return found;
}

/** The occurrences of every event of these calendars that start within [from, to). */
function occurrences(datas: string[], from: string, to: string): string[] {
  const starts: string[] = [];
  for (const data of datas) {
    const component = new ICAL.Component(ICAL.parse(data));
    const vevents = component.getAllSubcomponents("vevent");
    const master = vevents.find((v) => !v.hasProperty("recurrence-id")) ?? vevents[0]!;
    const event = new ICAL.Event(master);
    for (const v of vevents) if (v !== master) event.relateException(v);
    const it = event.iterator();
    for (let next = it.next(); next && next.toJSDate().toISOString() < to; next = it.next()) {
      const details = event.getOccurrenceDetails(next);
      const start = details.startDate.toJSDate().toISOString();
      if (start >= from && start < to) starts.push(`${start} ${details.item.summary}`);
      if (!event.isRecurring()) break;
    }
  }
  return starts.sort();
}

describe("migrate --items calendar,contacts: Graph stand-in to Radicale", () => {
  it("ends ok for alice and the throttled mailbox, not_delegated for bob; Radicale holds every occurrence and contact; a rerun adds nothing", async () => {
    const dir = await tempDir("items-e2e-");
    await writeFile(
      path.join(dir, "users.csv"),
      [
        "source,destination,password",
        `alice@contoso.test,alice@example.net,${PASSWORDS["alice@example.net"]}`,
        `bob@contoso.test,bob@example.net,${PASSWORDS["bob@example.net"]}`,
        `busy@contoso.test,busy@example.net,${PASSWORDS["busy@example.net"]}`,
        "",
      ].join("\n"),
    );
    const env = {
      ITEMS: "calendar,contacts",
      ...graphEnv(world),
      DAV_URL: radicale.url,
      WORK_DIR: path.join(dir, "work"),
      MAX_BACKOFF: "3s",
    };
    const first = await runCli(["migrate", "--users", "users.csv"], { cwd: dir, env });
    assert.equal(first.exitCode, 1, first.stderr);
    const report = JSON.parse(await readFile(path.join(dir, "work", "report.json"), "utf8"));
    const parts = (source: string) =>
      report.mailboxes
        .find((e: { source: string }) => e.source === source)
        .parts.map(
          (p: { kind: string; status: string; class: string }) =>
            `${p.kind} ${p.status} ${p.class}`,
        );
    assert.deepEqual(parts("alice@contoso.test"), ["calendar ok ok", "contacts ok ok"]);
    assert.deepEqual(parts("busy@contoso.test"), ["calendar ok ok", "contacts ok ok"]);
    assert.deepEqual(parts("bob@contoso.test"), [
      "calendar failed not_delegated",
      "contacts failed not_delegated",
    ]);
    assert.equal(report.mailboxes[1].status, "failed");

    // Mondays 09:00 Paris, Mar 2 - Apr 27 2026, across the change to summer time on Mar 29; Mar 16
    // moved to Tuesday Mar 17 10:00; Apr 13 cancelled.
    const calendars = await stored("alice@example.net", "calendar");
    const all = [...calendars.values()].flat();
    assert.deepEqual(
      occurrences(all, "2026-03-01T00:00:00.000Z", "2026-07-01T00:00:00.000Z").filter(
        (o) => !o.includes("Séminaire"),
      ),
      [
        "2026-03-02T08:00:00.000Z Point hebdo équipe",
        "2026-03-09T08:00:00.000Z Point hebdo équipe",
        "2026-03-17T09:00:00.000Z Point hebdo équipe (décalé)",
        "2026-03-23T08:00:00.000Z Point hebdo équipe",
        "2026-03-30T07:00:00.000Z Point hebdo équipe",
        // Thursday Apr 2, 14:00 Paris (summer time).
        "2026-04-02T12:00:00.000Z Revue de projet Été",
        "2026-04-06T07:00:00.000Z Point hebdo équipe",
        // Tuesday Apr 14, 10:30 Paris: the private one.
        "2026-04-14T08:30:00.000Z Rendez-vous médical",
        "2026-04-20T07:00:00.000Z Point hebdo équipe",
        "2026-04-27T07:00:00.000Z Point hebdo équipe",
        // In "Projets Été": Monday Jun 1, 10:00 Paris.
        "2026-06-01T08:00:00.000Z Lancement des projets d'été",
      ],
    );
    // The all-day seminar across the change to summer time: Mar 28 and 29, as dates.
    const seminar = all.find((data) => data.includes("Séminaire"))!.replace(/\r\n[ \t]/g, "");
    assert.match(seminar, /^DTSTART;VALUE=DATE:20260328\r?$/m);
    assert.match(seminar, /^DTEND;VALUE=DATE:20260330\r?$/m);
    assert.ok(
      [...calendars.keys()].some((href) => href.includes("Projets Été") || calendars.size >= 2),
      [...calendars.keys()].join(", "),
    );
    const cards = [...(await stored("alice@example.net", "addressbook")).values()].flat();
    const names = cards
      .map((card) => /^FN:(.*)$/m.exec(card.replace(/\r\n[ \t]/g, ""))![1]!.trim())
      .sort();
    assert.deepEqual(names, ["Hans Müller", "Jean Martin", "Zoë Durand", "Élodie Dupont-Lefèvre"]);

    const rerun = await runCli(
      ["migrate", "--users", "users.csv", "--only", "alice@contoso.test"],
      { cwd: dir, env },
    );
    assert.equal(rerun.exitCode, 0, rerun.stderr);
    const again = JSON.parse(await readFile(path.join(dir, "work", "report.json"), "utf8"));
    for (const part of again.mailboxes[0].parts) {
      assert.equal(
        part.counts.sent + part.counts.updated + part.counts.removed,
        0,
        JSON.stringify(part.counts),
      );
    }
    assert.deepEqual(
      [...(await stored("alice@example.net", "calendar")).values()].flat().length,
      all.length,
    );
  });

  it("without DAV_URL, a .vcf per contact folder in WORK_DIR/items/files/<mailbox>/, named in the report", async () => {
    const dir = await tempDir("items-files-");
    await writeFile(
      path.join(dir, "users.csv"),
      "source,destination\nalice@contoso.test,alice@example.net\n",
    );
    const env = {
      ITEMS: "contacts",
      ...graphEnv(world),
      WORK_DIR: path.join(dir, "work"),
    };
    const run = await runCli(["migrate", "--users", "users.csv"], { cwd: dir, env });
    assert.equal(run.exitCode, 0, run.stderr);
    const report = JSON.parse(await readFile(path.join(dir, "work", "report.json"), "utf8"));
    const [contacts] = report.mailboxes[0].parts;
    const folder = path.join(dir, "work", "items", "files", "alice@contoso.test");
    assert.ok(contacts.locations.length >= 2, JSON.stringify(contacts.locations));
    for (const location of contacts.locations) {
      assert.ok(location.startsWith(folder) && location.endsWith(".vcf"), location);
    }
    const all = (
      await Promise.all(contacts.locations.map((f: string) => readFile(f, "utf8")))
    ).join("");
    const names = [...all.replace(/\r\n[ \t]/g, "").matchAll(/^FN:(.*)$/gm)]
      .map((m) => m[1]!.trim())
      .sort();
    assert.deepEqual(names, ["Hans Müller", "Jean Martin", "Zoë Durand", "Élodie Dupont-Lefèvre"]);
  });

  it("--items mail,calendar,contacts: the mail through the imapsync double, calendar and contacts into Radicale, all ok", async () => {
    // The same address on both sides, as usersAndWorld writes it: the IMAP and the DAV login.
    const { users, world: imap } = usersAndWorld({ alice: PASSWORDS["alice@contoso.test"] });
    const s = await makeScene({
      users,
      // The scene's saved IMAP token is its admin's; an app-only one would name the app's client id.
      world: {
        ...imap,
        delegations: { ...imap.delegations, [APP_CLIENT_ID]: ["alice@contoso.test"] },
      },
      env: {
        ITEMS: "mail,calendar,contacts",
        ...graphEnv(world),
        DAV_URL: radicale.url,
      },
    });
    const run = await s.run(["migrate", "--users", s.usersFile]);
    assert.equal(run.exitCode, 0, run.stderr + run.stdout);
    const report = JSON.parse(await readFile(path.join(s.workDir, "report.json"), "utf8"));
    const [alice] = report.mailboxes;
    assert.equal(alice.status, "ok");
    assert.ok(alice.attempts[0].messagesTransferred > 0, "the mail was copied");
    assert.deepEqual(
      alice.parts.map((p: { kind: string; status: string }) => `${p.kind} ${p.status}`),
      ["mail ok", "calendar ok", "contacts ok"],
    );
    const cards = [...(await stored("alice@contoso.test", "addressbook")).values()].flat();
    assert.equal(cards.length, 4);
  });

  it("check lists each mailbox's collections at Graph and logs in to Radicale: bob's 403 and a wrong DAV password named", async () => {
    const dir = await tempDir("items-check-");
    await writeFile(
      path.join(dir, "users.csv"),
      [
        "source,destination,password",
        `alice@contoso.test,alice@example.net,${PASSWORDS["alice@example.net"]}`,
        `bob@contoso.test,bob@example.net,${PASSWORDS["bob@example.net"]}`,
        "busy@contoso.test,busy@example.net,not-the-password",
        "",
      ].join("\n"),
    );
    const env = {
      ITEMS: "calendar",
      ...graphEnv(world),
      DAV_URL: radicale.url,
      WORK_DIR: path.join(dir, "work"),
    };
    const run = await runCli(["check", "--users", "users.csv"], { cwd: dir, env });
    assert.equal(run.exitCode, 1, run.stderr);
    assert.match(
      run.stdout,
      /alice@contoso\.test +calendar +ok +2 calendars to move, \d+ not the mailbox's own/,
    );
    assert.match(run.stdout, /bob@contoso\.test +calendar +not_delegated +Microsoft Graph refused/);
    assert.match(
      run.stdout,
      /busy@contoso\.test +calendar +auth_failed_destination +The CalDAV\/CardDAV server refused the login of busy@example\.net/,
    );
    assert.match(run.stdout, /1 of 3 mailboxes can be migrated/);
  });

  it("check gives a verdict per Graph permission and mailbox: the role the app lacks, the mailbox a policy leaves out, the unknown user; in check.json too", async () => {
    const dir = await tempDir("items-permissions-");
    await writeFile(
      path.join(dir, "users.csv"),
      [
        "source,destination,password",
        `alice@contoso.test,alice@example.net,${PASSWORDS["alice@example.net"]}`,
        `bob@contoso.test,bob@example.net,${PASSWORDS["bob@example.net"]}`,
        "nobody@contoso.test,nobody@example.net,x",
        "",
      ].join("\n"),
    );
    const env = {
      ITEMS: "calendar,contacts",
      ...graphEnv(world),
      WORK_DIR: path.join(dir, "work"),
    };
    world.oauth.setGraphRoles(["Calendars.Read", "MailboxSettings.Read"]);
    let run: Awaited<ReturnType<typeof runCli>>;
    try {
      run = await runCli(["check", "--users", "users.csv"], { cwd: dir, env });
    } finally {
      world.oauth.setGraphRoles(["Calendars.Read", "Contacts.Read", "MailboxSettings.Read"]);
    }
    assert.equal(run.exitCode, 1, run.stderr);
    assert.match(
      run.stdout,
      /Graph token {2}expires at .*; roles: Calendars\.Read MailboxSettings\.Read/,
    );
    const row = (who: string, permission: string, verdict: string) =>
      new RegExp(
        `^ +${who.replaceAll(".", "\\.")} +${permission.replaceAll(".", "\\.")} +${verdict} +(.*)$`,
        "m",
      );
    assert.match(run.stdout, row("alice@contoso.test", "Calendars.Read", "granted"));
    assert.match(run.stdout, row("alice@contoso.test", "MailboxSettings.Read", "granted"));
    assert.match(
      run.stdout,
      /alice@contoso\.test +Contacts\.Read +refused +Microsoft Graph refused Contacts\.Read on alice@contoso\.test \(403 ErrorAccessDenied\): the token's roles lack it: give the app the application permission Contacts\.Read/,
    );
    assert.match(
      run.stdout,
      /bob@contoso\.test +Calendars\.Read +refused +.*the token carries it, so an Exchange application access policy or RBAC for Applications scope leaves bob@contoso\.test out/,
    );
    assert.match(
      run.stdout,
      /nobody@contoso\.test +Calendars\.Read +unknown_user +Microsoft Graph knows no user nobody@contoso\.test \(404 ErrorInvalidUser\): check the source address in the users file/,
    );
    assert.match(run.stdout, /alice@contoso\.test +calendar +ok +2 calendars to move/);
    assert.match(
      run.stdout,
      /alice@contoso\.test +contacts +not_delegated +Microsoft Graph refused Contacts\.Read/,
    );
    assert.match(run.stdout, /0 of 3 mailboxes can be migrated/);
    const saved = JSON.parse(await readFile(path.join(dir, "work", "check.json"), "utf8"));
    const alice = saved.mailboxes.find(
      (m: { source: string }) => m.source === "alice@contoso.test",
    );
    assert.deepEqual(
      alice.parts.map(
        (p: { kind: string; permissions: { permission: string; verdict: string }[] }) =>
          `${p.kind}: ${p.permissions.map((c) => `${c.permission} ${c.verdict}`).join(", ")}`,
      ),
      [
        "calendar: Calendars.Read granted, MailboxSettings.Read granted",
        "contacts: Contacts.Read refused",
      ],
    );
  });

  it("a calendar gone at the source since the last run: named in the report, kept whole in Radicale, not named again", async () => {
    const dir = await tempDir("items-gone-");
    await writeFile(
      path.join(dir, "users.csv"),
      `source,destination,password\ncarol@contoso.test,carol@example.net,${PASSWORDS["carol@example.net"]}\n`,
    );
    const env = {
      ITEMS: "calendar",
      ...graphEnv(world),
      DAV_URL: radicale.url,
      WORK_DIR: path.join(dir, "work"),
    };
    const carol = world.seed["carol@contoso.test"]!;
    const conges = structuredClone(carol.calendars[0]!);
    conges.calendar = {
      ...conges.calendar,
      id: "cal-carol-conges",
      name: "Congés Été",
      isDefaultCalendar: false,
      isRemovable: true,
    };
    conges.events = conges.events.map((e) => ({
      ...e,
      id: "evt-carol-conges",
      iCalUId: "uid-carol-conges",
    }));
    carol.calendars.push(conges);
    const migrate = () => runCli(["migrate", "--users", "users.csv"], { cwd: dir, env });
    const partOf = async () =>
      JSON.parse(await readFile(path.join(dir, "work", "report.json"), "utf8")).mailboxes[0]
        .parts[0];
    try {
      const first = await migrate();
      assert.equal(first.exitCode, 0, first.stderr);
      assert.equal((await partOf()).counts.collections, 2);
      carol.calendars.pop();
      const second = await migrate();
      assert.equal(second.exitCode, 0, second.stderr);
      const part = await partOf();
      assert.equal(part.status, "ok");
      const location = new URL("/carol@example.net/conges-ete/", radicale.url).href;
      assert.deepEqual(part.gone, [{ name: "Congés Été", location }]);
      assert.match(
        second.stdout + second.stderr,
        /carol@contoso\.test calendar: ok, 1 collections, .*; gone at the source since the last run, kept at the destination: Congés Été \(http:\/\/127\.0\.0\.1:\d+\/carol@example\.net\/conges-ete\/\)/,
      );
      assert.match(
        second.stdout,
        /^Gone at the source since the last run, kept at the destination \(remove them there by hand if they should go\):\n {2}carol@contoso\.test calendar: Congés Été \(http:\/\/127\.0\.0\.1:\d+\/carol@example\.net\/conges-ete\/\)$/m,
      );
      const kept = await stored("carol@example.net", "calendar");
      assert.equal(
        kept.get("/carol@example.net/conges-ete/")?.length,
        1,
        "its event is still there",
      );
      const html = await readFile(path.join(dir, "work", "report.html"), "utf8");
      assert.match(
        html,
        /gone at the source since the last run, kept at the destination, Congés Été/,
      );
      const third = await migrate();
      assert.equal(third.exitCode, 0, third.stderr);
      assert.equal((await partOf()).gone, undefined);
    } finally {
      if (carol.calendars.length > 1) carol.calendars.pop();
    }
  });
});
