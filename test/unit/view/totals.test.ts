// The totals every view shows: counts by state, messages and bytes of this run, rate, ETA.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ReportEntry } from "../../../src/report/schema.js";
import { Totals } from "../../../src/view/totals.js";

function ended(
  source: string,
  status: ReportEntry["status"],
  messages: number,
  bytes: number,
): ReportEntry {
  return {
    source,
    destination: source,
    status,
    attempts: [
      {
        start: "",
        exitCode: 0,
        logFile: "",
        messagesTransferred: messages,
        bytesTransferred: bytes,
      },
    ],
  };
}

describe("Totals", () => {
  it("moves mailboxes between states and counts each attempt's messages and bytes once", () => {
    let now = 0;
    const t = new Totals(["a", "b", "c"], () => now);
    assert.deepEqual(t.snapshot().counts, { pending: 3, running: 0, waiting: 0, ok: 0, failed: 0 });
    t.attemptStarted("a", 1);
    t.progress("a", { done: 5, total: 10 });
    t.waiting(ended("a", "pending", 5, 5000));
    assert.deepEqual(t.snapshot().counts, { pending: 2, running: 0, waiting: 1, ok: 0, failed: 0 });
    t.attemptStarted("a", 2);
    t.progress("a", { done: 10, total: 10 });
    t.finished(ended("a", "ok", 5, 5000));
    t.finished(ended("a", "ok", 5, 5000)); // said twice: counted once
    t.attemptStarted("b", 1);
    t.finished(ended("b", "failed", 0, 0));
    now = 1000;
    const s = t.snapshot();
    assert.deepEqual(s.counts, { pending: 1, running: 0, waiting: 0, ok: 1, failed: 1 });
    // The rerun's progress counts again the 5 the first attempt handled (imapsync's left/total
    // spans the whole mailbox on a rerun): 5 handled by attempt 1, 5 more by attempt 2.
    assert.equal(s.messages, 10, "what a rerun found already there is not counted twice");
    assert.equal(s.bytes, 10_000);
  });

  it("reruns after throttling, as the real imapsync printed them: each message counted once", () => {
    // fixtures/imapsync-2.229-throttle: a 300-message mailbox, each attempt's copies and its last
    // `left/total`. A rerun counts from the top of the mailbox, refused messages too: attempt 5
    // ends at -32 left, though it copied only 88.
    const attempts = [
      { copied: 90, left: 210, total: 300 },
      { copied: 0, left: 0, total: 0 },
      { copied: 90, left: 120, total: 300 },
      { copied: 0, left: 0, total: 0 },
      { copied: 88, left: -32, total: 300 },
      { copied: 0, left: 0, total: 0 },
      { copied: 32, left: 0, total: 300 },
    ];
    const t = new Totals(["a"], () => 0);
    const seen: number[] = [];
    for (const [i, { copied, left, total }] of attempts.entries()) {
      t.attemptStarted("a", i + 1);
      t.progress("a", { done: total - left, total });
      seen.push(t.snapshot().messages);
      const last = i === attempts.length - 1;
      const entry = ended("a", last ? "ok" : "pending", copied, copied * 1000);
      if (last) t.finished(entry);
      else t.waiting(entry);
      seen.push(t.snapshot().messages);
    }
    assert.deepEqual(seen, [90, 90, 90, 90, 180, 180, 180, 180, 300, 268, 268, 268, 300, 300]);
  });

  it("lists the waiting mailboxes, the soonest next try first, with why they wait", () => {
    const t = new Totals(["a", "b", "c"], () => 0);
    const waits: [string, string | undefined][] = [
      ["a", "1970-01-01T00:05:00.000Z"],
      ["b", "1970-01-01T00:01:00.000Z"],
      ["c", undefined],
    ];
    for (const [source, nextAttemptAt] of waits) {
      t.attemptStarted(source, 1);
      t.waiting({ ...ended(source, "pending", 0, 0), class: "throttled", nextAttemptAt });
    }
    assert.deepEqual(t.waitingList(2), [
      { source: "c", cls: "throttled", nextAt: undefined },
      { source: "b", cls: "throttled", nextAt: 60_000 },
    ]);
    t.attemptStarted("c", 2);
    assert.deepEqual(
      t.waitingList(5).map((w) => w.source),
      ["b", "a"],
    );
  });

  it("a run that printed no progress still counts what it copied", () => {
    const t = new Totals(["a"], () => 0);
    t.attemptStarted("a", 1);
    t.finished(ended("a", "ok", 7, 700));
    assert.equal(t.snapshot().messages, 7);
  });

  it("rate over the last minute, ETA from the sizes seen so far", () => {
    let now = 0;
    const t = new Totals(["a", "b", "c", "d"], () => now);
    t.attemptStarted("a", 1);
    t.attemptStarted("b", 1);
    assert.equal(t.snapshot().etaSeconds, undefined, "no rate, no sizes: unknown");
    now = 10_000;
    t.progress("a", { done: 60, total: 100 });
    t.progress("b", { done: 40, total: 100 });
    const s = t.snapshot();
    assert.equal(s.messagesPerSecond, 10);
    // Left: 40 + 60 for the running ones, 2 × 100 (the average size) for the two pending.
    assert.equal(s.etaSeconds, 30);
  });

  it("lists the running mailboxes, longest-running first, at most the limit", () => {
    let now = 0;
    const t = new Totals([], () => now);
    for (const source of ["x", "y", "z"]) {
      t.attemptStarted(source, 1);
      now += 1000;
    }
    assert.deepEqual(
      t.running(2).map((r) => r.source),
      ["x", "y"],
    );
    assert.equal(t.snapshot().counts.running, 3);
  });
});
