// The parts' engine with in-memory sides (test/helpers/items.ts), a real report store in a
// temporary folder and the real clock (the only waits are the few milliseconds a fake Graph asks
// for): each part to its final state, its retry, its report record, and the mailbox's status on
// disk as the worst of its parts.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { describe, it } from "node:test";
import { checkParts, runParts, type PartsDeps } from "../../../src/engine/parts.js";
import { planParts } from "../../../src/plan/plan.js";
import { loadReport, newReport, ReportStore } from "../../../src/report/store.js";
import { formatRemedies, formatSummary } from "../../../src/report/summary.js";
import type { Item } from "../../../src/config/types.js";
import type { Mailbox } from "../../../src/users/types.js";
import { testConfig } from "../../helpers/config.js";
import { tempDir } from "../../helpers/env.js";
import { FakeDestination, FakeSource, httpError, item } from "../../helpers/items.js";

function mailbox(name: string, line: number): Mailbox {
  return {
    source: `${name}@contoso.test`,
    destination: `${name}@example.net`,
    password: "pw",
    extraArgs: [],
    line,
  };
}

/** Each mailbox's source and destination, by address; a calendar and a contact folder each. */
function sides(names: string[]) {
  return new Map<string, { source: FakeSource; destination: FakeDestination }>(
    names.map((name) => {
      const source = new FakeSource()
        .add({ id: "cal", name: "Calendar", isDefault: true }, [
          item(`${name}-e1`),
          item(`${name}-e2`),
        ])
        .add({ id: "book", kind: "contacts", name: "Contacts", isDefault: true }, [
          item(`${name}-c1`),
        ]);
      return [`${name}@contoso.test`, { source, destination: new FakeDestination() }];
    }),
  );
}

async function scene(names: string[], items: Item[] = ["calendar", "contacts"]) {
  const workDir = await tempDir("parts-");
  const config = testConfig({ workDir, items, maxAttempts: 2 });
  const mailboxes = names.map((name, i) => mailbox(name, i + 2));
  const files = { json: path.join(workDir, "report.json"), csv: path.join(workDir, "report.csv") };
  const store = new ReportStore(
    newReport("users.csv", mailboxes, undefined, new Date(), {}, items),
    files,
  );
  const ends = sides(names);
  const controller = new AbortController();
  const lines: string[] = [];
  const deps: PartsDeps = {
    store,
    ui: { info: (line) => lines.push(line) },
    open: async (plan) => ends.get(plan.mailbox.source)!,
    limits: config,
    concurrency: 2,
    signal: controller.signal,
    appOnly: true,
  };
  const plans = () =>
    planParts({ mode: "sync", mailboxes, usersFile: "users.csv", config, previous: store.report });
  return { deps, plans, store, ends, lines, files, controller, config, mailboxes };
}

describe("runParts", () => {
  it("every part ends ok with its counts; on disk the mailbox is ok, in the summary each part has a line", async () => {
    const s = await scene(["alice", "bob"]);
    await runParts(s.plans(), s.deps);
    await s.store.close();
    const alice = s.store.entry("alice@contoso.test");
    const calendar = alice.parts!.find((p) => p.kind === "calendar")!;
    assert.equal(calendar.status, "ok");
    assert.equal(calendar.class, "ok");
    assert.equal(calendar.attempts.length, 1);
    assert.deepEqual(calendar.counts, {
      collections: 1,
      sent: 2,
      updated: 0,
      removed: 0,
      unchanged: 0,
    });
    assert.deepEqual(calendar.locations, ["/default-calendar/"]);
    assert.deepEqual(s.ends.get("alice@contoso.test")!.destination.uids("/default-contacts/"), [
      "alice-c1",
    ]);

    const written = JSON.parse(await readFile(s.files.json, "utf8"));
    assert.equal(written.mailboxes[0].status, "ok", "the worst of two ok parts; mail not selected");
    assert.deepEqual(
      written.mailboxes[0].parts.map(
        (p: { kind: string; status: string }) => `${p.kind} ${p.status}`,
      ),
      ["calendar ok", "contacts ok"],
    );
    const summary = formatSummary(s.store.report).join("\n");
    assert.match(summary, /alice@contoso\.test +calendar +ok +ok +1 +2 +0 +0 +0/);
    assert.match(summary, /bob@contoso\.test +contacts +ok +ok +1 +1 +0 +0 +0/);
    assert.deepEqual(formatRemedies(s.store.report), []);
  });

  it("a throttled part waits what Graph asked, then sends only the rest and ends ok", async () => {
    const s = await scene(["alice"], ["calendar"]);
    const { source, destination } = s.ends.get("alice@contoso.test")!;
    source.failAt.set("cal", { index: 1, error: httpError(429, "ApplicationThrottled", 30) });
    await runParts(s.plans(), s.deps);
    const part = s.store.entry("alice@contoso.test").parts!.find((p) => p.kind === "calendar")!;
    assert.equal(part.status, "ok");
    assert.deepEqual(
      part.attempts.map((a) => a.class),
      ["throttled", "ok"],
    );
    assert.equal(part.attempts[0]!.counts!.sent, 1);
    assert.equal(part.counts!.sent, 2, "the run's attempts summed");
    assert.equal(destination.calls.put, 2, "nothing sent twice");
    assert.ok(
      s.lines.some((line) =>
        /alice@contoso\.test calendar: .*throttled.*next try in 0 s/.test(line),
      ),
      s.lines.join("\n"),
    );
  });

  it("a mailbox Graph may not read fails not_delegated at once; the mailbox fails on disk, its mail status kept in memory", async () => {
    const s = await scene(["alice"], ["mail", "calendar"]);
    s.ends.get("alice@contoso.test")!.source.failCollections = httpError(403, "ErrorAccessDenied");
    const entry = s.store.entry("alice@contoso.test");
    // The mail engine's record of this mailbox, as if its copy had ended ok.
    Object.assign(entry, { status: "ok", class: "ok", remedy: "mail fine" });
    await runParts(s.plans(), s.deps);
    await s.store.close();
    const part = entry.parts!.find((p) => p.kind === "calendar")!;
    assert.equal(part.status, "failed");
    assert.equal(part.class, "not_delegated");
    assert.equal(part.attempts.length, 1, "never retried");
    assert.match(part.remedy!, /403 ErrorAccessDenied\): give the app the application permissions/);
    assert.equal(entry.status, "ok", "in memory, the entry's own status stays the mail's");

    const written = JSON.parse(await readFile(s.files.json, "utf8"));
    assert.equal(written.mailboxes[0].status, "failed");
    assert.equal(written.mailboxes[0].class, "not_delegated");
    assert.deepEqual(written.mailboxes[0].parts[0], {
      kind: "mail",
      status: "ok",
      class: "ok",
      remedy: "mail fine",
      attempts: [],
    });
    const back = await loadReport(s.files.json);
    assert.equal(back.mailboxes[0]!.status, "ok", "read back, the mail's own status again");
    assert.equal(back.mailboxes[0]!.parts![1]!.status, "failed");
    assert.deepEqual(formatRemedies(back), [
      `What to do:`,
      `- alice@contoso.test (calendar): ${part.remedy}`,
    ]);

    // --resume: the mail is done, the calendar is not.
    const again = planParts({
      mode: "sync",
      mailboxes: s.mailboxes,
      usersFile: "u",
      config: s.config,
      previous: back,
      resume: true,
    });
    assert.deepEqual(
      again.map((p) => `${p.kind} ${p.attempt}`),
      ["calendar 2"],
    );
  });

  it("--resume runs a part newly selected for a mailbox whose parts are done, and not the others", async () => {
    const s = await scene(["alice"], ["calendar"]);
    await runParts(s.plans(), s.deps);
    const config = { ...s.config, items: ["calendar", "contacts"] as Item[] };
    const previous = s.store.report;
    const plans = planParts({
      mode: "sync",
      mailboxes: s.mailboxes,
      usersFile: "u",
      config,
      previous,
      resume: true,
    });
    assert.deepEqual(
      plans.map((p) => `${p.kind} ${p.attempt}`),
      ["contacts 1"],
    );
    const report = newReport("users.csv", s.mailboxes, previous, new Date(), {}, config.items);
    assert.deepEqual(
      report.mailboxes[0]!.parts!.map((p) => `${p.kind} ${p.status}`),
      ["calendar ok", "contacts pending"],
    );
  });

  it("with verifyAfterCopy a part is verified after its copy; items missing at the destination are named", async () => {
    const s = await scene(["alice"], ["calendar"]);
    const { destination } = s.ends.get("alice@contoso.test")!;
    // The destination loses what it is given for e2: a verification must name it.
    const put = destination.put.bind(destination);
    destination.put = async (collection, one) => {
      const stored = await put(collection, one);
      if (one.uid === "alice-e2") destination.held.get(collection.location)!.delete(one.uid);
      return stored;
    };
    await runParts(s.plans(), { ...s.deps, verifyAfterCopy: true });
    const part = s.store.entry("alice@contoso.test").parts![0]!;
    assert.equal(part.status, "ok");
    assert.equal(part.verification?.verdict, "missing");
    assert.deepEqual(part.verification?.collections, [
      {
        name: "Calendar",
        sourceItems: 2,
        destinationItems: 1,
        missing: ["alice-e2 (UID alice-e2)"],
      },
    ]);
    assert.match(formatSummary(s.store.report).join("\n"), /calendar +ok, missing/);
  });

  it("an interruption leaves the parts that did not run pending", async () => {
    const s = await scene(["alice", "bob", "carol"], ["calendar"]);
    s.controller.abort();
    await runParts(s.plans(), s.deps);
    for (const entry of s.store.report.mailboxes) assert.equal(entry.parts![0]!.status, "pending");
  });

  it("a part's counts are its whole pass: a run that did not end ok goes on with them; the run after an ok starts afresh", async () => {
    const s = await scene(["alice"], ["calendar"]);
    await runParts(s.plans(), s.deps);
    const source = s.ends.get("alice@contoso.test")!.source;
    source.content.set(
      "cal",
      ["e1", "e2", "e3", "e4"].map((n) => item(`alice-${n}`)),
    );
    source.failAt.set("cal", { index: 3, error: httpError(403, "ErrorAccessDenied") });
    await runParts(s.plans(), s.deps);
    const part = () => s.store.entry("alice@contoso.test").parts![0]!;
    assert.equal(part().status, "failed");
    const counts = (sent: number, unchanged: number, collections = 1) => ({
      collections,
      sent,
      updated: 0,
      removed: 0,
      unchanged,
    });
    assert.deepEqual(part().counts, counts(1, 2, 0));
    // Run again (--resume, retry): e4 is sent; e3, sent before, counts as sent, not unchanged.
    await runParts(s.plans(), s.deps);
    assert.equal(part().status, "ok");
    assert.deepEqual(part().counts, counts(2, 2));
    assert.deepEqual(part().attempts.at(-1)!.counts, counts(1, 3));
    await runParts(s.plans(), s.deps);
    assert.deepEqual(part().counts, counts(0, 4));
  });
});

describe("checkParts", () => {
  it("lists each mailbox's collections and tries the destination's login; copies and creates nothing", async () => {
    const s = await scene(["alice", "bob", "carol"], ["calendar"]);
    s.ends.get("alice@contoso.test")!.source.skipped = [
      { kind: "calendar", name: "Birthdays", reason: "generated" },
    ];
    s.ends.get("bob@contoso.test")!.source.failCollections = httpError(403, "ErrorAccessDenied");
    const carol = s.ends.get("carol@contoso.test")!;
    const open: PartsDeps["open"] = async (plan) => {
      const ends = s.ends.get(plan.mailbox.source)!;
      const probe = ends === carol ? () => Promise.reject(httpError(401)) : () => Promise.resolve();
      return { ...ends, probe };
    };
    const found = await checkParts(s.plans(), {
      open,
      concurrency: 2,
      signal: s.controller.signal,
      appOnly: true,
    });
    const line = (who: string) =>
      found.get(`${who}@contoso.test`)!.map((p) => `${p.kind} ${p.status} ${p.class}`);
    assert.deepEqual(line("alice"), ["calendar ok ok"]);
    assert.match(
      found.get("alice@contoso.test")![0]!.remedy!,
      /^1 calendars to move, 1 not the mailbox's own/,
    );
    assert.deepEqual(line("bob"), ["calendar failed not_delegated"]);
    assert.deepEqual(line("carol"), ["calendar failed auth_failed_destination"]);
    for (const { destination } of s.ends.values()) {
      assert.deepEqual(destination.calls, { put: 0, remove: 0, ensure: 0, close: 0 });
    }
  });

  it("gives a verdict per permission: the one the token's roles lack named as missing, the one it carries as an access policy", async () => {
    const s = await scene(["alice", "bob"], ["calendar", "contacts"]);
    const granted = { app: "Calendars.Read", delegated: "Calendars.Read.Shared" };
    const contacts = { app: "Contacts.Read", delegated: "Contacts.Read.Shared" };
    const denied = httpError(403, "ErrorAccessDenied");
    const open: PartsDeps["open"] = async (plan) => {
      const ends = s.ends.get(plan.mailbox.source)!;
      const bob = plan.mailbox.source === "bob@contoso.test";
      const access = async (kind: string) =>
        kind === "calendar"
          ? [
              bob
                ? {
                    permission: granted,
                    verdict: "refused" as const,
                    said: "403 ErrorAccessDenied",
                    error: denied,
                  }
                : { permission: granted, verdict: "granted" as const },
            ]
          : [
              {
                permission: contacts,
                verdict: "refused" as const,
                said: "403 ErrorAccessDenied",
                error: denied,
              },
            ];
      return { ...ends, source: Object.assign(ends.source, { access }) };
    };
    const found = await checkParts(s.plans(), {
      open,
      concurrency: 2,
      signal: s.controller.signal,
      appOnly: true,
      granted: ["Calendars.Read", "MailboxSettings.Read"],
    });
    const alice = found.get("alice@contoso.test")!;
    assert.deepEqual(
      alice.map(
        (p) =>
          `${p.kind} ${p.class} ${p.permissions?.map((c) => `${c.permission}=${c.verdict}`).join(",")}`,
      ),
      ["calendar ok Calendars.Read=granted", "contacts not_delegated Contacts.Read=refused"],
    );
    assert.equal(
      alice[1]!.remedy,
      "Microsoft Graph refused Contacts.Read on alice@contoso.test (403 ErrorAccessDenied): the token's roles lack it: give the app the application permission Contacts.Read (Microsoft Graph) and grant admin consent, then get a new token (`token`).",
    );
    const bob = found.get("bob@contoso.test")!.find((p) => p.kind === "calendar")!;
    assert.equal(bob.class, "not_delegated");
    assert.equal(
      bob.permissions![0]!.remedy,
      "Microsoft Graph refused Calendars.Read on bob@contoso.test (403 ErrorAccessDenied): the token carries it, so an Exchange application access policy or RBAC for Applications scope leaves bob@contoso.test out (Test-ApplicationAccessPolicy -Identity bob@contoso.test -AppId <app>).",
    );
    assert.equal(bob.remedy, bob.permissions![0]!.remedy);
  });
});
