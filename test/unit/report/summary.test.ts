// The end-of-run summary at thousands of mailboxes: only those not ok are listed, and advice
// shared by many mailboxes is said once with the count.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  REPORT_SCHEMA_VERSION,
  type Report,
  type ReportEntry,
} from "../../../src/report/schema.js";
import { formatRemedies, formatSummary } from "../../../src/report/summary.js";

function report(entries: ReportEntry[]): Report {
  return { schemaVersion: REPORT_SCHEMA_VERSION, startedAt: "", usersFile: "", mailboxes: entries };
}
const entry = (n: number, status: ReportEntry["status"], remedy?: string): ReportEntry => ({
  source: `m${n}@contoso.test`,
  destination: `m${n}@contoso.test`,
  status,
  remedy,
  attempts: [],
});

describe("summary", () => {
  it("lists every mailbox of a short list, only those not ok of a long one", () => {
    const short = formatSummary(report([entry(1, "ok"), entry(2, "failed")]));
    assert.equal(short.length, 4);
    const many = [...Array.from({ length: 1000 }, (_, i) => entry(i, "ok")), entry(1000, "failed")];
    const long = formatSummary(report(many));
    assert.deepEqual(
      long.slice(1, -2).map((l) => l.split(" ")[0]),
      ["m1000@contoso.test"],
    );
    assert.match(long.at(-2)!, /1000 mailboxes ok not listed/);
    assert.equal(long.at(-1), "1001 mailboxes: 1000 ok, 1 failed");
  });

  it("says a remedy shared by many mailboxes once, with how many and a few of them", () => {
    const wait = "Waiting for an access token.";
    const entries = [
      ...Array.from({ length: 300 }, (_, i) => entry(i, "pending", wait)),
      entry(300, "failed", "Grant FullAccess to m300."),
    ];
    const lines = formatRemedies(report(entries));
    assert.equal(lines.length, 3);
    assert.match(
      lines[1]!,
      /^- 300 mailboxes \(m0@contoso\.test, m1@contoso\.test, .*, … see the report\): Waiting/,
    );
    assert.equal(lines[2], "- m300@contoso.test: Grant FullAccess to m300.");
  });
});
