// When each mailbox runs: a number of slots (fixed, or a limit that changes while it runs),
// delayed items giving their slot to others. Ours rather than p-queue's: a limit that moves while
// it runs, items that hand back their slot with a delay, and soon per-mailbox caps and largest or
// delayed items first (big mailboxes split across runs) are not what p-queue offers.
import { systemClock, type Clock } from "./clock.js";
import { fixedLimit, type ConcurrencyLimit } from "./limit.js";

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
  items: readonly T[],
  opts: { concurrency: number | ConcurrencyLimit; signal: AbortSignal; clock?: Clock },
  work: (item: T) => Promise<{ againInMs?: number }>,
): Promise<T[]> {
  const clock = opts.clock ?? systemClock;
  const now = () => clock.now();
  // Items never started, from `next` on; and the few that asked to run again later. Taking the
  // next item costs the same whatever the length of the list.
  let next = 0;
  const delayed: Job<T>[] = [];
  const waiting = () => items.length - next + delayed.length;
  /** A job whose wait is over first (it was in line before the others), then a new item. */
  const take = (): T | undefined => {
    const at = now();
    const due = delayed.findIndex((job) => job.notBefore <= at);
    if (due !== -1) return delayed.splice(due, 1)[0]!.item;
    return next < items.length ? items[next++] : undefined;
  };
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
      const timer = Number.isFinite(ms)
        ? clock.setTimeout(done, Math.max(0, ms - now()))
        : undefined;
      function done() {
        if (timer !== undefined) clock.clearTimeout(timer);
        wake.delete(done);
        resolve();
      }
      wake.add(done);
    });

  let inFlight = 0;
  const worker = async () => {
    while (!opts.signal.aborted) {
      if (inFlight >= limit.current()) {
        if (waiting() === 0 && inFlight === 0) return;
        await waitUntil(Number.POSITIVE_INFINITY);
        continue;
      }
      const item = take();
      if (item === undefined) {
        if (delayed.length === 0) {
          if (inFlight === 0) return;
          // A running job may come back with a delay: wait for it rather than exit.
          await waitUntil(Number.POSITIVE_INFINITY);
          continue;
        }
        await waitUntil(
          delayed.reduce((soonest, job) => Math.min(soonest, job.notBefore), Infinity),
        );
        continue;
      }
      inFlight++;
      try {
        const { againInMs } = await work(item);
        // Kept even after an abort: the caller gets it back among the unfinished items.
        if (againInMs !== undefined) delayed.push({ item, notBefore: now() + againInMs });
      } finally {
        inFlight--;
        wakeAll();
      }
    }
  };
  await Promise.all(Array.from({ length: limit.max }, worker));
  unsubscribe();
  opts.signal.removeEventListener("abort", wakeAll);
  return [...delayed.map((job) => job.item), ...items.slice(next)];
}
