// Which shard runs a mailbox. Rendezvous (highest random weight) hashing on the source address
// alone: the assignment survives reordering the users file, adding or removing other mailboxes,
// and running on another machine; going from N to N+1 shards moves only the mailboxes the new
// shard wins (about 1 in N+1). The hash below is therefore an on-disk contract: every shard's
// work directory holds the history of exactly its mailboxes, so changing it would orphan them.
import { createHash } from "node:crypto";
import { MAX_SHARDS } from "../config/settings.js";
import { InputError } from "../errors.js";

/** Shard `index` (from 0) of `count`. */
export interface Shard {
  index: number;
  count: number;
}

const SHARD_FIX = "Write it as INDEX/COUNT with INDEX from 0, like 0/3, 1/3 and 2/3 for 3 shards.";

/** murmur3's finalizer: a cheap, well-mixed 32-bit permutation. */
function fmix32(value: number): number {
  let h = value >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Addresses are case-insensitive (the users file refuses two sources differing only in case). */
function addressKey(address: string): [number, number] {
  const digest = createHash("sha256").update(address.trim().toLowerCase(), "utf8").digest();
  return [digest.readUInt32BE(0), digest.readUInt32BE(4)];
}

/** A 53-bit weight of (address, shard): one hash per address, then integer mixing per shard. */
function weight([high, low]: [number, number], shard: number): number {
  const salt = fmix32(Math.imul(shard + 1, 0x9e3779b9));
  const top = fmix32(high ^ salt);
  const bottom = fmix32(low ^ fmix32(salt ^ 0x7f4a7c15));
  return top * 0x200000 + (bottom >>> 11);
}

/** The shard (from 0) that runs this mailbox out of `count`. */
export function shardOf(address: string, count: number): number {
  const key = addressKey(address);
  let best = 0;
  let bestWeight = -1;
  for (let shard = 0; shard < count; shard++) {
    const w = weight(key, shard);
    if (w > bestWeight) {
      best = shard;
      bestWeight = w;
    }
  }
  return best;
}

/** The mailboxes of one shard, in their original order. */
export function selectShard<T extends { source: string }>(mailboxes: T[], shard: Shard): T[] {
  return mailboxes.filter((mailbox) => shardOf(mailbox.source, shard.count) === shard.index);
}

export function formatShard(shard: Shard): string {
  return `${shard.index}/${shard.count}`;
}

function integer(text: string): number | undefined {
  return /^\d{1,9}$/.test(text) ? Number(text) : undefined;
}

/** The COUNT of INDEX/COUNT: 1 to MAX_SHARDS. */
function parseShardCount(text: string, where: string): number {
  const count = integer(text.trim());
  if (count === undefined || count < 1 || count > MAX_SHARDS) {
    throw new InputError(
      where,
      `"${text}" is not a shard count from 1 to ${MAX_SHARDS}`,
      "Give the number of shards the mailboxes are split into (the Job's completions in Kubernetes).",
    );
  }
  return count;
}

function checkIndex(index: number, count: number, where: string, fix: string): void {
  if (index >= count) {
    throw new InputError(
      where,
      `shard index ${index} is out of range for ${count} shard${count === 1 ? "" : "s"} (indexes go from 0 to ${count - 1})`,
      fix,
    );
  }
}

/** `--shard INDEX/COUNT`. */
export function parseShard(text: string, where: string): Shard {
  const match = /^\s*(\d{1,9})\s*\/\s*(\d{1,9})\s*$/.exec(text);
  if (!match) throw new InputError(where, `"${text}" is not INDEX/COUNT`, SHARD_FIX);
  const count = parseShardCount(match[2] ?? "", where);
  const index = Number(match[1]);
  checkIndex(index, count, where, SHARD_FIX);
  return { index, count };
}

export interface ShardInput {
  /** `--shard INDEX/COUNT`, when given. */
  flag?: string;
  /** Kubernetes' JOB_COMPLETION_INDEX, set in every pod of an Indexed Job. */
  jobCompletionIndex?: string;
  /** The SHARD_COUNT setting, already checked by the settings table (1 to MAX_SHARDS). */
  count?: number;
}

/**
 * The shard this process runs, from `--shard`, or from JOB_COMPLETION_INDEX with SHARD_COUNT.
 * Only a count (SHARD_COUNT without an index) gives `{ count }`: enough for `--plan` to show
 * every mailbox's shard, refused by a run. Nothing at all: undefined (every mailbox).
 */
export function resolveShard(input: ShardInput): Shard | { count: number } | undefined {
  const count = input.count;
  if (input.flag !== undefined) {
    const shard = parseShard(input.flag, "--shard");
    if (count !== undefined && count !== shard.count) {
      throw new InputError(
        "--shard",
        `${formatShard(shard)} names ${shard.count} shards but SHARD_COUNT says ${count}`,
        "Give the same count in both, or drop one of them.",
      );
    }
    return shard;
  }
  const indexText = input.jobCompletionIndex?.trim();
  if (indexText === undefined || indexText === "")
    return count === undefined ? undefined : { count };
  const index = integer(indexText);
  if (index === undefined) {
    throw new InputError(
      "JOB_COMPLETION_INDEX",
      `"${indexText}" is not a shard index`,
      "Leave it to Kubernetes (an Indexed Job sets it), or give --shard INDEX/COUNT.",
    );
  }
  if (count === undefined) {
    throw new InputError(
      "SHARD_COUNT",
      `JOB_COMPLETION_INDEX is ${index} (a pod of an Indexed Job) but no shard count is set`,
      "Set SHARD_COUNT to the Job's completions (the ConfigMap of deploy/kubernetes does), or give --shard INDEX/COUNT.",
    );
  }
  checkIndex(
    index,
    count,
    "JOB_COMPLETION_INDEX",
    "Set SHARD_COUNT to the Job's completions, so that every index has its shard.",
  );
  return { index, count };
}

/** The shard a run migrates; a count without an index would run every shard's mailboxes here. */
export function shardToRun(shard: Shard | { count: number } | undefined): Shard | undefined {
  if (shard === undefined || "index" in shard) return shard;
  throw new InputError(
    "SHARD_COUNT",
    `a shard count (${shard.count}) but no shard index: this would run every shard's mailboxes here`,
    `Give --shard INDEX/${shard.count} (Kubernetes sets JOB_COMPLETION_INDEX), or unset SHARD_COUNT to run every mailbox on this machine.`,
  );
}

/**
 * A work directory holds one shard's history (attempt numbers, folder mappings): a report of
 * another shard, or of every mailbox, there means two runs would mix their mailboxes.
 */
export function checkWorkDirShard(
  file: string,
  previous: { shard?: Shard } | undefined,
  shard?: Shard,
): void {
  if (previous === undefined) return;
  const was = previous.shard && formatShard(previous.shard);
  const now = shard && formatShard(shard);
  if (was === now) return;
  throw new InputError(
    file,
    `this report is ${was ? `shard ${was}'s` : "of a run without shards"}, but this run is ${now ? `shard ${now}` : "not sharded"}`,
    "Give each shard its own WORK_DIR (like work/shard-1; the Kubernetes Job mounts shard-$(JOB_COMPLETION_INDEX) for each pod).",
  );
}
