// What the part runner remembers between runs of one part of one mailbox: per source collection,
// where it went and, per UID, the source version and destination ETag last sent and whether this
// tool created the item. It lives in the work directory (one per shard), one file per mailbox and
// item kind, so that the calendar and the contacts of a mailbox never write the same file.
import { readFile } from "node:fs/promises";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import { safeFileName } from "../imapsync/args.js";
import { writeInPieces } from "../report/write.js";
import type { PartCounts } from "../report/schema.js";
import type { ItemKind } from "./contract.js";

const itemStateSchema = z.object({
  version: z.string(),
  etag: z.string(),
  /** Only an item this tool created is ever removed from the destination. */
  created: z.boolean(),
});
export type ItemState = z.infer<typeof itemStateSchema>;

const collectionStateSchema = z.object({
  name: z.string(),
  location: z.string(),
  items: z.record(z.string(), itemStateSchema),
});
export type CollectionState = z.infer<typeof collectionStateSchema>;

/** What an item became in the current pass, the strongest of its attempts' (`PASS_RANK`). */
const passOutcomeSchema = z.enum(["unchanged", "updated", "sent"]);
export type PassOutcome = z.infer<typeof passOutcomeSchema>;

/**
 * The current pass of the part: every attempt from the first of a run until the part ends ok,
 * across retries and `--resume`, so that its counts are the run's, not its last attempt's.
 */
const passSchema = z.object({
  /** By source collection id, then UID. */
  items: z.record(z.string(), z.record(z.string(), passOutcomeSchema)),
  removed: z.number(),
  /** The source collections the pass went through to their end. */
  collections: z.array(z.string()),
  /**
   * Collections an earlier run moved that the source no longer lists: kept at the destination,
   * their state dropped, named in the report.
   */
  gone: z.array(z.object({ name: z.string(), location: z.string() })),
});
export type Pass = z.infer<typeof passSchema>;

const syncStateSchema = z.object({
  schemaVersion: z.literal(1),
  /** By the source collection's id. */
  collections: z.record(z.string(), collectionStateSchema),
  pass: passSchema.optional(),
});
export type SyncState = z.infer<typeof syncStateSchema>;

export function emptyPass(): Pass {
  return { items: {}, removed: 0, collections: [], gone: [] };
}

/** An item sent by one attempt and found unchanged by the next was sent by the pass. */
const PASS_RANK: Readonly<Record<PassOutcome, number>> = { unchanged: 0, updated: 1, sent: 2 };

/** Records what an attempt did to one item in the pass. */
export function noteInPass(pass: Pass, collection: string, uid: string, now: PassOutcome): void {
  const items = (pass.items[collection] ??= {});
  const before = items[uid];
  if (before === undefined || PASS_RANK[now] > PASS_RANK[before]) items[uid] = now;
}

/** The pass's counts: each item once, by the strongest thing any attempt did to it. */
export function passCounts(pass: Pass): PartCounts {
  const counts = {
    collections: pass.collections.length,
    sent: 0,
    updated: 0,
    removed: pass.removed,
    unchanged: 0,
  };
  for (const items of Object.values(pass.items))
    for (const outcome of Object.values(items)) counts[outcome]++;
  return counts;
}

export function emptyState(): SyncState {
  return { schemaVersion: 1, collections: {} };
}

export function statePath(workDir: string, mailbox: string, kind: ItemKind): string {
  return path.join(workDir, "items", `${safeFileName(mailbox)}.${kind}.json`);
}

/**
 * The state of the last run, or an empty one (first run, or a file this tool cannot read: then
 * every item is sent again, replacing its copy by UID, and nothing older is ever removed).
 */
export async function readState(file: string): Promise<SyncState> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return emptyState();
    throw error;
  }
  try {
    const parsed = syncStateSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : emptyState();
  } catch {
    return emptyState();
  }
}

/** Whole, through a temporary file renamed over the old one: a crash leaves one or the other. */
export async function writeState(file: string, state: SyncState): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  await writeInPieces(file, [JSON.stringify(state)]);
}
