// One attempt of a calendar or contacts part of one mailbox: every collection the mailbox owns,
// synced in turn (sync.ts) with the state of the last run (state.ts), saved after each collection
// and whatever happens; and the verification of a part, by UID. What failed is classified by the
// side that threw it (classify.ts); the engine (engine/parts.ts) decides what comes next.
import type { PartCounts, VerifiedCollection } from "../report/schema.js";
import { classifyPartError, type PartFailure, type Side } from "./classify.js";
import type {
  AccessCheck,
  ItemDestination,
  ItemKind,
  ItemSource,
  SourceCollection,
} from "./contract.js";
import {
  emptyPass,
  passCounts,
  readState,
  writeState,
  type Pass,
  type SyncState,
} from "./state.js";
import { syncCollection, zeroCounts } from "./sync.js";

/** The two sides of one part, opened for one attempt. */
export interface PartEnds {
  source: ItemSource;
  destination: ItemDestination;
  /**
   * For `check`: logs in to the destination and finds its homes (DAV discovery), creating
   * nothing. Absent: the destination needs no login (files in the work directory).
   */
  probe?: () => Promise<void>;
}

export interface PartResult {
  /** What this attempt did. */
  counts: PartCounts;
  /** What the part's pass did, this attempt included: each item once (state.ts). */
  passCounts: PartCounts;
  /** Collections moved before that the source no longer lists, found by the pass (kept at the destination). */
  gone: { name: string; location: string }[];
  skipped: { name: string; reason: string }[];
  losses: string[];
  /** Where each collection went (DAV addresses or files), in the source's order. */
  locations: string[];
  /** Absent: every collection is in sync. */
  failure?: PartFailure;
}

/** An error thrown by one side, tagged with it: the classifier reads statuses per side. */
class SideError extends Error {
  constructor(
    readonly side: Side,
    readonly error: unknown,
  ) {
    super(String(error));
  }
}

async function on<T>(side: Side, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw error instanceof SideError ? error : new SideError(side, error);
  }
}

/** The same two sides, each of their errors tagged with its side. */
function tagged({ source, destination }: PartEnds): PartEnds {
  return {
    source: {
      collections: (kind) => on("source", () => source.collections(kind)),
      items: (collection) => ({
        [Symbol.asyncIterator]: () => {
          const inner = source.items(collection)[Symbol.asyncIterator]();
          return { next: () => on("source", () => inner.next()) };
        },
      }),
    },
    destination: {
      ensure: (c) => on("destination", () => destination.ensure(c)),
      list: (c) => on("destination", () => destination.list(c)),
      put: (c, item) => on("destination", () => destination.put(c, item)),
      remove: (c, uid) => on("destination", () => destination.remove(c, uid)),
      close: () => on("destination", () => destination.close()),
    },
  };
}

/** The tool was told to stop (Ctrl-C, SIGTERM): whatever a side threw while it stopped. */
function stopped(): PartFailure {
  return { class: "interrupted", lostConnection: false, detail: "stopped by the tool" };
}

function failureOf(error: unknown): PartFailure {
  // Our own interruption is thrown by neither side (AbortSignal.throwIfAborted).
  return error instanceof SideError
    ? classifyPartError(error.error, error.side)
    : classifyPartError(error, "source");
}

/**
 * One attempt: sends what changed since the state of `stateFile`, and saves the new state. The
 * first attempt of a run starts a new pass (`newPass`); the others add to the one on file.
 */
export async function runPart(run: {
  kind: ItemKind;
  ends: PartEnds;
  stateFile: string;
  signal: AbortSignal;
  newPass: boolean;
}): Promise<PartResult> {
  const { source, destination } = tagged(run.ends);
  const state = await readState(run.stateFile);
  const pass = run.newPass || !state.pass ? emptyPass() : state.pass;
  // On file at once: an attempt that fails before its first collection must not leave the next
  // one adding to the pass before.
  if (pass !== state.pass) await writeState(run.stateFile, { ...state, pass });
  state.pass = pass;
  const result: Omit<PartResult, "passCounts" | "gone"> = {
    counts: zeroCounts(),
    skipped: [],
    losses: [],
    locations: [],
  };
  try {
    const listed = await source.collections(run.kind);
    result.skipped = listed.skipped.map(({ name, reason }) => ({ name, reason }));
    if (forgetGone(state, listed.owned, pass)) await writeState(run.stateFile, state);
    for (const collection of listed.owned) {
      const known = (state.collections[collection.id] ??= {
        name: collection.name,
        location: "",
        items: {},
      });
      try {
        const target = await syncCollection({
          source,
          destination,
          collection,
          state: known,
          counts: result.counts,
          pass,
          losses: result.losses,
          signal: run.signal,
        });
        result.locations.push(target.location);
      } finally {
        await writeState(run.stateFile, state);
      }
    }
  } catch (error) {
    result.failure = run.signal.aborted ? stopped() : failureOf(error);
  }
  try {
    // Also after a failure: the file destination writes what it holds so far.
    await destination.close();
  } catch (error) {
    result.failure ??= failureOf(error);
  }
  return { ...result, passCounts: passCounts(pass), gone: pass.gone };
}

/**
 * The collections an earlier run moved that the source no longer lists (deleted, or no longer
 * the mailbox's own): never deleted at the destination, where they may be all that is left of
 * them; their state is dropped so that no later run considers them, and the pass names them.
 * Whether any was found.
 */
function forgetGone(state: SyncState, owned: readonly SourceCollection[], pass: Pass): boolean {
  const listed = new Set(owned.map((c) => c.id));
  const gone = Object.keys(state.collections).filter((id) => !listed.has(id));
  for (const id of gone) {
    const { name, location } = state.collections[id]!;
    pass.gone.push({ name, location });
    delete state.collections[id];
  }
  return gone.length > 0;
}

/**
 * `check` for one part: the source tries each permission the kind needs on the mailbox (one cheap
 * request each), lists the mailbox's collections (Graph's token and the mailbox's access policy
 * answer there), then the destination logs in; nothing is copied or created. A permission not
 * granted ends the check there, with every permission's verdict.
 */
export async function checkPart(
  kind: ItemKind,
  ends: PartEnds,
): Promise<{ owned: number; skipped: number; access: AccessCheck[]; failure?: PartFailure }> {
  const { source } = tagged(ends);
  const access = (await ends.source.access?.(kind)) ?? [];
  const denied = access.find((a) => a.verdict !== "granted");
  if (denied) return { owned: 0, skipped: 0, access, failure: failureOf(denied.error) };
  try {
    const listed = await source.collections(kind);
    if (ends.probe) await on("destination", ends.probe);
    return { owned: listed.owned.length, skipped: listed.skipped.length, access };
  } catch (error) {
    return { owned: 0, skipped: 0, access, failure: failureOf(error) };
  }
}

/** A part's verification: per collection, the source's UIDs the destination does not hold. */
export async function verifyPart(
  kind: ItemKind,
  ends: PartEnds,
): Promise<{
  collections: VerifiedCollection[];
  failure?: PartFailure;
}> {
  const { source, destination } = tagged(ends);
  const collections: VerifiedCollection[] = [];
  try {
    const { owned } = await source.collections(kind);
    for (const collection of owned) {
      const stored = await destination.list(await destination.ensure(collection));
      const verified: VerifiedCollection = {
        name: collection.name,
        sourceItems: 0,
        destinationItems: stored.size,
        missing: [],
      };
      for await (const item of source.items(collection)) {
        verified.sourceItems++;
        if (!stored.has(item.uid)) verified.missing.push(`${item.label} (UID ${item.uid})`);
      }
      collections.push(verified);
    }
    return { collections };
  } catch (error) {
    return { collections, failure: failureOf(error) };
  }
}
