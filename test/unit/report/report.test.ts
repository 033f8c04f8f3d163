import assert from "node:assert/strict";
import { readdir, readFile, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, it } from "node:test";
import { parse as parseCsv } from "csv-parse/sync";
import { InputError } from "../../../src/errors.js";
import { formatRemedies, formatSummary } from "../../../src/report/summary.js";
import { loadReport, reportPaths, ReportStore } from "../../../src/report/store.js";
import { reportCsvPieces } from "../../../src/report/csv.js";
import { reportJsonPieces, writeInPieces } from "../../../src/report/write.js";
import type { Report } from "../../../src/report/schema.js";
import { tempDir } from "../../helpers/env.js";

function sample(): Report {
  return {
    schemaVersion: 1,
    startedAt: "2026-11-29T05:00:00.000Z",
    usersFile: "/srv/users.csv",
    mailboxes: [
      {
        source: "alice@contoso.com",
        destination: "alice@example.org",
        status: "ok",
        class: "ok",
        attempts: [
          {
            start: "2026-11-29T05:00:01.000Z",
            end: "2026-11-29T05:10:00.000Z",
            exitCode: 115,
            class: "token_expired",
            messagesTransferred: 2000,
            logFile: "/w/logs/alice/attempt-1.log",
          },
          {
            start: "2026-11-29T05:10:01.000Z",
            end: "2026-11-29T05:12:00.000Z",
            exitCode: 0,
            class: "ok",
            messagesTransferred: 300,
            bytesTransferred: 408978,
            logFile: "/w/logs/alice/attempt-2.log",
          },
        ],
        folders: [{ source: "&AMk-l&AOk-ments envoy&AOk-s", destination: "Sent" }],
      },
      {
        source: "bob@contoso.com",
        destination: "bob@example.org",
        status: "failed",
        class: "not_delegated",
        remedy: 'Grant FullAccess, then "retry", wait a few minutes',
        attempts: [{ start: "2026-11-29T05:00:01.000Z", exitCode: 117, logFile: "/w/b.log" }],
      },
    ],
  };
}

describe("report", () => {
  it("saves JSON and a CSV twin (latest attempt per mailbox), both 0600, and loads it back", async () => {
    const dir = await tempDir();
    const files = reportPaths(dir);
    const store = new ReportStore(sample(), files);
    await store.save();
    assert.deepEqual(await loadReport(files.json), sample());
    assert.equal((await stat(files.json)).mode & 0o777, 0o600);
    assert.equal((await stat(files.csv)).mode & 0o777, 0o600);
    const rows = parseCsv(await readFile(files.csv, "utf8"), { columns: true }) as Record<
      string,
      string
    >[];
    assert.deepEqual(rows[0], {
      source: "alice@contoso.com",
      destination: "alice@example.org",
      status: "ok",
      class: "ok",
      attempts: "2",
      exit_code: "0",
      messages_transferred: "300",
      bytes_transferred: "408978",
      log_file: "/w/logs/alice/attempt-2.log",
      remedy: "",
      // A report without a verification (one written before verify existed) loads, shows none.
      verification: "",
      missing_messages: "",
    });
    // Commas and quotes in a remedy survive the CSV round trip.
    assert.equal(rows[1]?.remedy, sample().mailboxes[1]?.remedy);
  });

  it("never lets an older state overwrite a newer one when saves overlap", async () => {
    const dir = await tempDir();
    const files = reportPaths(dir);
    const store = new ReportStore(sample(), files);
    const saves: Promise<void>[] = [];
    for (let i = 0; i < 20; i++) {
      store
        .entry("bob@contoso.com")
        .attempts.push({ start: `n${i}`, exitCode: null, logFile: "x" });
      saves.push(store.save());
    }
    await Promise.all(saves);
    const saved = await loadReport(files.json);
    assert.equal(saved.mailboxes[1]?.attempts.length, 21);
  });

  it("refuses a missing, broken or foreign report with a message naming the file", async () => {
    const dir = await tempDir();
    const broken = path.join(dir, "broken.json");
    await writeFile(broken, '{"schemaVersion": 1, "mailboxes": [');
    const foreign = path.join(dir, "foreign.json");
    await writeFile(foreign, JSON.stringify({ schemaVersion: 1, mailboxes: "none" }));
    for (const [file, problem] of [
      [path.join(dir, "missing.json"), /cannot read the report \(ENOENT\)/],
      [broken, /not valid JSON/],
      [foreign, /not a report of this tool/],
    ] as const) {
      await assert.rejects(loadReport(file), (error: unknown) => {
        assert.ok(error instanceof InputError);
        assert.equal(error.exitCode, 2);
        assert.ok(error.message.startsWith(`${file}: `), error.message);
        assert.match(error.message, problem);
        return true;
      });
    }
  });

  it("summarises one line per mailbox with the messages of all attempts, then the totals", () => {
    const lines = formatSummary(sample());
    assert.match(lines[1] ?? "", /^alice@contoso\.com\s+ok\s+ok\s+2\s+2300$/);
    assert.match(lines[2] ?? "", /^bob@contoso\.com\s+failed\s+not_delegated\s+1\s+0$/);
    assert.equal(lines.at(-1), "2 mailboxes: 1 ok, 1 failed");
    assert.deepEqual(formatRemedies(sample()), [
      "What to do:",
      `- bob@contoso.com: ${sample().mailboxes[1]?.remedy}`,
    ]);
    assert.equal(
      [...reportCsvPieces(sample())].join("").split("\n")[0],
      "source,destination,status,class,attempts,exit_code,messages_transferred,bytes_transferred,log_file,remedy,verification,missing_messages",
    );
  });
});

describe("report files written in pieces", () => {
  it("report.json in pieces is the text JSON.stringify gives, accents included", () => {
    const { mailboxes, ...fields } = sample();
    mailboxes[0]!.folders = [{ source: "Éléments envoyés", destination: "Sent" }];
    const accented: Report = { ...fields, shard: { index: 1, count: 3 }, mailboxes };
    const empty = { ...sample(), mailboxes: [] };
    for (const report of [sample(), accented, empty]) {
      assert.equal([...reportJsonPieces(report)].join(""), `${JSON.stringify(report, null, 2)}\n`);
    }
    // A field set after the mailboxes (endedAt, at the end of a run) is written before them.
    const ended = { ...sample(), endedAt: "2026-11-29T06:00:00.000Z" };
    assert.deepEqual(JSON.parse([...reportJsonPieces(ended)].join("")), ended);
  });

  it("replaces the file whole, 0600, and leaves no temporary file when a piece throws", async () => {
    const dir = await tempDir("pieces-");
    const file = path.join(dir, "report.json");
    await writeInPieces(file, ["old\n"]);
    await writeInPieces(file, ["new ", "text\n"]);
    assert.equal(await readFile(file, "utf8"), "new text\n");
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    function* failing(): Generator<string> {
      yield "half of a ";
      throw new Error("renderer failed");
    }
    await assert.rejects(writeInPieces(file, failing()), /renderer failed/);
    assert.equal(await readFile(file, "utf8"), "new text\n", "the previous file is intact");
    assert.deepEqual(await readdir(dir), ["report.json"]);
  });
});
