// How a big mailbox is split into runs that go at once ("slices" of its mail): when it is split,
// which folders each slice copies, and which folders are split by date. Pure: sizes in, slices out.
import type { FolderSize, Slice } from "../report/schema.js";
import { decodeModifiedUtf7 } from "../imapsync/args.js";
import { totalBytes } from "./sizes.js";

/** What a slice copies, before it has run. */
export type SliceSpec = Pick<Slice, "id" | "folders" | "since" | "before">;

/**
 * imapsync options that choose folders or messages themselves (or delete whole folders): with
 * them, `--folder` and `--search1` per slice would not cover the mailbox exactly once.
 */
export const SLICE_BREAKING_OPTIONS: readonly string[] = [
  "folder",
  "folderrec",
  "include",
  "subscribed",
  "search",
  "search1",
  "search2",
  "maxage",
  "minage",
  "delete2folders",
  "delete2foldersonly",
  "delete2foldersbutnot",
  "justfolders",
  "justfoldersizes",
  "f1f2",
];

/** The first option of `args` that rules out slicing, as given, or undefined. */
export function sliceBreakingOption(args: readonly string[]): string | undefined {
  return args.find((word) => {
    const name = /^--?([A-Za-z][\w-]*)(?:=|$)/.exec(word)?.[1]?.toLowerCase();
    if (name === undefined) return false;
    const bare = name.replace(/^no-?/, "");
    return SLICE_BREAKING_OPTIONS.some(
      (full) => full === name || full === bare || (name.length >= 3 && full.startsWith(name)),
    );
  });
}

/**
 * A mailbox is sliced when it is bigger than its share of the work: every selected mailbox's
 * size divided among the runs that go at once. Below that, one run per mailbox ends no later.
 */
export function sliceThreshold(
  totals: readonly number[],
  setting: number | "auto",
  concurrency: number,
): number {
  if (setting !== "auto") return setting;
  const all = totals.reduce((sum, bytes) => sum + bytes, 0);
  return all / Math.max(1, concurrency);
}

/**
 * Below this a slice is not worth its own login, listing and folder run: a mailbox of a few
 * hundred kilobytes runs whole however short the list.
 */
export const MIN_SLICE_BYTES = 1_000_000;

/** How many slices a mailbox makes and the size of each, or undefined when it runs whole. */
function sharesOf(
  sizes: readonly FolderSize[],
  opts: { above: number; maxSlices: number },
): { count: number; target: number } | undefined {
  const total = totalBytes(sizes);
  if (total <= opts.above || opts.maxSlices < 2) return undefined;
  const count = Math.min(
    opts.maxSlices,
    Math.ceil(total / Math.max(1, opts.above)),
    Math.floor(total / MIN_SLICE_BYTES),
  );
  return count < 2 ? undefined : { count, target: total / count };
}

/** The folders bigger than one slice of their mailbox, and in how many parts each is cut by date. */
export function foldersToCut(
  sizes: readonly FolderSize[],
  opts: { above: number; maxSlices: number },
): { folder: FolderSize; parts: number }[] {
  const shares = sharesOf(sizes, opts);
  if (!shares) return [];
  return sizes
    .filter((folder) => folder.bytes > shares.target && folder.messages > 1)
    .map((folder) => ({
      folder,
      parts: Math.min(shares.count, Math.ceil(folder.bytes / shares.target)),
    }));
}

/** `--search1` date ranges of one folder: boundaries d1 < d2 < … give BEFORE d1, SINCE d1 BEFORE d2, …, SINCE dn. */
function dateRanges(boundaries: readonly string[]): Pick<SliceSpec, "since" | "before">[] {
  return [undefined, ...boundaries].map((since, i) => {
    const before = boundaries[i];
    return { ...(since !== undefined && { since }), ...(before !== undefined && { before }) };
  });
}

/**
 * The slices of a mailbox of these folder sizes, or undefined when it runs whole: not above
 * `above`, or not worth two runs. As many slices as it holds shares of `above`, at most
 * `maxSlices`; a folder bigger than one slice is split by date where `boundaries` has its probed
 * dates (each range a slice of its own: `--search1` applies to every folder of a run), and the
 * other folders are spread over the remaining slices, largest first into the lightest.
 */
export function sliceMailbox(
  sizes: readonly FolderSize[],
  opts: {
    above: number;
    maxSlices: number;
    boundaries?: ReadonlyMap<string, readonly string[]>;
    /** The first slice's number: ids never repeat those of a mailbox's earlier slicing. */
    firstId?: number;
  },
): SliceSpec[] | undefined {
  const shares = sharesOf(sizes, opts);
  if (!shares) return undefined;
  const { count, target } = shares;
  const byDate: Omit<SliceSpec, "id">[] = [];
  const whole: FolderSize[] = [];
  for (const folder of sizes) {
    const dates = opts.boundaries?.get(folder.folder) ?? [];
    if (folder.bytes > target && dates.length > 0) {
      for (const range of dateRanges(dates)) byDate.push({ folders: [folder.folder], ...range });
    } else whole.push(folder);
  }
  const bins = Array.from({ length: Math.max(1, count - byDate.length) }, () => ({
    bytes: 0,
    folders: [] as string[],
  }));
  const largestFirst = [...whole].sort((a, b) => b.bytes - a.bytes);
  for (const folder of largestFirst) {
    const lightest = bins.reduce((min, bin) => (bin.bytes < min.bytes ? bin : min));
    lightest.bytes += folder.bytes;
    lightest.folders.push(folder.folder);
  }
  const specs = [
    ...byDate,
    ...bins.filter((bin) => bin.folders.length > 0).map(({ folders }) => ({ folders })),
  ];
  if (specs.length < 2) return undefined;
  const first = opts.firstId ?? 1;
  return specs.map((spec, i) => ({ id: `s${first + i}`, ...spec }));
}

/** The number in a slice id (`s3` → 3), to number a new slicing after an earlier one. */
export function nextSliceNumber(slices: readonly Pick<Slice, "id">[] | undefined): number {
  return (slices ?? []).reduce((max, s) => Math.max(max, Number(s.id.slice(1)) || 0), 0) + 1;
}

/** `--search1`'s criteria for a slice's date range, or undefined for a slice of whole folders. */
export function searchOf(slice: Pick<SliceSpec, "since" | "before">): string | undefined {
  const words = [
    ...(slice.since !== undefined ? [`SINCE ${slice.since}`] : []),
    ...(slice.before !== undefined ? [`BEFORE ${slice.before}`] : []),
  ];
  return words.length > 0 ? words.join(" ") : undefined;
}

/** A slice's folders and date range, as people read them (--plan, the report's outputs). */
export function sliceWhat(slice: Pick<SliceSpec, "folders" | "since" | "before">): string {
  const range = searchOf(slice);
  return `${slice.folders.map(decodeModifiedUtf7).join(", ")}${range ? ` (${range})` : ""}`;
}
