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

const syncStateSchema = z.object({
  schemaVersion: z.literal(1),
  /** By the source collection's id. */
  collections: z.record(z.string(), collectionStateSchema),
});
export type SyncState = z.infer<typeof syncStateSchema>;

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
