// When each mailbox runs: a number of slots (fixed, or a limit that changes while it runs),
// delayed items giving their slot to others. Ours rather than p-queue's: a limit that moves while
// it runs, items that hand back their slot with a delay, items that bring others (a big
// mailbox's slices) and caps per group (runs on one mailbox) are not what p-queue offers.
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
 * waiting (one slot per waiting group is kept for it). Stops starting new work once `signal` is
 * aborted and returns the items that never finished.
 */
export async function schedule<T>(
  items: readonly T[],
  opts: {
    concurrency: number | ConcurrencyLimit;
    signal: AbortSignal;
    clock?: Clock;
    /**
     * Items of one group (a mailbox's slices) run at most `cap(group)` at a time; a cap that
     * rises while nothing ends says so through `subscribe`.
     */
    groups?: {
      of: (item: T) => string | undefined;
      cap: (group: string) => number;
      subscribe?: (wake: () => void) => () => void;
    };
  },
  work: (item: T) => Promise<{ againInMs?: number; then?: T[] }>,
): Promise<T[]> {
  const clock = opts.clock ?? systemClock;
  const now = () => clock.now();
  // Items never started, from `next` on; and the few that asked to run again later. Taking the
  // next item costs the same whatever the length of the list.
  let next = 0;
  const delayed: Job<T>[] = [];
  // Items that work brought (`then`): they go before new items, which are smaller (largest first).
  const ready: T[] = [];
  const waiting = () => items.length - next + delayed.length + ready.length;
  const running = new Map<string, number>();
  let inFlight = 0;
  const groupOf = (item: T) => opts.groups?.of(item);
  /** Per group, its delayed jobs (only groups with some). */
  const delayedIn = new Map<string, number>();
  const countDelayed = (item: T, change: 1 | -1) => {
    const group = groupOf(item);
    if (group === undefined) return;
    const count = (delayedIn.get(group) ?? 0) + change;
    if (count === 0) delayedIn.delete(group);
    else delayedIn.set(group, count);
  };
  const allowed = (item: T) => {
    const group = groupOf(item);
    return group === undefined || (running.get(group) ?? 0) < opts.groups!.cap(group);
  };
  /**
   * Slots kept for groups waiting out a delay with none of their items running (a big mailbox's
   * slices between two refusals): its next try starts when its wait ends, not when a smaller
   * mailbox that took its slot does. A late try would also teach it a longer wait than the server
   * asked for (engine/sliced.ts), paid at every later refusal. At least one slot stays for the
   * others. Counted per group as jobs wait and go (`delayedIn`), not by a look at every waiting
   * job at each start (that look measured 8.9 ms of tool CPU per mailbox at 10,000 under load 2-4,
   * this tally 6.7 ms on a quiet machine: not a paired figure, so the measured one stays).
   */
  const kept = () => {
    let waitingGroups = 0;
    for (const group of delayedIn.keys()) if (!running.get(group)) waitingGroups++;
    return Math.min(waitingGroups, limit.current() - 1);
  };
  /** A job whose wait is over first (it was in line before the others), then a new item. */
  const take = (): T | undefined => {
    const at = now();
    const due = delayed.findIndex((job) => job.notBefore <= at && allowed(job.item));
    if (due !== -1) {
      const { item } = delayed.splice(due, 1)[0]!;
      countDelayed(item, -1);
      return item;
    }
    const brought = ready.findIndex(allowed);
    if (brought !== -1) return ready.splice(brought, 1)[0];
    if (inFlight >= limit.current() - kept()) return undefined;
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
  const unsubscribeGroups = opts.groups?.subscribe?.(wakeAll);

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

  const worker = async () => {
    while (!opts.signal.aborted) {
      if (inFlight >= limit.current()) {
        if (waiting() === 0 && inFlight === 0) return;
        await waitUntil(Number.POSITIVE_INFINITY);
        continue;
      }
      const item = take();
      if (item === undefined) {
        if (delayed.length === 0 && ready.length === 0 && inFlight === 0) return;
        // A running job may come back with a delay, or end and free its group: wait for it. A
        // delayed job held only by its group's cap waits for that too, not for its time.
        const soonest = delayed.reduce(
          (at, job) => (allowed(job.item) ? Math.min(at, job.notBefore) : at),
          Number.POSITIVE_INFINITY,
        );
        await waitUntil(soonest);
        continue;
      }
      inFlight++;
      const group = groupOf(item);
      if (group !== undefined) running.set(group, (running.get(group) ?? 0) + 1);
      try {
        const { againInMs, then } = await work(item);
        // Kept even after an abort: the caller gets it back among the unfinished items.
        if (againInMs !== undefined) {
          delayed.push({ item, notBefore: now() + againInMs });
          countDelayed(item, +1);
        }
        if (then) ready.push(...then);
      } finally {
        inFlight--;
        if (group !== undefined) running.set(group, running.get(group)! - 1);
        wakeAll();
      }
    }
  };
  await Promise.all(Array.from({ length: limit.max }, worker));
  unsubscribe();
  unsubscribeGroups?.();
  opts.signal.removeEventListener("abort", wakeAll);
  return [...delayed.map((job) => job.item), ...ready, ...items.slice(next)];
}
