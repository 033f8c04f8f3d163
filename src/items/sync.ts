// Syncing one source collection into its destination collection. The decisions are pure (what to
// do with one item, which items to remove); `syncCollection` applies them through the contract's
// two sides and keeps the collection's state up to date item by item, so that an attempt cut
// short (throttled, interrupted) leaves a state that the next attempt continues from.
import type { PartCounts } from "../report/schema.js";
import type {
  DestinationCollection,
  ItemDestination,
  ItemSource,
  SourceCollection,
  SourceItem,
  StoredItem,
} from "./contract.js";
import { noteInPass, type CollectionState, type ItemState, type Pass } from "./state.js";

/** What becomes of one source item. */
export type ItemAction = "unchanged" | "send" | "update";

/**
 * Unchanged: sent before in this version, and the destination still holds what was sent (same
 * ETag). Otherwise it is sent: new where the destination has no such UID, an update where it has.
 */
export function actionFor(
  item: Pick<SourceItem, "version">,
  known: ItemState | undefined,
  stored: StoredItem | undefined,
): ItemAction {
  if (!stored) return "send";
  if (known && known.version === item.version && known.etag === stored.etag) return "unchanged";
  return "update";
}

/**
 * The UIDs to remove: items this tool created that the source no longer has. Items someone else
 * put at the destination, or that the tool found there, are never removed.
 */
export function toRemove(
  state: CollectionState,
  seen: ReadonlySet<string>,
  stored: ReadonlyMap<string, StoredItem>,
): string[] {
  return Object.entries(state.items)
    .filter(([uid, known]) => known.created && !seen.has(uid) && stored.has(uid))
    .map(([uid]) => uid);
}

export function zeroCounts(): PartCounts {
  return { collections: 0, sent: 0, updated: 0, removed: 0, unchanged: 0 };
}

export interface CollectionSync {
  source: ItemSource;
  destination: ItemDestination;
  collection: SourceCollection;
  /** Updated in place as items go: what the caller saves, even when this throws. */
  state: CollectionState;
  /** This attempt's counts. */
  counts: PartCounts;
  /** The part's current pass (state.ts), updated in place as items go. */
  pass: Pass;
  /** "label: loss" lines of what the conversion could not carry. */
  losses: string[];
  /** Stops between two items (the attempt ends interrupted). */
  signal?: AbortSignal;
}

/** One source collection into the destination: ensure, list, send what changed, remove what left. */
export async function syncCollection(sync: CollectionSync): Promise<DestinationCollection> {
  const { source, destination, collection, state, counts, pass } = sync;
  const target = await destination.ensure(collection);
  state.name = collection.name;
  if (state.location !== target.location) {
    // Another destination collection than last time: what was recorded is of the old one.
    state.location = target.location;
    state.items = {};
  }
  const stored = await destination.list(target);
  const seen = new Set<string>();
  for await (const item of source.items(collection)) {
    sync.signal?.throwIfAborted();
    seen.add(item.uid);
    for (const loss of item.losses) sync.losses.push(`${item.label}: ${loss}`);
    const known = state.items[item.uid];
    const action = actionFor(item, known, stored.get(item.uid));
    if (action === "unchanged") {
      counts.unchanged++;
      noteInPass(pass, collection.id, item.uid, "unchanged");
      continue;
    }
    const put = await destination.put(target, item);
    // Created by this tool: when it put it where nothing was, or had created it before.
    const created = action === "send" || known?.created === true;
    state.items[item.uid] = { version: item.version, etag: put.etag, created };
    if (action === "send") counts.sent++;
    else counts.updated++;
    noteInPass(pass, collection.id, item.uid, action === "send" ? "sent" : "updated");
  }
  for (const uid of toRemove(state, seen, stored)) {
    sync.signal?.throwIfAborted();
    await destination.remove(target, uid);
    delete state.items[uid];
    counts.removed++;
    pass.removed++;
  }
  // Items gone from both sides (removed by someone at the destination) are forgotten too.
  for (const uid of Object.keys(state.items)) {
    if (!seen.has(uid)) delete state.items[uid];
  }
  counts.collections++;
  if (!pass.collections.includes(collection.id)) pass.collections.push(collection.id);
  return target;
}
