// The report's version path: reports and journals written by the tool before its shapes became
// schemas (fixtures/report-schema-1, schemaVersion 1) load into the current shape, nothing lost.
import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, it } from "node:test";
import { InputError } from "../../../src/errors.js";
import { loadReport } from "../../../src/report/store.js";
import { writeReportJson } from "../../../src/report/write.js";
import { FIXTURES, tempDir } from "../../helpers/env.js";

const WRITTEN = path.join(FIXTURES, "report-schema-1");
const FINISHED = path.join(WRITTEN, "report.json");
const KILLED = path.join(WRITTEN, "killed/report.json");

describe("schemaVersion 1, as the tool wrote it at a6e2156", () => {
  it("a finished migration loads: every mailbox, attempt, mapping and verification", async () => {
    const report = await loadReport(FINISHED);
    assert.equal(report.schemaVersion, 1);
    assert.equal(report.endedAt, "2026-12-07T04:40:06.872Z");
    assert.deepEqual(
      report.mailboxes.map((e) => [e.source, e.status, e.class, e.attempts.map((a) => a.class)]),
      [
        ["alice@contoso.test", "ok", "ok", ["ok"]],
        ["bob@contoso.test", "failed", "not_delegated", ["not_delegated"]],
        ["carol@contoso.test", "ok", "ok", ["throttled", "ok"]],
        ["dave@contoso.test", "failed", "auth_failed_destination", ["auth_failed_destination"]],
        ["erin@contoso.test", "failed", "quota_exceeded", ["quota_exceeded"]],
      ],
    );
    const [alice, bob, carol] = report.mailboxes;
    assert.deepEqual(
      carol?.attempts.map((a) => [a.exitCode, a.messagesTransferred]),
      [
        [115, 92],
        [0, 300],
      ],
    );
    assert.ok(alice?.folders?.some((f) => f.source === "&AMk-l&AOk-ments envoy&AOk-s"));
    assert.equal(alice?.verification?.verdict, "missing");
    assert.equal(alice?.verification?.missingMessages, 194);
    assert.match(bob?.remedy ?? "", /Add-MailboxPermission -Identity bob@contoso\.test/);
  });

  it("written back, it holds every field it was read with", async () => {
    const out = path.join(await tempDir(), "report.json");
    await writeReportJson(await loadReport(FINISHED), out);
    assert.deepEqual(
      JSON.parse(await readFile(out, "utf8")),
      JSON.parse(await readFile(FINISHED, "utf8")),
    );
  });

  it("a killed run's journal replays over the report it started with", async () => {
    const report = await loadReport(KILLED);
    const [fast, slow] = report.mailboxes;
    assert.deepEqual(
      [fast?.status, fast?.class, fast?.attempts[0]?.messagesTransferred, fast?.folders?.length],
      ["ok", "ok", 300, 4],
    );
    assert.equal(slow?.status, "running");
    assert.equal(slow?.attempts[0]?.exitCode, null);
    assert.equal(slow?.attempts[0]?.end, undefined);
  });

  it("a version no step reads is refused field by field, as before versions existed", async () => {
    const file = path.join(await tempDir(), "report.json");
    const written = JSON.parse(await readFile(FINISHED, "utf8")) as Record<string, unknown>;
    await writeFile(file, JSON.stringify({ ...written, schemaVersion: 2 }));
    await assert.rejects(
      loadReport(file),
      (e: unknown) =>
        e instanceof InputError && /not a report of this tool \(schemaVersion: /.test(e.message),
    );
  });
});
