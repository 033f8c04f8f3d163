// A mailbox's calendars and contacts as Microsoft Graph holds them, read for a part
// (src/items/contract.ts): the collections the mailbox owns (the others listed as skipped, with
// why), and each item converted to iCalendar or vCard. Requests go through the client (one
// mailbox's limiter, token, throttling); conversion is pure (src/calendar/, src/contacts/).
import { createHash } from "node:crypto";
import { eventToICalendar } from "../calendar/event.js";
import { contactToVcard } from "../contacts/vcard.js";
import type { GraphSettings } from "../config/types.js";
import type {
  AccessCheck,
  ItemKind,
  ItemSource,
  SkippedCollection,
  SourceCollection,
  SourceItem,
} from "../items/contract.js";
import { GraphClient, type GraphClientOptions } from "./client.js";
import { mailboxLimit } from "./limit.js";
import { GraphError } from "./errors.js";
import { accessVerdict, PERMISSION_PROBES } from "./permissions.js";
import { graphRequests, PAGE_SIZE } from "./requests.js";
import type {
  GraphAttachment,
  GraphCalendar,
  GraphContact,
  GraphContactFolder,
  GraphEvent,
  GraphMailboxSettings,
} from "./types.js";

export interface GraphSourceOptions extends Omit<GraphClientOptions, "limit"> {
  /** The mailbox, as the users file names its source. */
  address: string;
  settings: GraphSettings;
  now?: () => Date;
}

/** The default contacts folder's id in the sync state: Graph reads it as `/contacts`, whatever its real id. */
export const DEFAULT_CONTACTS_ID = "contacts";
const DEFAULT_CONTACTS_NAME = "Contacts";

const sameAddress = (a: string | null | undefined, b: string | null | undefined) =>
  Boolean(a && b && a.toLowerCase() === b.toLowerCase());

/** Items converted a page at a time: the limiter keeps the requests of one page at 4 in flight. */
async function* inBatches<T, U>(
  items: AsyncIterable<T>,
  convert: (item: T) => Promise<U | undefined>,
): AsyncGenerator<U> {
  let batch: T[] = [];
  const flush = async () => (await Promise.all(batch.map(convert))).filter((x) => x !== undefined);
  for await (const item of items) {
    batch.push(item);
    if (batch.length >= PAGE_SIZE) {
      yield* await flush();
      batch = [];
    }
  }
  yield* await flush();
}

function item(text: string, uid: string, label: string, losses: string[]): SourceItem {
  return {
    uid,
    version: createHash("sha256").update(text).digest("hex"),
    body: text,
    label,
    losses,
  };
}

/**
 * Where a series' instances are asked for: CALENDAR_WINDOW around today, clipped to the series'
 * own span (a day of margin either side, since the range's dates are in the series' zone).
 */
export function seriesWindow(
  event: GraphEvent,
  now: Date,
  window: GraphSettings["calendarWindow"],
): { start: Date; end: Date } {
  const day = 86_400_000;
  const back = new Date(now);
  back.setUTCFullYear(back.getUTCFullYear() - window.backYears);
  const ahead = new Date(now);
  ahead.setUTCFullYear(ahead.getUTCFullYear() + window.aheadYears);
  const range = event.recurrence?.range;
  const first = range?.startDate ? Date.parse(`${range.startDate}T00:00:00Z`) - day : Number.NaN;
  const last =
    range?.type?.toLowerCase() === "enddate" && range.endDate
      ? Date.parse(`${range.endDate}T00:00:00Z`) + 2 * day
      : Number.NaN;
  const start = Number.isNaN(first) ? back : new Date(Math.max(back.getTime(), first));
  const end = Number.isNaN(last) ? ahead : new Date(Math.min(ahead.getTime(), last));
  return { start, end: end < start ? start : end };
}

export class GraphSource implements ItemSource {
  private readonly client: GraphClient;
  private readonly requests: ReturnType<typeof graphRequests>;
  private zone: Promise<string> | undefined;

  constructor(private readonly opts: GraphSourceOptions) {
    this.client = new GraphClient({ ...opts, limit: mailboxLimit(opts.address) });
    this.requests = graphRequests(opts.settings.url, opts.address);
  }

  /** The mailbox's zone (a Windows name), asked once: event times are asked in it. */
  private mailboxZone(): Promise<string> {
    this.zone ??= this.client
      .json<GraphMailboxSettings>(this.requests.mailboxSettings)
      .then((s) => s.timeZone || "UTC");
    return this.zone;
  }

  async collections(
    kind: ItemKind,
  ): Promise<{ owned: SourceCollection[]; skipped: SkippedCollection[] }> {
    return kind === "calendar" ? this.calendars() : this.contactFolders();
  }

  /** Each permission the kind needs, tried on this mailbox with one cheap request (`check`). */
  async access(kind: ItemKind): Promise<AccessCheck[]> {
    const probes = PERMISSION_PROBES.filter((p) => p.kind === kind);
    return Promise.all(
      probes.map(async ({ app, delegated, url }): Promise<AccessCheck> => {
        const permission = { app, delegated };
        try {
          await this.client.json(url(this.requests));
          return { permission, verdict: "granted" };
        } catch (error) {
          const said =
            error instanceof GraphError
              ? [error.status, error.code].filter((x) => x !== undefined).join(" ") || undefined
              : undefined;
          return { permission, verdict: accessVerdict(error), said, error };
        }
      }),
    );
  }

  async *items(collection: SourceCollection): AsyncIterable<SourceItem> {
    if (collection.kind === "calendar") yield* this.events(collection);
    else yield* this.contacts(collection);
  }

  /**
   * The calendars the mailbox owns. Graph's /calendars also lists calendars others shared into
   * it (another owner), subscribed and holiday ones (read-only: no source data) and generated
   * ones such as birthdays (not removable, and not the default): those are skipped, with why.
   */
  private async calendars(): Promise<{
    owned: SourceCollection[];
    skipped: SkippedCollection[];
  }> {
    const main = await this.client.json<GraphCalendar>(this.requests.defaultCalendar);
    const owned: SourceCollection[] = [
      { kind: "calendar", id: main.id, name: main.name || "Calendar", isDefault: true },
    ];
    const skipped: SkippedCollection[] = [];
    for await (const c of this.client.pages<GraphCalendar>(this.requests.calendars)) {
      if (c.id === main.id) continue;
      const name = c.name ?? "";
      const skip = (reason: string) => skipped.push({ kind: "calendar", name, reason });
      if (
        main.owner?.address &&
        c.owner?.address &&
        !sameAddress(c.owner.address, main.owner.address)
      )
        skip(
          `shared into this mailbox by ${c.owner.name || c.owner.address}: it moves with its owner's mailbox`,
        );
      else if (c.canEdit === false)
        skip("read-only (a subscribed or holiday calendar): Graph holds no source data for it");
      else if (c.isRemovable === false)
        skip("generated by Exchange (birthdays): its events come from the contacts, which move");
      else owned.push({ kind: "calendar", id: c.id, name, isDefault: false });
    }
    return { owned, skipped };
  }

  /**
   * The default folder (read through /contacts) and every folder below it, recursively, named
   * "Parent/Child" and each listed once: /contactFolders may or may not list the default folder
   * itself (microsoft-graph.md §1), so a folder whose id is the default's is walked, not listed.
   */
  private async contactFolders(): Promise<{
    owned: SourceCollection[];
    skipped: SkippedCollection[];
  }> {
    const owned: SourceCollection[] = [
      { kind: "contacts", id: DEFAULT_CONTACTS_ID, name: DEFAULT_CONTACTS_NAME, isDefault: true },
    ];
    let defaultId: string | undefined;
    for await (const c of this.client.pages<GraphContact>(this.requests.defaultContactsFolderId)) {
      defaultId = c.parentFolderId ?? undefined;
      break;
    }
    const seen = new Set<string>(defaultId ? [defaultId] : []);
    const walk = async (folders: AsyncIterable<GraphContactFolder>, prefix: string) => {
      const found: GraphContactFolder[] = [];
      for await (const f of folders) found.push(f);
      for (const f of found) {
        if (f.id === defaultId) {
          await walk(this.client.pages(this.requests.childFolders(f.id)), "");
          continue;
        }
        if (seen.has(f.id)) continue;
        seen.add(f.id);
        const name = `${prefix}${f.displayName ?? ""}`;
        owned.push({ kind: "contacts", id: f.id, name, isDefault: false });
        await walk(this.client.pages(this.requests.childFolders(f.id)), `${name}/`);
      }
    };
    await walk(this.client.pages(this.requests.contactFolders), "");
    return { owned, skipped: [] };
  }

  private async *events(collection: SourceCollection): AsyncGenerator<SourceItem> {
    const timeZone = await this.mailboxZone();
    const { settings } = this.opts;
    const now = (this.opts.now ?? (() => new Date()))();
    const asked = { timeZone, textBody: true };
    const convert = async (event: GraphEvent): Promise<SourceItem | undefined> => {
      // /events lists singles and masters; an occurrence or exception there would be listed twice.
      const type = (event.type ?? "singleInstance").toLowerCase();
      if (type === "occurrence" || type === "exception") return undefined;
      const series = type === "seriesmaster" && event.recurrence;
      const window = series ? seriesWindow(event, now, settings.calendarWindow) : undefined;
      const [instances, attachments] = await Promise.all([
        window ? this.all<GraphEvent>(this.requests.instances(event.id, window), asked) : undefined,
        event.hasAttachments ? this.attachments(event.id) : undefined,
      ]);
      const converted = eventToICalendar(
        { event, instances, window, attachments },
        { mailboxZone: timeZone, attachmentMaxBytes: settings.attachmentMaxBytes },
      );
      return item(converted.text, converted.uid, converted.label, converted.losses);
    };
    yield* inBatches(
      this.client.pages<GraphEvent>(this.requests.events(collection.id), asked),
      convert,
    );
  }

  private async *contacts(collection: SourceCollection): AsyncGenerator<SourceItem> {
    const url = collection.isDefault
      ? this.requests.defaultContacts
      : this.requests.folderContacts(collection.id);
    const convert = async (contact: GraphContact): Promise<SourceItem> => {
      const photo = await this.client.bytes(this.requests.photo(contact.id));
      const converted = contactToVcard({ contact, photo }, this.opts.settings.vcardVersion);
      return item(converted.text, converted.uid, converted.label, converted.losses);
    };
    yield* inBatches(this.client.pages<GraphContact>(url), convert);
  }

  /**
   * The event's attachments: listed without content, then each file within ATTACHMENT_MAX_SIZE
   * read whole (the others are named in the losses by the conversion).
   */
  private async attachments(eventId: string): Promise<GraphAttachment[]> {
    const max = this.opts.settings.attachmentMaxBytes;
    const listed = await this.all<GraphAttachment>(this.requests.attachments(eventId));
    return Promise.all(
      listed.map(async (a) => {
        const file = (a["@odata.type"] ?? "").toLowerCase().endsWith("fileattachment");
        if (!file || !a.id || (a.size ?? 0) > max) return a;
        const whole = await this.client.json<GraphAttachment>(
          this.requests.attachment(eventId, a.id),
        );
        return { ...a, contentBytes: whole.contentBytes };
      }),
    );
  }

  private async all<T>(url: string, opts?: Parameters<GraphClient["pages"]>[1]): Promise<T[]> {
    const out: T[] = [];
    for await (const x of this.client.pages<T>(url, opts)) out.push(x);
    return out;
  }
}
