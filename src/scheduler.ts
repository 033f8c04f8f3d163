import { DEFAULT_BACKOFF_MS, retryPolicy } from "./remedies.js";
import { fixedLimit, type ConcurrencyLimit } from "./engine/limit.js";
import type { RunClass } from "./types.js";

/** What the scheduler needs to know about one finished attempt; it never sees log lines. */
export interface AttemptOutcome {
  class: RunClass;
  backoffMs?: number;
  lostConnection: boolean;
  /** Messages this attempt copied; an attempt that copied something is progress, not a failure. */
  copied: number;
}

export interface RetryLimits {
  /** Attempts that copied nothing, after which a mailbox is given up. */
  maxAttempts: number;
  maxBackoffMs: number;
}

export type RetryDecision =
  | { retry: false; reason?: string }
  | { retry: true; delayMs: number; renewToken: boolean; reason: string };

/** However productive each attempt is, a mailbox stops after this many (a safety net). */
export const MAX_TOTAL_ATTEMPTS = 50;
const BASE_DELAY_MS = 15_000;

/**
 * Whether and when to run a mailbox again. `history` counts this mailbox's attempts so far,
 * including the one that just ended.
 */
export function decideRetry(
  outcome: AttemptOutcome,
  history: { total: number; unproductive: number },
  limits: RetryLimits,
): RetryDecision {
  const policy = retryPolicy(outcome.class);
  if (policy === "never") return { retry: false };
  if (outcome.class === "other" && !outcome.lostConnection) return { retry: false };
  if (history.unproductive >= limits.maxAttempts) {
    return {
      retry: false,
      reason: `gave up after ${history.unproductive} attempts that copied nothing (--max-attempts ${limits.maxAttempts})`,
    };
  }
  if (history.total >= MAX_TOTAL_ATTEMPTS) {
    return { retry: false, reason: `gave up after ${history.total} attempts` };
  }
  switch (policy) {
    case "refresh_token":
      return { retry: true, delayMs: 0, renewToken: true, reason: "the access token expired" };
    case "backoff": {
      const delayMs = Math.min(outcome.backoffMs ?? DEFAULT_BACKOFF_MS, limits.maxBackoffMs);
      return {
        retry: true,
        delayMs,
        renewToken: false,
        reason: "Office 365 throttled the mailbox",
      };
    }
    case "exponential": {
      const exponent = Math.max(0, history.unproductive - 1);
      const delayMs = Math.min(BASE_DELAY_MS * 2 ** exponent, limits.maxBackoffMs);
      return { retry: true, delayMs, renewToken: false, reason: `the run ended ${outcome.class}` };
    }
  }
}

export interface Job<T> {
  item: T;
  /** Earliest time (ms since epoch) the job may start again. */
  notBefore: number;
}

/**
 * Runs `work` for every item, `concurrency` at a time (a number, or a limit that changes while it
 * runs: a lower limit lets running work finish and starts nothing until below it). `work` returns
 * a delay when the item must run again later; the slot is then given to another item instead of
 * waiting. Stops starting new work once `signal` is aborted and returns the items that never
 * finished.
 */
export async function schedule<T>(
  items: T[],
  opts: { concurrency: number | ConcurrencyLimit; signal: AbortSignal; now?: () => number },
  work: (item: T) => Promise<{ againInMs?: number }>,
): Promise<T[]> {
  const now = opts.now ?? Date.now;
  const queue: Job<T>[] = items.map((item) => ({ item, notBefore: 0 }));
  const wake = new Set<() => void>();
  const wakeAll = () => {
    for (const resolve of wake) resolve();
    wake.clear();
  };
  opts.signal.addEventListener("abort", wakeAll, { once: true });
  const limit =
    typeof opts.concurrency === "number" ? fixedLimit(opts.concurrency) : opts.concurrency;
  const unsubscribe = limit.subscribe(wakeAll);

  const waitUntil = (ms: number) =>
    new Promise<void>((resolve) => {
      // An infinite wait has no timer: only a finishing job or an abort ends it.
      const timer = Number.isFinite(ms) ? setTimeout(done, Math.max(0, ms - now())) : undefined;
      function done() {
        clearTimeout(timer);
        wake.delete(done);
        resolve();
      }
      wake.add(done);
    });

  let inFlight = 0;
  const worker = async () => {
    while (!opts.signal.aborted) {
      if (inFlight >= limit.current()) {
        if (queue.length === 0 && inFlight === 0) return;
        await waitUntil(Number.POSITIVE_INFINITY);
        continue;
      }
      const ready = queue.findIndex((job) => job.notBefore <= now());
      if (ready === -1) {
        if (queue.length === 0) {
          if (inFlight === 0) return;
          // A running job may come back with a delay: wait for it rather than exit.
          await waitUntil(Number.POSITIVE_INFINITY);
          continue;
        }
        await waitUntil(Math.min(...queue.map((job) => job.notBefore)));
        continue;
      }
      const [job] = queue.splice(ready, 1) as [Job<T>];
      inFlight++;
      try {
        const { againInMs } = await work(job.item);
        // Kept even after an abort: the caller gets it back among the unfinished items.
        if (againInMs !== undefined) queue.push({ item: job.item, notBefore: now() + againInMs });
      } finally {
        inFlight--;
        wakeAll();
      }
    }
  };
  await Promise.all(Array.from({ length: limit.max }, worker));
  unsubscribe();
  opts.signal.removeEventListener("abort", wakeAll);
  return queue.map((job) => job.item);
}
