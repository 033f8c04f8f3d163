// A mailbox's parts in the report's files: the worst part on disk and the mail's own status in
// memory, report.csv's rows per part, report.html's table of them, and `report merge` per part.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parse as parseCsv } from "csv-parse/sync";
import { reportCsvPieces } from "../../../src/report/csv.js";
import { renderHtmlReport } from "../../../src/report/html.js";
import { mergeReports } from "../../../src/report/merge.js";
import { live, persisted } from "../../../src/report/parts.js";
import type { Part, Report, ReportEntry } from "../../../src/report/schema.js";

const T0 = "2026-12-07T10:00:00.000Z";
const T1 = "2026-12-07T11:00:00.000Z";

function part(kind: Part["kind"], fields: Partial<Part> = {}): Part {
  return {
    kind,
    status: "ok",
    class: "ok",
    attempts: [{ start: T0, end: T0, class: "ok" }],
    ...fields,
  };
}

/** Alice: mail ok, calendar failed, contacts ok with a skipped folder and a loss. */
function alice(): ReportEntry {
  return {
    source: "alice@contoso.test",
    destination: "alice@example.net",
    status: "ok",
    class: "ok",
    remedy: "mail fine",
    attempts: [
      { start: T0, end: T0, exitCode: 0, class: "ok", messagesTransferred: 3, logFile: "/w/a.log" },
    ],
    parts: [
      part("mail"),
      part("calendar", {
        status: "failed",
        class: "not_delegated",
        remedy: "grant Calendars.Read",
        counts: { collections: 0, sent: 0, updated: 0, removed: 0, unchanged: 0 },
      }),
      part("contacts", {
        counts: { collections: 2, sent: 5, updated: 1, removed: 0, unchanged: 3 },
        skipped: [{ name: "Contacts partagés", reason: "shared by bob" }],
        losses: ["Émile Zola: photo over the size limit"],
        locations: ["/alice@example.net/contacts/", "/alice@example.net/Projets Été/"],
      }),
    ],
  };
}

function report(mailboxes: ReportEntry[]): Report {
  return {
    schemaVersion: 1,
    startedAt: T0,
    usersFile: "/u.csv",
    usersDigest: "sha256:ab",
    mailboxes,
  };
}

describe("persisted and live", () => {
  it("a mail-only entry is written as it is", () => {
    const entry = alice();
    delete entry.parts;
    assert.equal(persisted(entry), entry);
    assert.equal(live(entry), entry);
  });

  it("on disk the worst part's status, class and remedy; the mail part mirrors the mail; read back, the mail's again", () => {
    const written = persisted(alice());
    assert.equal(written.status, "failed");
    assert.equal(written.class, "not_delegated");
    assert.equal(written.remedy, "grant Calendars.Read");
    assert.deepEqual(written.parts![0], {
      kind: "mail",
      status: "ok",
      class: "ok",
      remedy: "mail fine",
      nextAttemptAt: undefined,
      attempts: [],
    });
    const back = live(JSON.parse(JSON.stringify(written)) as ReportEntry);
    assert.deepEqual([back.status, back.class, back.remedy], ["ok", "ok", "mail fine"]);
  });

  it("a running part outranks a failed one; without a mail part the mail reads as never run", () => {
    const entry = alice();
    entry.parts![2]!.status = "running";
    assert.equal(persisted(entry).status, "running");
    entry.parts!.shift();
    const back = live(persisted(entry));
    assert.equal(back.status, "pending");
    assert.equal(back.class, undefined);
  });
});

describe("report.csv with parts", () => {
  it("one row per part, the mailbox's worst status beside each part's own", () => {
    const rows = parseCsv([...reportCsvPieces(report([alice()]))].join("")) as string[][];
    assert.deepEqual(rows[0]!.slice(-8), [
      "part",
      "part_status",
      "part_class",
      "items_sent",
      "items_updated",
      "items_removed",
      "items_unchanged",
      "missing_items",
    ]);
    assert.deepEqual(
      rows.slice(1).map((r) => [r[2], r[3], r[12], r[13], r[14], r[15], r[16], r[17], r[18]]),
      [
        ["failed", "not_delegated", "mail", "ok", "ok", "", "", "", ""],
        ["failed", "not_delegated", "calendar", "failed", "not_delegated", "0", "0", "0", "0"],
        ["failed", "not_delegated", "contacts", "ok", "ok", "5", "1", "0", "3"],
      ],
    );
    assert.equal(rows[1]![6], "3", "the mail row keeps its messages");
    assert.equal(rows[2]![9], "grant Calendars.Read", "each part its own remedy");
  });

  it("a mail-only report keeps today's columns", () => {
    const entry = alice();
    delete entry.parts;
    const [header] = parseCsv([...reportCsvPieces(report([entry]))].join("")) as string[][];
    assert.equal(header!.length, 12);
    assert.equal(header!.at(-1), "missing_messages");
  });
});

describe("report.html with parts", () => {
  it("the worst status on the mailbox's row, and a table of its parts with what was skipped and lost", () => {
    const html = [...renderHtmlReport(report([alice()]), Date.parse(T1))].join("");
    assert.match(
      html,
      /<tbody data-mailbox="alice@contoso\.test" data-status="failed" data-class="not_delegated"/,
    );
    assert.match(html, /<summary>Calendar and contacts<\/summary>/);
    assert.match(html, /<td>calendar<td class="st-failed">failed<td>not_delegated<td class="n">1/);
    assert.match(
      html,
      /<td>contacts<td class="st-ok">ok<td>ok<td class="n">1<td class="n">2<td class="n">5<td class="n">1<td class="n">0<td class="n">3/,
    );
    assert.match(html, /contacts: not moved, Contacts partagés \(shared by bob\)/);
    assert.match(html, /contacts: lost in the conversion, Émile Zola: photo over the size limit/);
    assert.match(html, /contacts: went to \/alice@example\.net\/Projets Été\//);
  });
});

describe("report merge per part", () => {
  it("a mailbox in two shard reports: its mail from the one that copied last, each part from where it ran last", () => {
    const early = alice();
    early.parts![2] = part("contacts", {
      attempts: [{ start: T1, class: "ok" }],
      counts: { collections: 1, sent: 9, updated: 0, removed: 0, unchanged: 0 },
    });
    const late = alice();
    late.attempts = [{ ...late.attempts[0]!, start: T1 }];
    late.parts = [part("mail"), part("calendar", { attempts: [{ start: T1, class: "ok" }] })];
    const merged = mergeReports([
      { file: "a/report.json", report: report([early]) },
      { file: "b/report.json", report: report([late]) },
    ]);
    const entry = merged.report.mailboxes[0]!;
    assert.equal(entry.attempts[0]!.start, T1, "mail from b");
    assert.deepEqual(
      entry.parts!.map((p) => `${p.kind} ${p.status} ${p.attempts.at(-1)!.start}`),
      [`mail ok ${T0}`, `calendar ok ${T1}`, `contacts ok ${T1}`],
    );
    assert.equal(entry.parts![2]!.counts!.sent, 9, "contacts from a, where they ran last");
  });
});
