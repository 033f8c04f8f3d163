// Without DAV_URL, calendars and contacts go to files for an import by hand: one .ics per calendar
// (one VCALENDAR, its time zones once) and one .vcf per contact folder, in a folder the caller
// names. Everything of a file is kept in memory and written whole, atomically, by close().
import { createHash } from "node:crypto";
import { mkdir, readFile } from "node:fs/promises";
import path from "node:path";
import ICAL from "ical.js";
import writeFileAtomic from "write-file-atomic";
import type {
  DestinationCollection,
  ItemDestination,
  ItemKind,
  SourceCollection,
  SourceItem,
  StoredItem,
} from "../items/contract.js";

const EXTENSION: Record<ItemKind, string> = { calendar: ".ics", contacts: ".vcf" };
const CRLF = "\r\n";
/** Room for the extension and write-file-atomic's temporary suffix under the usual 255 bytes. */
const MAX_NAME_BYTES = 200;

/** One file's content: each item's text by UID (in the order met), and the calendar's time zones. */
interface FileContent {
  kind: ItemKind;
  items: Map<string, string>;
  timezones: Map<string, string>;
  dirty: boolean;
}

/**
 * A file name that every file system takes, accents kept: a subfolder "Parent/Child" becomes
 * "Parent - Child", the characters Windows forbids become "_", its reserved device names get one.
 */
export function safeFileName(name: string, kind: ItemKind): string {
  let base = name
    .normalize("NFC")
    .split("/")
    .map((part) => part.trim())
    .join(" - ")
    // eslint-disable-next-line no-control-regex -- control characters are what must go
    .replace(/[\\:*?"<>|\u0000-\u001f\u007f]/g, "_")
    .replace(/^[\s.]+|[\s.]+$/g, "");
  if (base === "") base = kind === "calendar" ? "Calendar" : "Contacts";
  if (/^(con|prn|aux|nul|com\d|lpt\d)$/i.test(base)) base = `_${base}`;
  while (Buffer.byteLength(base, "utf8") > MAX_NAME_BYTES) base = [...base].slice(0, -1).join("");
  return `${base}${EXTENSION[kind]}`;
}

export class FileDestination implements ItemDestination {
  private readonly files = new Map<string, Promise<FileContent>>();
  /** Which source collection each file name went to, so two names made alike do not merge. */
  private readonly owners = new Map<string, string>();

  constructor(private readonly dir: string) {}

  async ensure(collection: SourceCollection): Promise<DestinationCollection> {
    let name = safeFileName(collection.name, collection.kind);
    const owner = this.owners.get(name);
    if (owner !== undefined && owner !== collection.id) {
      const hash = createHash("sha256").update(collection.id).digest("hex").slice(0, 8);
      name = name.replace(/(\.\w+)$/, ` (${hash})$1`);
    }
    this.owners.set(name, collection.id);
    const location = path.join(this.dir, name);
    await this.content({ kind: collection.kind, location });
    return { kind: collection.kind, location };
  }

  async list(collection: DestinationCollection): Promise<Map<string, StoredItem>> {
    const { items } = await this.content(collection);
    return new Map([...items].map(([uid, text]) => [uid, { uid, etag: etagOf(text) }]));
  }

  async put(collection: DestinationCollection, item: SourceItem): Promise<StoredItem> {
    const file = await this.content(collection);
    const parsed = split(collection.kind, item.body);
    // A source item is one UID; what it carries under another would be someone else's.
    const text = parsed.items.get(item.uid) ?? "";
    if (text === "")
      throw new Error(`${item.label}: the item holds no component with UID ${item.uid}`);
    for (const [tzid, zone] of parsed.timezones) file.timezones.set(tzid, zone);
    file.items.set(item.uid, text);
    file.dirty = true;
    return { uid: item.uid, etag: etagOf(text) };
  }

  async remove(collection: DestinationCollection, uid: string): Promise<void> {
    const file = await this.content(collection);
    if (file.items.delete(uid)) file.dirty = true;
  }

  async close(): Promise<void> {
    for (const [location, pending] of this.files) {
      const file = await pending;
      if (!file.dirty) continue;
      await mkdir(path.dirname(location), { recursive: true, mode: 0o700 });
      // Personal data: readable by the migration's account only.
      await writeFileAtomic(location, render(file), { mode: 0o600 });
      file.dirty = false;
    }
  }

  /** The file's content: read once (a previous run's file is kept and updated), then in memory. */
  private content(collection: DestinationCollection): Promise<FileContent> {
    let file = this.files.get(collection.location);
    if (file === undefined) {
      file = readFile(collection.location, "utf8").then(
        (text) => ({ ...split(collection.kind, text), kind: collection.kind, dirty: false }),
        (error: NodeJS.ErrnoException) => {
          if (error.code !== "ENOENT") throw error;
          return { kind: collection.kind, items: new Map(), timezones: new Map(), dirty: false };
        },
      );
      this.files.set(collection.location, file);
    }
    return file;
  }
}

function etagOf(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("hex");
}

/**
 * The items of an iCalendar or vCard text by UID, each as ical.js writes it (so an item read back
 * from a file has the text, and so the ETag, it was put with); a calendar's time zones by TZID.
 */
function split(
  kind: ItemKind,
  text: string,
): { items: Map<string, string>; timezones: Map<string, string> } {
  const items = new Map<string, string>();
  const timezones = new Map<string, string>();
  if (text.trim() === "") return { items, timezones };
  const parsed = ICAL.parse(text) as unknown[];
  // One component parses to itself; several (a .vcf of many vCards) to a list of them.
  const roots = (Array.isArray(parsed[0]) ? parsed : [parsed]) as unknown[][];
  const components = roots
    .map((root) => new ICAL.Component(root))
    .flatMap((root) => (kind === "calendar" ? root.getAllSubcomponents() : [root]));
  for (const component of components) {
    const uid = component.getFirstPropertyValue("uid");
    if (component.name === "vtimezone") {
      timezones.set(String(component.getFirstPropertyValue("tzid")), component.toString());
    } else if (typeof uid === "string") {
      const before = items.get(uid);
      // A series and its overrides share a UID: one item.
      items.set(
        uid,
        before === undefined ? component.toString() : `${before}${CRLF}${component.toString()}`,
      );
    }
  }
  return { items, timezones };
}

function render(file: FileContent): string {
  const parts = [...file.items.values()];
  if (file.kind === "contacts") return parts.map((card) => `${card}${CRLF}`).join("");
  return [
    "BEGIN:VCALENDAR",
    "VERSION:2.0",
    "PRODID:-//m365-imapsync//calendar export//EN",
    ...file.timezones.values(),
    ...parts,
    "END:VCALENDAR",
    "",
  ].join(CRLF);
}
