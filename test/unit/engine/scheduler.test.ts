import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  decideRetry,
  MAX_TOTAL_ATTEMPTS,
  type AttemptOutcome,
  type RetryHistory,
} from "../../../src/outcomes/retry-policy.js";
import { schedule } from "../../../src/engine/scheduler.js";
import type { RunClass } from "../../../src/outcomes/classes.js";

const LIMITS = { maxAttempts: 3, maxBackoffMs: 600_000, throttleGiveUpMs: 12 * 3_600_000 };
const outcome = (cls: RunClass, more: Partial<AttemptOutcome> = {}): AttemptOutcome => ({
  class: cls,
  lostConnection: false,
  copied: 0,
  ...more,
});
const history = (more: Partial<RetryHistory> = {}): RetryHistory => ({
  total: 1,
  unproductive: 1,
  throttledAgain: 0,
  quietMs: 0,
  ...more,
});
const first = history();

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

  it("throttled again right after a wait: the wait doubles each time, less up to a fifth at random, within --max-backoff", () => {
    const wait = (throttledAgain: number, random: number, maxBackoffMs = 600_000) => {
      const d = decideRetry(
        outcome("throttled", { backoffMs: 3000 }),
        history({ throttledAgain }),
        { ...LIMITS, maxBackoffMs },
        false,
        () => random,
      );
      assert.ok(d.retry);
      return { delayMs: d.delayMs, throttle: d.throttle };
    };
    // The suggestion itself is never shortened.
    assert.deepEqual(wait(0, 0.99), {
      delayMs: 3000,
      throttle: { suggestedMs: 3000, doublings: 0, capped: false },
    });
    assert.equal(wait(1, 0).delayMs, 6000);
    assert.equal(wait(1, 0.5).delayMs, 5400);
    assert.equal(wait(3, 0).delayMs, 24_000);
    assert.equal(wait(3, 0.999_999).delayMs, 19_200);
    // The cap holds, jitter below it; never below the suggestion.
    assert.deepEqual(wait(8, 0, 60_000), {
      delayMs: 60_000,
      throttle: { suggestedMs: 3000, doublings: 8, capped: true },
    });
    assert.equal(wait(8, 0.5, 60_000).delayMs, 54_000);
    assert.equal(wait(1000, 0, 60_000).delayMs, 60_000);
    assert.equal(wait(1, 0.999_999, 3500).delayMs, 3000);
  });

  it("a sliced mailbox's remembered wait: where its episode starts and doubles from, never below the suggestion, within --max-backoff", () => {
    const wait = (throttledAgain: number, rememberedMs: number, maxBackoffMs = 600_000) => {
      const d = decideRetry(
        outcome("throttled", { backoffMs: 3000 }),
        history({ throttledAgain, rememberedMs }),
        { ...LIMITS, maxBackoffMs },
        false,
        () => 0,
      );
      assert.ok(d.retry);
      return { delayMs: d.delayMs, throttle: d.throttle };
    };
    assert.deepEqual(wait(0, 10_500), {
      delayMs: 10_500,
      throttle: { suggestedMs: 3000, doublings: 0, capped: false, remembered: true },
    });
    assert.equal(wait(1, 10_500).delayMs, 21_000);
    // Shorter than the suggestion: the suggestion, as without it.
    assert.deepEqual(wait(0, 2000), {
      delayMs: 3000,
      throttle: { suggestedMs: 3000, doublings: 0, capped: false },
    });
    assert.deepEqual(wait(0, 90_000, 60_000), {
      delayMs: 60_000,
      throttle: { suggestedMs: 3000, doublings: 0, capped: true, remembered: true },
    });
  });

  it("a throttled attempt counts toward neither --max-attempts nor the safety net", () => {
    const d = decideRetry(
      outcome("throttled"),
      history({ total: MAX_TOTAL_ATTEMPTS + 10, unproductive: 99 }),
      LIMITS,
    );
    assert.equal(d.retry, true);
  });

  it("gives a throttled mailbox up only once THROTTLE_GIVE_UP passes without a copied message; 0 never", () => {
    const budget = 2 * 3_600_000;
    const limits = { ...LIMITS, throttleGiveUpMs: budget };
    assert.equal(
      decideRetry(outcome("throttled"), history({ quietMs: budget - 1 }), limits).retry,
      true,
    );
    const givenUp = decideRetry(outcome("throttled"), history({ quietMs: budget }), limits);
    assert.equal(givenUp.retry, false);
    assert.equal(
      givenUp.retry ? "" : givenUp.reason,
      "gave up: throttled, and no message copied for 2 hours (THROTTLE_GIVE_UP 2h00m)",
    );
    assert.equal(
      decideRetry(outcome("throttled"), history({ quietMs: 1e12 }), {
        ...LIMITS,
        throttleGiveUpMs: 0,
      }).retry,
      true,
    );
  });

  it("backs off exponentially after lost connections and partial runs", () => {
    const delays = [1, 2, 3].map((unproductive) => {
      const d = decideRetry(
        outcome("connect_failed_destination"),
        history({ total: unproductive, unproductive }),
        { ...LIMITS, maxAttempts: 10, maxBackoffMs: 40_000 },
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
    const givenUp = decideRetry(outcome("partial"), history({ total: 3, unproductive: 3 }), LIMITS);
    assert.equal(givenUp.retry, false);
    assert.match(givenUp.retry ? "" : (givenUp.reason ?? ""), /3 attempts that copied nothing/);
    // Ten productive attempts and two empty ones: still worth another go.
    assert.equal(
      decideRetry(outcome("token_expired"), history({ total: 12, unproductive: 2 }), LIMITS).retry,
      true,
    );
    assert.equal(
      decideRetry(
        outcome("token_expired"),
        history({ total: MAX_TOTAL_ATTEMPTS, unproductive: 0 }),
        LIMITS,
      ).retry,
      false,
    );
  });
});

const tick = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("schedule", () => {
  it("runs the items an item brings before new ones, at most `cap` of one group at once", async () => {
    const order: string[] = [];
    const peak = new Map<string, number>();
    const running = new Map<string, number>();
    const group = (item: string) => (item.includes("#") ? item.split("#")[0] : undefined);
    await schedule(
      ["big", "small1", "small2", "small3", "small4"],
      {
        concurrency: 4,
        signal: new AbortController().signal,
        groups: { of: group, cap: () => 2 },
      },
      async (item) => {
        order.push(item);
        if (item === "big") return { then: ["big#1", "big#2", "big#3"] };
        const g = group(item) ?? item;
        running.set(g, (running.get(g) ?? 0) + 1);
        peak.set(g, Math.max(peak.get(g) ?? 0, running.get(g)!));
        await tick(5);
        running.set(g, running.get(g)! - 1);
        return {};
      },
    );
    // big's slices go before small4, but never 3 of them at once: small4 takes the free slot.
    const at = (item: string) => order.indexOf(item);
    assert.ok(at("big#2") < at("small4") && at("small4") < at("big#3"), order.join(" "));
    assert.equal(peak.get("big"), 2);
    assert.equal(order.length, 8);
  });

  it("keeps a slot for a group waiting out a delay: its next try starts when its wait ends", async () => {
    const order: string[] = [];
    let bigRuns = 0;
    let smallsAtOnce = 0;
    let mostWhileBigWaits = 0;
    const blocked = new Set<() => void>();
    const releaseSmalls = () => {
      for (const release of blocked) release();
      blocked.clear();
    };
    await schedule(
      ["big#1", "small1", "small2", "small3"],
      {
        concurrency: 2,
        signal: new AbortController().signal,
        groups: { of: (item) => (item.includes("#") ? "big" : undefined), cap: () => 4 },
      },
      async (item) => {
        order.push(item);
        if (item === "big#1") {
          bigRuns++;
          if (bigRuns === 2) releaseSmalls();
          return bigRuns === 1 ? { againInMs: 20 } : {};
        }
        smallsAtOnce++;
        if (bigRuns < 2) mostWhileBigWaits = Math.max(mostWhileBigWaits, smallsAtOnce);
        // A small mailbox runs until big has run again; had a second one taken big's slot, big
        // could never run again: it lets them all go, and the assertions below say so.
        if (bigRuns < 2 && smallsAtOnce < 2) await new Promise<void>((r) => blocked.add(r));
        else releaseSmalls();
        smallsAtOnce--;
        return {};
      },
    );
    assert.equal(mostWhileBigWaits, 1);
    assert.deepEqual(order, ["big#1", "small1", "big#1", "small2", "small3"]);
  });

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
