// The boundary between the two halves of a calendar or contacts part: a source that reads one
// mailbox's collections and items (Microsoft Graph, src/graph/) and a destination that stores
// them (CalDAV/CardDAV in src/dav/, or files in the work directory). The part runner in between
// (src/items/) decides what to send, keeps the sync state and verifies; neither side knows the other.
import type { AccessVerdict } from "../report/schema.js";

/** What a part moves besides mail. */
export type ItemKind = "calendar" | "contacts";

/** A calendar or contact folder the mailbox owns, as the source names it. */
export interface SourceCollection {
  kind: ItemKind;
  /** The source's own id (Graph's), stable across runs. */
  id: string;
  /** Display name, accents kept ("Projets Été"); subfolders as "Parent/Child". */
  name: string;
  /** The mailbox's default calendar or default contacts folder. */
  isDefault: boolean;
}

/** A collection the source lists but that is not the mailbox's own (shared, birthdays, holidays). */
export interface SkippedCollection {
  kind: ItemKind;
  name: string;
  reason: string;
}

/** One calendar object (a series with its overrides is one item) or one contact. */
export interface SourceItem {
  /** iCalendar UID or vCard UID: stable from the source, so a rerun updates instead of adding. */
  uid: string;
  /** Changes whenever the item's content changes (Graph's changeKey, or a hash of `body`). */
  version: string;
  /** The complete iCalendar (VCALENDAR) or vCard text, CRLF line ends. */
  body: string;
  /** A short human label for reports (an event's subject and start, a contact's name). */
  label: string;
  /** What the conversion could not carry (an attachment over the size limit…), for the report. */
  losses: string[];
}

/** What one permission of the source's token allows on the mailbox (for `check`). */
export interface AccessCheck {
  /** As the admin grants it, to the app or delegated to a person. */
  permission: { app: string; delegated: string };
  verdict: AccessVerdict;
  /** What the source answered when it was not granted, and the error itself. */
  said?: string;
  error?: unknown;
}

export interface ItemSource {
  collections(kind: ItemKind): Promise<{ owned: SourceCollection[]; skipped: SkippedCollection[] }>;
  items(collection: SourceCollection): AsyncIterable<SourceItem>;
  /** One cheap request per permission the kind needs; absent: the source has no permissions to check. */
  access?(kind: ItemKind): Promise<AccessCheck[]>;
}

/** Where a source collection landed at the destination. */
export interface DestinationCollection {
  kind: ItemKind;
  /** The destination's address of it: a DAV href (percent-decoded) or a file path. */
  location: string;
}

/** What the destination holds of one item. */
export interface StoredItem {
  uid: string;
  /** DAV ETag or a hash of the stored text. */
  etag: string;
}

export interface ItemDestination {
  /** Finds or creates the collection (the default one for `isDefault`). */
  ensure(collection: SourceCollection): Promise<DestinationCollection>;
  /** Everything the destination holds there, by UID. */
  list(collection: DestinationCollection): Promise<Map<string, StoredItem>>;
  /** Creates or replaces the item with this UID; returns its new ETag. */
  put(collection: DestinationCollection, item: SourceItem): Promise<StoredItem>;
  remove(collection: DestinationCollection, uid: string): Promise<void>;
  /** Flushes what is buffered (the file destination writes its .ics/.vcf files here). */
  close(): Promise<void>;
}
