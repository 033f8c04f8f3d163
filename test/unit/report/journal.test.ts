// The report's journal: appends reach the disk before they resolve, a torn last line is dropped,
// a damaged one before it is refused with its line number, compaction loses nothing queued
// around it, and a process killed with SIGKILL loses no change it had saved.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { appendFile, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, it } from "node:test";
import { execa } from "execa";
import { InputError } from "../../../src/errors.js";
import { Journal, journalPath, readJournal } from "../../../src/report/journal.js";
import { loadReport, ReportStore } from "../../../src/report/store.js";
import {
  REPORT_SCHEMA_VERSION,
  type Report,
  type ReportEntry,
} from "../../../src/report/schema.js";
import { ROOT, tempDir, waitFor } from "../../helpers/env.js";

const entry = (n: number, status: ReportEntry["status"] = "pending"): ReportEntry => ({
  source: `m${n}@contoso.test`,
  destination: `m${n}@example.org`,
  status,
  attempts: [],
});
const asEntry = (data: unknown) => data as ReportEntry;

async function collect(file: string): Promise<ReportEntry[]> {
  const out: ReportEntry[] = [];
  for await (const e of readJournal(file, asEntry)) out.push(e);
  return out;
}

function report(count: number): Report {
  return {
    schemaVersion: REPORT_SCHEMA_VERSION,
    startedAt: new Date(0).toISOString(),
    usersFile: "/users.csv",
    mailboxes: Array.from({ length: count }, (_, i) => entry(i)),
  };
}

describe("journal", () => {
  it("journalPath sits next to report.json", () => {
    assert.equal(journalPath("/w/report.json"), "/w/report.journal");
    assert.equal(journalPath("/w/check.json"), "/w/check.journal");
  });

  it("appends made together share flushes and all come back in order", async () => {
    const file = path.join(await tempDir(), "report.journal");
    const journal = await Journal.open(file);
    await Promise.all(Array.from({ length: 200 }, (_, i) => journal.append(entry(i, "ok"))));
    await journal.close();
    const back = await collect(file);
    assert.deepEqual(
      back.map((e) => e.source),
      Array.from({ length: 200 }, (_, i) => `m${i}@contoso.test`),
    );
  });

  it("drops a torn last line; refuses a damaged line before the last, naming it", async () => {
    const file = path.join(await tempDir(), "report.journal");
    await writeFile(file, `${JSON.stringify({ entry: entry(1) })}\n{"entry":{"sou`);
    assert.deepEqual(
      (await collect(file)).map((e) => e.source),
      ["m1@contoso.test"],
    );
    await appendFile(file, `\n${JSON.stringify({ entry: entry(2) })}\n`);
    await assert.rejects(collect(file), (error: unknown) => {
      assert.ok(error instanceof InputError);
      assert.match(error.message, /report\.journal line 2/);
      return true;
    });
  });

  it("compaction: lines queued before it are covered by the snapshot, later ones follow it", async () => {
    const file = path.join(await tempDir(), "report.journal");
    const journal = await Journal.open(file);
    const before = journal.append(entry(1));
    let written = "";
    const compacted = journal.compact(async () => {
      written = "snapshot";
    });
    const after = journal.append(entry(2));
    await Promise.all([before, compacted, after]);
    await journal.close();
    assert.equal(written, "snapshot");
    assert.deepEqual(
      (await collect(file)).map((e) => e.source),
      ["m2@contoso.test"],
    );
  });
});

describe("ReportStore with its journal", () => {
  it("saveEntry leaves report.json alone; readers see the change; close writes it whole", async () => {
    const dir = await tempDir();
    const files = { json: path.join(dir, "report.json"), csv: path.join(dir, "report.csv") };
    const store = new ReportStore(report(3), files);
    await store.save();
    const initial = await readFile(files.json, "utf8");
    const e = store.entry("m1@contoso.test");
    e.status = "ok";
    await store.saveEntry(e);
    assert.equal(await readFile(files.json, "utf8"), initial, "report.json not rewritten");
    assert.equal((await loadReport(files.json)).mailboxes[1]?.status, "ok");
    await store.close();
    assert.equal(JSON.parse(await readFile(files.json, "utf8")).mailboxes[1].status, "ok");
    assert.match(await readFile(files.csv, "utf8"), /m1@contoso\.test,m1@example\.org,ok/);
    assert.equal((await readFile(journalPath(files.json), "utf8")).length, 0);
  });

  it("a whole save and an entry's save started together both end (two engines, the mail's and the parts')", async () => {
    const dir = await tempDir();
    const files = { json: path.join(dir, "report.json"), csv: path.join(dir, "report.csv") };
    const store = new ReportStore(report(2), files);
    const e = store.entry("m0@contoso.test");
    e.status = "running";
    // Before this was fixed, the save waited for a journal whose opening waited for the save.
    await Promise.all([store.save(), store.saveEntry(e)]);
    assert.equal((await loadReport(files.json)).mailboxes[0]?.status, "running");
    await store.close();
    assert.equal(JSON.parse(await readFile(files.json, "utf8")).mailboxes[0].status, "running");
  });

  it("the first whole save of a new run takes in a killed run's journal, then removes it", async () => {
    const dir = await tempDir();
    const files = { json: path.join(dir, "report.json"), csv: path.join(dir, "report.csv") };
    await new ReportStore(report(2), files).save();
    await writeFile(journalPath(files.json), `${JSON.stringify({ entry: entry(0, "ok") })}\n`);
    const loaded = await loadReport(files.json);
    assert.equal(loaded.mailboxes[0]?.status, "ok");
    await new ReportStore(loaded, files).save();
    assert.equal(existsSync(journalPath(files.json)), false);
    assert.equal((await loadReport(files.json)).mailboxes[0]?.status, "ok");
  });

  it("SIGKILL loses no change whose save had resolved", async () => {
    const dir = await tempDir();
    const json = path.join(dir, "report.json");
    // A real process saves changes one after another and says so after each; it is then killed.
    const child = execa(
      "node",
      [
        "--input-type=module",
        "-e",
        `const { ReportStore } = await import(${JSON.stringify(path.join(ROOT, "dist/src/report/store.js"))});
         const { REPORT_SCHEMA_VERSION } = await import(${JSON.stringify(path.join(ROOT, "dist/src/report/schema.js"))});
         const mailboxes = Array.from({ length: 5000 }, (_, i) => ({ source: "m" + i + "@contoso.test", destination: "d", status: "pending", attempts: [] }));
         const store = new ReportStore({ schemaVersion: REPORT_SCHEMA_VERSION, startedAt: "x", usersFile: "u", mailboxes }, { json: process.argv[1], csv: process.argv[1] + ".csv" });
         await store.save();
         for (const e of mailboxes) { e.status = "ok"; await store.saveEntry(e); process.stdout.write(e.source + "\\n"); }`,
        json,
      ],
      { reject: false },
    );
    let said = "";
    child.stdout.on("data", (d: Buffer) => (said += d.toString()));
    // Complete lines only: the last piece may be a line still being written.
    const announced = () => said.split("\n").slice(0, -1);
    let exited = false;
    void child.finally(() => (exited = true));
    // The child saves 5,000 changes: it is killed long before the end, whatever the machine's load.
    await waitFor(
      () => exited || announced().length >= 300,
      120_000,
      "300 changes announced as saved",
    );
    if (exited) assert.fail(`the writer ended before it was killed: ${(await child).stderr}`);
    child.kill("SIGKILL");
    const { signal } = await child;
    assert.equal(signal, "SIGKILL");
    const saved = announced();
    assert.ok(saved.length >= 300, `${saved.length} changes announced`);
    const loaded = await loadReport(json);
    const ok = new Set(loaded.mailboxes.filter((e) => e.status === "ok").map((e) => e.source));
    assert.deepEqual(
      saved.filter((source) => !ok.has(source)),
      [],
      "every change announced as saved is in the report",
    );
  });
});
