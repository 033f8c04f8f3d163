import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  decideRetry,
  MAX_TOTAL_ATTEMPTS,
  type AttemptOutcome,
} from "../../../src/outcomes/retry-policy.js";
import { schedule } from "../../../src/engine/scheduler.js";
import type { RunClass } from "../../../src/outcomes/classes.js";

const LIMITS = { maxAttempts: 3, maxBackoffMs: 600_000 };
const outcome = (cls: RunClass, more: Partial<AttemptOutcome> = {}): AttemptOutcome => ({
  class: cls,
  lostConnection: false,
  copied: 0,
  ...more,
});
const first = { total: 1, unproductive: 1 };

describe("decideRetry", () => {
  it("never retries what a rerun cannot fix", () => {
    for (const cls of [
      "ok",
      "not_delegated",
      "auth_failed_source",
      "auth_failed_destination",
      "quota_exceeded",
      "tls_failed",
      "interrupted",
    ] as const) {
      assert.equal(decideRetry(outcome(cls), first, LIMITS).retry, false, cls);
    }
  });

  it("reruns token_expired at once with a renewed token", () => {
    assert.deepEqual(decideRetry(outcome("token_expired"), first, LIMITS), {
      retry: true,
      delayMs: 0,
      renewToken: true,
      reason: "the access token expired",
    });
  });

  it("waits the suggested throttling backoff, capped by --max-backoff, 300 s when none given", () => {
    const wait = (backoffMs: number | undefined, maxBackoffMs: number) => {
      const d = decideRetry(outcome("throttled", { backoffMs }), first, {
        ...LIMITS,
        maxBackoffMs,
      });
      return d.retry ? d.delayMs : undefined;
    };
    assert.equal(wait(299_609, 600_000), 299_609);
    assert.equal(wait(299_609, 60_000), 60_000);
    assert.equal(wait(undefined, 600_000), 300_000);
  });

  it("backs off exponentially after lost connections and partial runs", () => {
    const delays = [1, 2, 3].map((unproductive) => {
      const d = decideRetry(
        outcome("connect_failed_destination"),
        { total: unproductive, unproductive },
        { maxAttempts: 10, maxBackoffMs: 40_000 },
      );
      return d.retry ? d.delayMs : -1;
    });
    assert.deepEqual(delays, [15_000, 30_000, 40_000]);
    assert.equal(decideRetry(outcome("partial"), first, LIMITS).retry, true);
  });

  it("retries `other` only when the connection was lost", () => {
    assert.equal(decideRetry(outcome("other"), first, LIMITS).retry, false);
    assert.equal(
      decideRetry(outcome("other", { lostConnection: true }), first, LIMITS).retry,
      true,
    );
  });

  it("counts only attempts that copied nothing against --max-attempts", () => {
    const givenUp = decideRetry(outcome("partial"), { total: 3, unproductive: 3 }, LIMITS);
    assert.equal(givenUp.retry, false);
    assert.match(givenUp.retry ? "" : (givenUp.reason ?? ""), /3 attempts that copied nothing/);
    // Ten productive attempts and two empty ones: still worth another go.
    assert.equal(
      decideRetry(outcome("token_expired"), { total: 12, unproductive: 2 }, LIMITS).retry,
      true,
    );
    assert.equal(
      decideRetry(outcome("token_expired"), { total: MAX_TOTAL_ATTEMPTS, unproductive: 0 }, LIMITS)
        .retry,
      false,
    );
  });
});

const tick = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("schedule", () => {
  it("never runs more than `concurrency` items at once, and runs each until it stops asking", async () => {
    let running = 0;
    let peak = 0;
    const runs = new Map<number, number>();
    const unfinished = await schedule(
      [1, 2, 3, 4, 5],
      { concurrency: 2, signal: new AbortController().signal },
      async (item) => {
        running++;
        peak = Math.max(peak, running);
        await tick(5);
        running--;
        const count = (runs.get(item) ?? 0) + 1;
        runs.set(item, count);
        return item === 3 && count < 3 ? { againInMs: 1 } : {};
      },
    );
    assert.equal(peak, 2);
    assert.deepEqual(unfinished, []);
    assert.deepEqual([...runs].sort(), [
      [1, 1],
      [2, 1],
      [3, 3],
      [4, 1],
      [5, 1],
    ]);
  });

  it("gives a waiting item's slot to another item instead of sleeping in it", async () => {
    const order: string[] = [];
    let waited = false;
    await schedule(
      ["slow", "b", "c"],
      { concurrency: 1, signal: new AbortController().signal },
      async (item) => {
        order.push(item);
        if (item === "slow" && !waited) {
          waited = true;
          return { againInMs: 50 };
        }
        return {};
      },
    );
    assert.deepEqual(order, ["slow", "b", "c", "slow"]);
  });

  it("stops starting on abort and returns what never finished, waiting items included", async () => {
    const controller = new AbortController();
    const started: number[] = [];
    const unfinished = await schedule(
      [1, 2, 3, 4],
      { concurrency: 2, signal: controller.signal },
      async (item) => {
        started.push(item);
        await tick(20);
        if (item === 1) controller.abort();
        return item === 2 ? { againInMs: 10_000 } : {};
      },
    );
    assert.deepEqual(started.sort(), [1, 2]);
    assert.deepEqual(unfinished.sort(), [2, 3, 4]);
  });
});
