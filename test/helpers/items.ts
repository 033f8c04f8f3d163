// A part's two sides (src/items/contract.ts) for tests: source collections and items as a source
// hands them to a destination; in-memory doubles of both sides, for the part runner's and the
// engine's tests (a source whose collections and items a test sets and changes between runs, and
// a destination that keeps what it is given by UID and counts what it was asked).
import type {
  DestinationCollection,
  ItemDestination,
  ItemKind,
  ItemSource,
  SkippedCollection,
  SourceCollection,
  SourceItem,
  StoredItem,
} from "../../src/items/contract.js";

/** An error as the Graph or DAV side would throw it: an HTTP status, a code, a suggested wait. */
export function httpError(status: number, code?: string, retryAfterMs?: number): Error {
  return Object.assign(new Error(`HTTP ${status}${code ? ` ${code}` : ""}`), {
    status,
    code,
    retryAfterMs,
  });
}

export function item(uid: string, version = "v1", losses: string[] = []): SourceItem {
  return {
    uid,
    version,
    body: `BEGIN:VCALENDAR\r\nUID:${uid}\r\n${version}\r\n`,
    label: uid,
    losses,
  };
}

export class FakeSource implements ItemSource {
  /** By collection id. */
  readonly content = new Map<string, SourceItem[]>();
  readonly owned: SourceCollection[] = [];
  skipped: SkippedCollection[] = [];
  /** Thrown (once) when the item at this index of a collection is read; by collection id. */
  readonly failAt = new Map<string, { index: number; error: Error }>();
  /** Thrown by collections() while set. */
  failCollections?: Error;

  add(collection: Omit<SourceCollection, "kind"> & { kind?: ItemKind }, items: SourceItem[]) {
    this.owned.push({ kind: "calendar", ...collection });
    this.content.set(collection.id, items);
    return this;
  }

  async collections(kind: ItemKind) {
    if (this.failCollections) throw this.failCollections;
    return {
      owned: this.owned.filter((c) => c.kind === kind),
      skipped: this.skipped.filter((c) => c.kind === kind),
    };
  }

  async *items(collection: SourceCollection): AsyncIterable<SourceItem> {
    const all = this.content.get(collection.id) ?? [];
    for (const [index, one] of all.entries()) {
      const failure = this.failAt.get(collection.id);
      if (failure?.index === index) {
        this.failAt.delete(collection.id);
        throw failure.error;
      }
      yield one;
    }
  }
}

export class FakeDestination implements ItemDestination {
  /** By location, then UID. */
  readonly held = new Map<string, Map<string, StoredItem & { body: string }>>();
  readonly calls = { put: 0, remove: 0, ensure: 0, close: 0 };
  private etags = 0;
  /** Thrown by put() while set. */
  failPut?: Error;

  async ensure(collection: SourceCollection): Promise<DestinationCollection> {
    this.calls.ensure++;
    const location = collection.isDefault ? `/default-${collection.kind}/` : `/${collection.name}/`;
    if (!this.held.has(location)) this.held.set(location, new Map());
    return { kind: collection.kind, location };
  }

  async list(collection: DestinationCollection): Promise<Map<string, StoredItem>> {
    const held = this.held.get(collection.location) ?? new Map();
    return new Map([...held].map(([uid, { etag }]) => [uid, { uid, etag }]));
  }

  async put(collection: DestinationCollection, one: SourceItem): Promise<StoredItem> {
    if (this.failPut) throw this.failPut;
    this.calls.put++;
    const stored = { uid: one.uid, etag: `"e${++this.etags}"`, body: one.body };
    this.held.get(collection.location)!.set(one.uid, stored);
    return { uid: one.uid, etag: stored.etag };
  }

  async remove(collection: DestinationCollection, uid: string): Promise<void> {
    this.calls.remove++;
    this.held.get(collection.location)?.delete(uid);
  }

  async close(): Promise<void> {
    this.calls.close++;
  }

  /** The UIDs one location holds, sorted. */
  uids(location: string): string[] {
    return [...(this.held.get(location)?.keys() ?? [])].sort();
  }
}

/** A calendar that is not the default one, its name accented. */
export const PROJETS = {
  kind: "calendar",
  id: "c9",
  name: "Projets Été",
  isDefault: false,
} as const;

/** A subfolder of the default contacts folder, named as the source names subfolders. */
export const FOURNISSEURS = {
  kind: "contacts",
  id: "f9",
  name: "Contacts/Fournisseurs",
  isDefault: false,
} as const;

export function sourceItem(uid: string, body: string): SourceItem {
  return { uid, version: "1", body, label: uid, losses: [] };
}
