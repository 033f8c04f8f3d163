import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { mergeReports, type ShardReport } from "../../../src/report/merge.js";
import type { ReportEntry } from "../../../src/report/schema.js";
import { assertInputError } from "../../helpers/input-error.js";

const DIGEST = "sha256:1f2e";

function entry(source: string, status: ReportEntry["status"], starts: string[]): ReportEntry {
  return {
    source,
    destination: source.replace("contoso.com", "example.org"),
    status,
    class: status === "ok" ? "ok" : status === "failed" ? "not_delegated" : undefined,
    attempts: starts.map((start, i) => ({
      start,
      end: start,
      exitCode: status === "ok" ? 0 : 1,
      logFile: `/work/logs/${source}/attempt-${i + 1}.log`,
    })),
  };
}

function shard(
  file: string,
  index: number,
  count: number,
  mailboxes: ReportEntry[],
  more: Partial<ShardReport["report"]> = {},
): ShardReport {
  return {
    file,
    report: {
      schemaVersion: 1,
      startedAt: `2026-12-01T0${index}:00:00.000Z`,
      endedAt: `2026-12-01T1${index}:00:00.000Z`,
      usersFile: `/mnt/pod-${index}/users.csv`,
      usersDigest: DIGEST,
      shard: { index, count },
      mailboxes,
      ...more,
    },
  };
}

const refuses = (inputs: ShardReport[], where: string, problem: RegExp) =>
  assertInputError(() => mergeReports(inputs), where, problem);

describe("report merge", () => {
  test("three shards make one report: every mailbox once, in report order, no warning", () => {
    const merged = mergeReports([
      shard("s0/report.json", 0, 3, [
        entry("carol@contoso.com", "failed", ["2026-12-01T00:01:00Z"]),
      ]),
      shard("s1/report.json", 1, 3, [entry("bob@contoso.com", "ok", ["2026-12-01T01:01:00Z"])]),
      shard("s2/report.json", 2, 3, [
        entry("alice@contoso.com", "ok", ["2026-12-01T02:01:00Z"]),
        entry("dave@contoso.com", "interrupted", ["2026-12-01T02:02:00Z"]),
      ]),
    ]);
    assert.deepEqual(merged.warnings, []);
    const { report } = merged;
    assert.deepEqual(
      report.mailboxes.map((e) => [e.source, e.status]),
      [
        ["carol@contoso.com", "failed"],
        ["bob@contoso.com", "ok"],
        ["alice@contoso.com", "ok"],
        ["dave@contoso.com", "interrupted"],
      ],
    );
    assert.equal(report.schemaVersion, 1);
    assert.equal(report.usersDigest, DIGEST);
    assert.equal(report.shard, undefined, "the merged report is no shard's");
    assert.equal(report.startedAt, "2026-12-01T00:00:00.000Z", "the earliest start");
    assert.equal(report.endedAt, "2026-12-01T12:00:00.000Z", "the latest end");
    assert.equal(report.usersFile, "/mnt/pod-0/users.csv");
    assert.deepEqual(report.mergedFrom, ["s0/report.json", "s1/report.json", "s2/report.json"]);
  });

  test("a mailbox in two reports keeps its latest attempt, whichever report comes first", () => {
    const older = entry("alice@contoso.com", "failed", ["2026-12-01T00:01:00Z"]);
    const newer = entry("Alice@contoso.com", "ok", [
      "2026-12-01T00:01:00Z",
      "2026-12-02T08:00:00Z",
    ]);
    for (const order of [
      [shard("a.json", 0, 2, [older]), shard("b.json", 1, 2, [newer])],
      [shard("b.json", 1, 2, [newer]), shard("a.json", 0, 2, [older])],
    ]) {
      const merged = mergeReports(order);
      assert.equal(merged.report.mailboxes.length, 1);
      assert.equal(merged.report.mailboxes[0], newer);
      assert.deepEqual(
        merged.warnings.filter((w) => w.includes("kept the latest attempt")),
        [
          `Alice@contoso.com is in ${order.map((o) => o.file).join(" and ")}: kept the latest attempt, from b.json`,
        ],
      );
    }
  });

  test("a mailbox that never ran loses to one that did", () => {
    const ran = entry("bob@contoso.com", "failed", ["2026-12-01T00:01:00Z"]);
    const pending = entry("bob@contoso.com", "pending", []);
    const merged = mergeReports([shard("a.json", 0, 2, [pending]), shard("b.json", 1, 2, [ran])]);
    assert.equal(merged.report.mailboxes[0], ran);
    assert.equal(merged.warnings.length, 1);
  });

  test("missing shards, one shard twice, different counts and unfinished shards are warnings", () => {
    const merged = mergeReports([
      shard("a.json", 0, 3, [entry("a@contoso.com", "ok", ["2026-12-01T00:01:00Z"])]),
      shard("b.json", 0, 3, [entry("b@contoso.com", "ok", ["2026-12-01T00:01:00Z"])], {
        endedAt: undefined,
      }),
      shard("c.json", 1, 4, [entry("c@contoso.com", "ok", ["2026-12-01T00:01:00Z"])]),
    ]);
    assert.deepEqual(merged.warnings, [
      "the reports come from different shard counts (3, 4): a mailbox that moved between shards appears twice, and its latest attempt is kept",
      "b.json and a.json are both shard 0/3",
      "no report of shard 1/3 was given: its mailboxes are not in the merged report",
      "no report of shard 2/3 was given: its mailboxes are not in the merged report",
      "no report of shard 0/4 was given: its mailboxes are not in the merged report",
      "no report of shard 2/4 was given: its mailboxes are not in the merged report",
      "no report of shard 3/4 was given: its mailboxes are not in the merged report",
      "b.json has no end time: that shard is still running or was killed, so mailboxes it shows running may have moved on",
    ]);
    assert.equal(merged.report.endedAt, undefined, "not ended while one shard has not");
    assert.equal(merged.report.mailboxes.length, 3);
  });

  test("another users file is refused by its digest, whatever the paths say", () => {
    const a = shard("s0/report.json", 0, 2, [], { usersFile: "/config/users.csv" });
    const b = shard("s1/report.json", 1, 2, [], {
      usersFile: "/config/users.csv",
      usersDigest: "sha256:9999",
    });
    refuses(
      [a, b],
      "s1/report.json",
      /another users file than s0\/report.json \(\/config\/users.csv has digest sha256:9999, \/config\/users.csv had sha256:1f2e\)\. Merge only the shards of one migration/,
    );
    // Same list under two paths (two pods mount it differently): merged.
    const c = shard("s1/report.json", 1, 2, [], { usersFile: "/elsewhere/list.csv" });
    assert.equal(mergeReports([a, c]).report.usersDigest, DIGEST);
  });

  test("a report without a digest (older version) is refused with the way out", () => {
    refuses(
      [shard("a.json", 0, 2, []), shard("b.json", 1, 2, [], { usersDigest: undefined })],
      "b.json",
      /does not record the digest of its users file.*Rerun `migrate --resume` on that shard/,
    );
  });

  test("different schema versions are refused, naming both files", () => {
    refuses(
      [shard("a.json", 0, 2, []), shard("b.json", 1, 2, [], { schemaVersion: 2 })],
      "b.json",
      /schema version 2 but a.json has 1\. Merge reports written by the same version/,
    );
    refuses(
      [
        shard("a.json", 0, 2, [], { schemaVersion: 7 }),
        shard("b.json", 1, 2, [], { schemaVersion: 7 }),
      ],
      "a.json",
      /schema version 7, which this version of m365-imapsync does not write \(1\)/,
    );
  });

  test("no report at all is an input error", () => {
    refuses([], "report merge", /no report was given/);
  });

  test("unsharded reports merge too (two machines, each with its own --only)", () => {
    const merged = mergeReports([
      shard("a.json", 0, 1, [entry("a@contoso.com", "ok", ["2026-12-01T00:01:00Z"])], {
        shard: undefined,
      }),
      shard("b.json", 0, 1, [entry("b@contoso.com", "ok", ["2026-12-01T00:01:00Z"])], {
        shard: undefined,
      }),
    ]);
    assert.deepEqual(merged.warnings, []);
    assert.equal(merged.report.mailboxes.length, 2);
  });
});
