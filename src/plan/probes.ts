// Where a folder too big for one slice is cut by date: the days whose `SINCE` counts (probes:
// `imapsync --justfoldersizes --folder F --search1 "SINCE d"`) split its messages into equal
// parts, found by bisection. Pure: the probes' counts in, the next days to probe or the cuts out.

const DAY_MS = 86_400_000;
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
/** No mail is older than this (IMAP's INTERNALDATE of anything migrated today). */
const EARLIEST = Date.UTC(1990, 0, 1);

/** IMAP date-text (RFC 3501 `date`): `7-Dec-2026`. */
export function imapDate(day: number): string {
  const d = new Date(day);
  return `${d.getUTCDate()}-${MONTHS[d.getUTCMonth()]}-${d.getUTCFullYear()}`;
}

/** One boundary being looked for: the day from which `target` messages remain. */
interface Search {
  target: number;
  /** Days (ms) with counts known on each side: count(lo) ≥ target ≥ count(hi). */
  lo: number;
  hi: number;
  found?: number;
}

export interface DateCuts {
  /** Messages in the folder; count(day) = messages with INTERNALDATE on or after day. */
  total: number;
  counts: Map<number, number>;
  searches: Search[];
}

/** Bisection for `parts` equal parts of a folder of `total` messages, up to `today`. */
export function startCuts(total: number, parts: number, today: number): DateCuts {
  const tomorrow = Math.floor(today / DAY_MS) * DAY_MS + DAY_MS;
  const counts = new Map([
    [EARLIEST, total],
    [tomorrow, 0],
  ]);
  const searches = Array.from({ length: Math.max(0, parts - 1) }, (_, i) => ({
    target: Math.round((total * (parts - 1 - i)) / parts),
    lo: EARLIEST,
    hi: tomorrow,
  }));
  return { total, counts, searches };
}

/** Close enough: a part within a twentieth of its size. */
function tolerance(cuts: DateCuts): number {
  return Math.max(1, Math.floor(cuts.total / (cuts.searches.length + 1) / 20));
}

/** The days to probe next (none: every cut is found or cannot be narrowed further). */
export function nextProbes(cuts: DateCuts): number[] {
  const days = new Set<number>();
  for (const s of cuts.searches) {
    if (s.found !== undefined || s.hi - s.lo <= DAY_MS) continue;
    days.add(Math.floor((s.lo + s.hi) / 2 / DAY_MS) * DAY_MS);
  }
  return [...days].filter((day) => !cuts.counts.has(day));
}

/** Records the probes' counts and narrows every search. */
export function recordProbes(cuts: DateCuts, results: Map<number, number>): void {
  for (const [day, count] of results) cuts.counts.set(day, count);
  const known = [...cuts.counts].sort((a, b) => a[0] - b[0]);
  for (const s of cuts.searches) {
    if (s.found !== undefined) continue;
    for (const [day, count] of known) {
      if (Math.abs(count - s.target) <= tolerance(cuts)) s.found = day;
      if (count >= s.target) s.lo = Math.max(s.lo, day);
      else s.hi = Math.min(s.hi, day);
    }
    if (s.found === undefined && s.hi - s.lo <= DAY_MS) {
      // One day holds the cut: the nearer side of it.
      const below = cuts.counts.get(s.lo)! - s.target;
      const above = s.target - cuts.counts.get(s.hi)!;
      s.found = below <= above ? s.lo : s.hi;
    }
  }
}

/**
 * The cuts, as IMAP dates in increasing order, or undefined when the folder cannot be cut by
 * date: most of its mail is on one day (an import sets every INTERNALDATE to its own day), so
 * its parts would be far from equal.
 */
export function cutsFound(cuts: DateCuts): string[] | undefined {
  if (cuts.searches.some((s) => s.found === undefined)) return undefined;
  const days = [...new Set(cuts.searches.map((s) => s.found!))].sort((a, b) => a - b);
  for (const [day, count] of cuts.counts) {
    const next = cuts.counts.get(day + DAY_MS);
    if (next !== undefined && count - next > cuts.total / 2) return undefined;
  }
  if (days.length === 0) return undefined;
  return days.map(imapDate);
}
