// When each mailbox runs: a fixed number of slots, delayed items giving their slot to others.
import { systemClock, type Clock } from "./clock.js";

export interface Job<T> {
  item: T;
  /** Earliest time (ms since epoch) the job may start again. */
  notBefore: number;
}

/**
 * Runs `work` for every item, `concurrency` at a time. `work` returns a delay when the item must
 * run again later; the slot is then given to another item instead of waiting. Stops starting new
 * work once `signal` is aborted and returns the items that never finished.
 */
export async function schedule<T>(
  items: T[],
  opts: { concurrency: number; signal: AbortSignal; clock?: Clock },
  work: (item: T) => Promise<{ againInMs?: number }>,
): Promise<T[]> {
  const clock = opts.clock ?? systemClock;
  const now = () => clock.now();
  const queue: Job<T>[] = items.map((item) => ({ item, notBefore: 0 }));
  const wake = new Set<() => void>();
  const wakeAll = () => {
    for (const resolve of wake) resolve();
    wake.clear();
  };
  opts.signal.addEventListener("abort", wakeAll, { once: true });

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
  await Promise.all(Array.from({ length: Math.max(1, opts.concurrency) }, worker));
  opts.signal.removeEventListener("abort", wakeAll);
  return queue.map((job) => job.item);
}
