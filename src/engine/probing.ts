// check's probes: a folder too big for one slice of its mailbox is cut by date, at the days found
// by bisection on `--justfoldersizes --folder F --search1 "SINCE d"` counts (plan/probes.ts).
import type { FolderSize } from "../report/schema.js";
import { cutsFound, imapDate, nextProbes, recordProbes, startCuts } from "../plan/probes.js";
import { foldersToCut } from "../plan/slicing.js";

/** Messages of `folder` on or after `since` (IMAP date), or undefined when the probe failed. */
export type Probe = (folder: string, since: string, n: number) => Promise<number | undefined>;

export interface ProbedCuts {
  /** Per folder that could be cut: its days, in increasing order. */
  cuts: Record<string, string[]>;
  /** Folders too big for one slice that cannot be cut by date (most mail on one day, or a failed probe). */
  whole: string[];
  probes: number;
}

export async function probeDateCuts(
  sizes: readonly FolderSize[],
  opts: { above: number; maxSlices: number; today: number; probe: Probe },
): Promise<ProbedCuts> {
  const found: ProbedCuts = { cuts: {}, whole: [], probes: 0 };
  for (const { folder, parts } of foldersToCut(sizes, opts)) {
    const cuts = startCuts(folder.messages, parts, opts.today);
    let failed = false;
    for (let days = nextProbes(cuts); days.length > 0 && !failed; days = nextProbes(cuts)) {
      // One round's probes at once: a handful of logins on one mailbox.
      const counts = await Promise.all(
        days.map((day, i) => opts.probe(folder.folder, imapDate(day), i + 1)),
      );
      found.probes += days.length;
      failed = counts.some((count) => count === undefined);
      recordProbes(cuts, new Map(days.map((day, i) => [day, counts[i]!])));
    }
    const days = failed ? undefined : cutsFound(cuts);
    if (days) found.cuts[folder.folder] = days;
    else found.whole.push(folder.folder);
  }
  return found;
}
