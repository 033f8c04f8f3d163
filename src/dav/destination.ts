// Calendars and contacts stored on a CalDAV/CardDAV server through tsdav: discovery from DAV_URL
// (or a fixed home), the collections found or created, items PUT under a name derived from their
// UID. Every failure is a DavError (failure.ts says what it means for the part).
import { createHash } from "node:crypto";
import {
  addressBookQuery,
  calendarQuery,
  createAccount,
  davRequest,
  DAVNamespace,
  getDAVAttribute,
  makeCalendar,
  propfind,
  type DAVResponse,
} from "tsdav";
import type { DavSettings } from "../config/types.js";
import type {
  DestinationCollection,
  ItemDestination,
  ItemKind,
  SourceCollection,
  SourceItem,
  StoredItem,
} from "../items/contract.js";
import { DavError, type DavPhase } from "./failure.js";
import { davFetch, DAV_TIMEOUT_MS, type DavLogin, type DavTls } from "./http.js";
import { withClientScheduling } from "./scheduling.js";
import { resourceName, uidOf } from "./uid.js";

const ACCOUNT_TYPE = { calendar: "caldav", contacts: "carddav" } as const;
const CONTENT_TYPE = {
  calendar: "text/calendar; charset=utf-8",
  contacts: "text/vcard; charset=utf-8",
} as const;

/**
 * The last path segment of the collection each server makes for a new account (lower case):
 * Zimbra's "Calendar" and "Contacts", Nextcloud's "personal" and "contacts", SOGo's "personal"
 * for both, Baïkal's "default". Radicale makes none.
 */
const DEFAULT_SEGMENTS: Record<ItemKind, readonly string[]> = {
  calendar: ["calendar", "personal", "default"],
  contacts: ["contacts", "personal", "default"],
};

/** A collection of a home, as its PROPFIND lists it. */
interface HomeCollection {
  url: string;
  displayName: string;
}

/** Where one item is, to overwrite it in place (a server refuses a second resource with its UID). */
interface Known {
  href: string;
  etag: string;
}

/** Percent-decoded, so `/alice%40contoso.test/` and `/alice@contoso.test/` are the same href. */
export function decodeHref(url: string): string {
  return url
    .split("/")
    .map((segment) => {
      try {
        return decodeURIComponent(segment);
      } catch {
        return segment;
      }
    })
    .join("/");
}

/** A home setting's `{user}` is the destination address, as one path segment. */
export function fixedHome(template: string, user: string): string {
  const url = template.replaceAll("{user}", encodeURIComponent(user));
  return url.endsWith("/") ? url : `${url}/`;
}

export class DavDestination implements ItemDestination {
  private readonly fetch: typeof fetch;
  private readonly homes = new Map<ItemKind, Promise<string>>();
  /** Request URL of each location handed out. */
  private readonly urls = new Map<string, string>();
  /** Collections mapped this session to a source collection that is not the default one. */
  private readonly taken = new Set<string>();
  private readonly items = new Map<string, Map<string, Known>>();

  constructor(
    private readonly settings: DavSettings,
    private readonly login: DavLogin,
    opts: { timeoutMs?: number; tls?: DavTls } = {},
  ) {
    this.fetch = davFetch(login, opts.timeoutMs ?? DAV_TIMEOUT_MS, opts.tls);
  }

  /** The kind's home: the fixed one, or discovered (RFC 6764, then the principal's home set). */
  home(kind: ItemKind): Promise<string> {
    let home = this.homes.get(kind);
    if (home === undefined) {
      home = this.discover(kind);
      this.homes.set(kind, home);
      // A failed discovery is tried again by the next call (the part's next attempt).
      home.catch(() => this.homes.delete(kind));
    }
    return home;
  }

  private async discover(kind: ItemKind): Promise<string> {
    const fixed = kind === "calendar" ? this.settings.calendarHome : this.settings.addressbookHome;
    return this.during("login", `PROPFIND ${this.settings.url}`, async () => {
      if (fixed !== undefined) {
        const home = fixedHome(fixed, this.login.owner ?? this.login.user);
        // Proves the login and the home, as discovery would.
        await this.expect(
          `PROPFIND ${home}`,
          propfind({ url: home, props: { "d:resourcetype": {} }, depth: "0", fetch: this.fetch }),
        );
        return home;
      }
      const account = await createAccount({
        account: { serverUrl: this.settings.url, accountType: ACCOUNT_TYPE[kind] },
        fetch: this.fetch,
      });
      if (account.homeUrl === undefined) throw new Error("no home set");
      return account.homeUrl.endsWith("/") ? account.homeUrl : `${account.homeUrl}/`;
    });
  }

  async ensure(collection: SourceCollection): Promise<DestinationCollection> {
    const { kind } = collection;
    const home = await this.home(kind);
    return this.during("store", `PROPFIND ${home}`, async () => {
      const existing = await this.collections(kind, home);
      const name = displayNameOf(collection);
      const found = collection.isDefault
        ? this.defaultOf(kind, existing, name)
        : existing.find((c) => sameName(c.displayName, name));
      const paths = collection.isDefault ? defaultPaths(kind, name) : madePaths(kind, name);
      const url = found?.url ?? (await this.create(kind, home, name, paths));
      if (!collection.isDefault) this.taken.add(decodeHref(url));
      return this.located(kind, url);
    });
  }

  /**
   * The destination's default collection: the one a server makes for every account (by its
   * path, DEFAULT_SEGMENTS), else one named like the source's default (made by an earlier run),
   * else the first of the home that no other source collection took and that this tool did not
   * make (a run stopped before its default, a rerun that ensures the default first); undefined:
   * to be created.
   */
  private defaultOf(
    kind: ItemKind,
    existing: HomeCollection[],
    name: string,
  ): HomeCollection | undefined {
    const segment = (c: HomeCollection) => decodeHref(c.url).split("/").at(-2)?.toLowerCase() ?? "";
    return (
      existing.find((c) => DEFAULT_SEGMENTS[kind].includes(segment(c))) ??
      existing.find((c) => sameName(c.displayName, name)) ??
      existing.find(
        (c) => !this.taken.has(decodeHref(c.url)) && !madeHere(segment(c), c.displayName),
      )
    );
  }

  /** The home's calendars that take events, or its address books, in the server's order. */
  private async collections(kind: ItemKind, home: string): Promise<HomeCollection[]> {
    const responses = await propfind({
      url: home,
      props: {
        "d:displayname": {},
        "d:resourcetype": {},
        ...(kind === "calendar" && { "c:supported-calendar-component-set": {} }),
      },
      depth: "1",
      fetch: this.fetch,
    });
    this.check(`PROPFIND ${home}`, responses);
    return responses.flatMap((r) => {
      if (r.href === undefined || !r.ok) return [];
      const url = new URL(r.href, home).href;
      const types = Object.keys((r.props?.resourcetype as object | undefined) ?? {});
      if (
        decodeHref(url) === decodeHref(home) ||
        !types.includes(kind === "calendar" ? "calendar" : "addressbook")
      )
        return [];
      // Zimbra's Tasks is a calendar of VTODOs only: no place for events.
      if (kind === "calendar" && !takesEvents(r.props?.supportedCalendarComponentSet)) return [];
      return [{ url, displayName: textOf(r.props?.displayname) }];
    });
  }

  /** MKCALENDAR, or extended MKCOL (RFC 5689) for an address book, named from the display name. */
  private async create(
    kind: ItemKind,
    home: string,
    name: string,
    paths: string[],
  ): Promise<string> {
    for (const segment of paths) {
      const url = `${home}${segment}/`;
      const responses =
        kind === "calendar"
          ? await makeCalendar({
              url,
              props: {
                "d:displayname": name,
                "c:supported-calendar-component-set": {
                  "c:comp": { _attributes: { name: "VEVENT" } },
                },
              },
              fetch: this.fetch,
            })
          : // tsdav's makeCollection is not among its typed exports: the same request.
            await davRequest({
              url,
              init: {
                method: "MKCOL",
                namespace: "d",
                body: {
                  mkcol: {
                    _attributes: getDAVAttribute([DAVNamespace.DAV, DAVNamespace.CARDDAV]),
                    set: {
                      prop: {
                        "d:resourcetype": { "d:collection": {}, "card:addressbook": {} },
                        "d:displayname": name,
                      },
                    },
                  },
                },
              },
              fetch: this.fetch,
            });
      const [first] = responses;
      if (first?.status === 405 || first?.status === 409) continue;
      this.check(`${kind === "calendar" ? "MKCALENDAR" : "MKCOL"} ${url}`, responses);
      return url;
    }
    throw new DavError(
      { kind: "protocol", problem: `no free path for "${name}" in ${home}` },
      "store",
      `MKCOL ${home}`,
      this.login.user,
    );
  }

  private located(kind: ItemKind, url: string): DestinationCollection {
    const location = decodeHref(url);
    this.urls.set(location, url);
    return { kind, location };
  }

  private urlOf(collection: DestinationCollection): string {
    return this.urls.get(collection.location) ?? new URL(collection.location).href;
  }

  async list(collection: DestinationCollection): Promise<Map<string, StoredItem>> {
    const url = this.urlOf(collection);
    const responses = await this.during("store", `REPORT ${url}`, () =>
      collection.kind === "calendar"
        ? calendarQuery({
            url,
            props: { "d:getetag": {}, "c:calendar-data": {} },
            filters: { "c:comp-filter": { _attributes: { name: "VCALENDAR" } } },
            depth: "1",
            fetch: this.fetch,
          })
        : addressBookQuery({
            url,
            props: { "d:getetag": {}, "card:address-data": {} },
            depth: "1",
            fetch: this.fetch,
          }),
    );
    this.check(`REPORT ${url}`, responses);
    const known = new Map<string, Known>();
    const stored = new Map<string, StoredItem>();
    for (const r of responses) {
      if (r.href === undefined || !r.ok) continue;
      const data = textOf(
        collection.kind === "calendar" ? r.props?.calendarData : r.props?.addressData,
      );
      const uid = uidOf(collection.kind, data);
      const etag = textOf(r.props?.getetag);
      // Not an item (the collection itself), or one that another client stored without a UID.
      if (uid === undefined || known.has(uid)) continue;
      known.set(uid, { href: new URL(r.href, url).href, etag });
      stored.set(uid, { uid, etag });
    }
    this.items.set(collection.location, known);
    return stored;
  }

  async put(collection: DestinationCollection, item: SourceItem): Promise<StoredItem> {
    const url = this.urlOf(collection);
    const known = this.knownIn(collection);
    const stored = await this.putAt(collection, item, known.get(item.uid));
    if (stored !== "elsewhere") return stored;
    // The server holds this UID under another name (stored by another client, RFC 4791's
    // no-uid-conflict): list again to find it, and overwrite it there.
    await this.list(collection);
    const found = this.knownIn(collection).get(item.uid);
    if (found === undefined)
      throw this.refusal(`PUT ${url}${resourceName(collection.kind, item.uid)}`, 409);
    const again = await this.putAt(collection, item, found);
    if (again === "elsewhere") throw this.refusal(`PUT ${found.href}`, 409);
    return again;
  }

  /** One PUT where `before` says the item is, or under its UID's name; "elsewhere" on a UID conflict. */
  private async putAt(
    collection: DestinationCollection,
    item: SourceItem,
    before: Known | undefined,
  ): Promise<StoredItem | "elsewhere"> {
    const href =
      before?.href ?? `${this.urlOf(collection)}${resourceName(collection.kind, item.uid)}`;
    return this.during("store", `PUT ${href}`, async () => {
      const body = collection.kind === "calendar" ? withClientScheduling(item.body) : item.body;
      let response = await this.send(collection.kind, href, body, before?.etag);
      if (response.status === 412) {
        // Changed or created at the destination since the last list: the source's version wins.
        response = await this.send(collection.kind, href, body, await this.etagOf(href));
      }
      if (response.status === 409 && before === undefined) return "elsewhere";
      if (!response.ok) throw this.refusal(`PUT ${href}`, response.status);
      // A server that rewrote the item (SabreDAV) sends no ETag: ask for it.
      const etag = response.headers.get("etag") ?? (await this.etagOf(href)) ?? "";
      this.knownIn(collection).set(item.uid, { href, etag });
      return { uid: item.uid, etag };
    });
  }

  /** PUT with If-Match when updating what we saw, If-None-Match when creating. */
  private async send(
    kind: ItemKind,
    href: string,
    body: string,
    etag: string | undefined,
  ): Promise<Response> {
    const response = await this.fetch(href, {
      method: "PUT",
      body,
      headers: {
        "Content-Type": CONTENT_TYPE[kind],
        ...(etag === undefined ? { "If-None-Match": "*" } : { "If-Match": etag }),
      },
    });
    await response.body?.cancel();
    return response;
  }

  private async etagOf(href: string): Promise<string | undefined> {
    const [r] = await propfind({
      url: href,
      props: { "d:getetag": {} },
      depth: "0",
      fetch: this.fetch,
    });
    return r?.ok ? textOf(r.props?.getetag) || undefined : undefined;
  }

  async remove(collection: DestinationCollection, uid: string): Promise<void> {
    const known = this.knownIn(collection);
    const href =
      known.get(uid)?.href ?? `${this.urlOf(collection)}${resourceName(collection.kind, uid)}`;
    await this.during("store", `DELETE ${href}`, async () => {
      const response = await this.fetch(href, { method: "DELETE" });
      await response.body?.cancel();
      // Already gone is what was asked.
      if (!response.ok && response.status !== 404)
        throw this.refusal(`DELETE ${href}`, response.status);
    });
    known.delete(uid);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  private knownIn(collection: DestinationCollection): Map<string, Known> {
    let known = this.items.get(collection.location);
    if (known === undefined) {
      known = new Map();
      this.items.set(collection.location, known);
    }
    return known;
  }

  private refusal(request: string, status: number): DavError {
    return new DavError(
      { kind: "status", status, quota: false },
      "store",
      request,
      this.login.user,
    );
  }

  /** A multistatus request that failed as a whole (tsdav returns it as one response). */
  private check(request: string, responses: DAVResponse[]): void {
    const [only] = responses;
    if (responses.length === 1 && only !== undefined && !only.ok && only.status >= 300) {
      throw this.refusal(request, only.status);
    }
  }

  private async expect(request: string, pending: Promise<DAVResponse[]>): Promise<void> {
    this.check(request, await pending);
  }

  /**
   * Runs `work`, its failures as DavErrors of `phase`: what davFetch threw keeps its fault, what
   * tsdav threw of its own ("cannot find homeUrl") is an answer that could not be used.
   */
  private async during<T>(phase: DavPhase, request: string, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      if (error instanceof DavError) throw error.phase === phase ? error : error.during(phase);
      throw new DavError(
        { kind: "protocol", problem: (error as Error).message },
        phase,
        request,
        this.login.user,
      );
    }
  }
}

function textOf(value: unknown): string {
  if (value === undefined || value === null) return "";
  if (typeof value === "object" && "_cdata" in value)
    return String((value as { _cdata: unknown })._cdata);
  if (typeof value === "object" && "_text" in value)
    return String((value as { _text: unknown })._text);
  // tsdav turns a numeric text ("2026") into a number.
  return String(value);
}

function takesEvents(set: unknown): boolean {
  if (set === undefined || set === null || typeof set !== "object") return true;
  const comps = (set as { comp?: unknown }).comp;
  const list = Array.isArray(comps) ? comps : comps === undefined ? [] : [comps];
  const names = list.map((c) =>
    String((c as { _attributes?: { name?: unknown } })._attributes?.name ?? "").toUpperCase(),
  );
  return names.length === 0 || names.includes("VEVENT");
}

/** A DAV collection is flat: a subfolder ("Contacts/Fournisseurs") is named by its own name. */
export function displayNameOf(collection: SourceCollection): string {
  return collection.name.split("/").at(-1) || collection.name;
}

function sameName(a: string, b: string): boolean {
  return a.normalize("NFC") === b.normalize("NFC");
}

/** A path segment from a display name: ASCII letters and digits ("Projets Été" → "projets-ete"). */
function slug(name: string): string {
  return name
    .normalize("NFD")
    .replace(/\p{M}/gu, "")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 48);
}

/**
 * The paths this tool gives a collection it makes for a source collection that is not the
 * default: from its name, with the name's hash when taken, never a default's path.
 */
function madePaths(kind: ItemKind, name: string): string[] {
  const base = slug(name) || kind;
  const hashed = `${base}-${shortHash(name)}`;
  return DEFAULT_SEGMENTS[kind].includes(base) ? [hashed] : [base, hashed];
}

/**
 * The default collection it makes on a server without one goes where a rerun finds it whatever
 * the source's default is named by then (a mailbox whose language changed): a default's path.
 */
function defaultPaths(kind: ItemKind, name: string): string[] {
  const [base] = DEFAULT_SEGMENTS[kind];
  return [base ?? kind, `${base ?? kind}-${shortHash(name)}`];
}

/** Whether a collection has a path this tool would have given it (clients use UUIDs). */
function madeHere(segment: string, displayName: string): boolean {
  return (
    madePaths("calendar", displayName).includes(segment) ||
    madePaths("contacts", displayName).includes(segment)
  );
}

function shortHash(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("hex").slice(0, 8);
}
