// A local stand-in for Microsoft Graph's calendar and contacts API (v1.0), on 127.0.0.1, with the
// documented shapes of fixtures/graph: `@odata.nextLink` paging ($top, 10 by default),
// `Prefer: outlook.timezone` (echoed in Preference-Applied) and `outlook.body-content-type`,
// and the errors of microsoft-graph.md §9: 401 InvalidAuthenticationToken for a token that is not
// for Graph, 403 ErrorAccessDenied for a mailbox not granted or a token without the permission
// a path needs (Calendars.Read, Contacts.Read, MailboxSettings.Read, or their delegated
// `.Shared` forms), 404 MailboxNotEnabledForRESTAPI, 404 ErrorInvalidUser for an unknown user,
// 429 with Retry-After for a mailbox throttled N times, and 429 ApplicationThrottled beyond 4
// requests in flight for one mailbox (Outlook's MailboxConcurrency limit).
//
//   startGraph({ port?, verify, seed, denied?, notEnabled?, throttled?, retryAfterSec? }) → GraphServer
//     url                 http://127.0.0.1:<port>/v1.0 (GRAPH_URL)
//     throttle(m, times)  the next `times` requests for mailbox m answer 429
//     hold()              requests wait before answering until the returned release() (tests of
//                         the concurrency limit); inFlight(m) and maxInFlight(m) count them
//     requests            every request served, as "<status> <path>"
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { listenOnLoopback } from "./ports.js";
import { DateTime } from "luxon";
import { findIana } from "windows-iana";
import type { GraphMailboxSeed, SeedContactFolder, SeedEvent } from "./graph-seed.js";

export const MAILBOX_CONCURRENCY = 4;

/** The permission each path under /users/{id}/ needs (application form; `.Shared` is its delegated one). */
const PERMISSION_OF: Record<string, string> = {
  calendar: "Calendars.Read",
  calendars: "Calendars.Read",
  events: "Calendars.Read",
  contacts: "Contacts.Read",
  contactFolders: "Contacts.Read",
  mailboxSettings: "MailboxSettings.Read",
};
const DEFAULT_PAGE = 10;
const MAX_PAGE = 1000;

export interface GraphServerOptions {
  port?: number;
  /**
   * Whether a bearer token is a valid Graph token; its user (upn or app id) when so, and the
   * permissions its claims carry (`roles` or `scp`; absent: every one).
   */
  verify: (token: string) => Promise<{ who: string; permissions?: string[] } | undefined>;
  seed: Record<string, GraphMailboxSeed>;
  denied?: string[];
  notEnabled?: string[];
  /** Mailbox → requests answered 429 before it is served. */
  throttled?: Record<string, number>;
  retryAfterSec?: number;
}

export interface GraphServer {
  port: number;
  url: string;
  requests: string[];
  throttle(mailbox: string, times: number): void;
  hold(): () => void;
  inFlight(mailbox: string): number;
  maxInFlight(mailbox: string): number;
  stop(): Promise<void>;
}

const zones = new Map<string, string>();
const ianaOf = (zone: string) => {
  if (!zones.has(zone)) zones.set(zone, zone === "UTC" ? "UTC" : (findIana(zone)[0] ?? zone));
  return zones.get(zone)!;
};

/** A stored date-time as Graph writes it in `zone` (the Prefer header's name, echoed as given). */
function inZone(value: { dateTime: string; timeZone: string }, zone: string) {
  const at = DateTime.fromISO(value.dateTime.slice(0, 19), { zone: ianaOf(value.timeZone) });
  return {
    dateTime: `${at.setZone(ianaOf(zone)).toFormat("yyyy-MM-dd'T'HH:mm:ss")}.0000000`,
    timeZone: zone,
  };
}

function textOf(html: string): string {
  return html.replace(/<[^>]+>/g, "").trim();
}

/** `Prefer: a="x", b="y"` (one header or several) → { a: "x", b: "y" }. */
function preferences(req: IncomingMessage): Record<string, string> {
  const raw = req.headers.prefer;
  const text = Array.isArray(raw) ? raw.join(",") : (raw ?? "");
  return Object.fromEntries(
    [...text.matchAll(/([\w.-]+)\s*=\s*"([^"]*)"/g)].map((m) => [m[1]!.toLowerCase(), m[2]!]),
  );
}

function error(
  res: ServerResponse,
  status: number,
  code: string,
  message: string,
  headers: Record<string, string> = {},
) {
  res.writeHead(status, { "Content-Type": "application/json", ...headers });
  res.end(
    JSON.stringify({
      error: {
        code,
        message,
        innerError: { "request-id": crypto.randomUUID(), date: new Date().toISOString() },
      },
    }),
  );
}

/** Graph's answer for an id it does not hold; true: the request was answered. */
function notFound(res: ServerResponse): true {
  error(res, 404, "ErrorItemNotFound", "The specified object was not found in the store.");
  return true;
}

export async function startGraph(opts: GraphServerOptions): Promise<GraphServer> {
  const throttled = new Map(
    Object.entries(opts.throttled ?? {}).map(([m, n]) => [m.toLowerCase(), n]),
  );
  const denied = new Set((opts.denied ?? []).map((m) => m.toLowerCase()));
  const notEnabled = new Set((opts.notEnabled ?? []).map((m) => m.toLowerCase()));
  const seed = new Map(Object.entries(opts.seed).map(([m, s]) => [m.toLowerCase(), s]));
  const inFlight = new Map<string, number>();
  const maxInFlight = new Map<string, number>();
  const requests: string[] = [];
  let gate: Promise<void> | undefined;
  const retryAfter = String(opts.retryAfterSec ?? 1);

  const server = createServer();
  const port = await listenOnLoopback(server, opts.port);
  const origin = `http://127.0.0.1:${port}`;

  /** One page of `items`, each shown through `show` (only the page's: a bench calendar is large). */
  function page<T>(
    res: ServerResponse,
    url: URL,
    items: T[],
    headers: Record<string, string> = {},
    show: (item: T) => unknown = (item) => item,
  ) {
    const top = Math.min(
      MAX_PAGE,
      Math.max(1, Number(url.searchParams.get("$top") ?? DEFAULT_PAGE) || DEFAULT_PAGE),
    );
    const skip = Number(url.searchParams.get("$skiptoken") ?? 0) || 0;
    const body: Record<string, unknown> = {
      "@odata.context": `${origin}/v1.0/$metadata`,
      value: items.slice(skip, skip + top).map(show),
    };
    if (skip + top < items.length) {
      const next = new URL(url.href);
      next.searchParams.set("$skiptoken", String(skip + top));
      body["@odata.nextLink"] = next.href;
    }
    json(res, body, headers);
  }

  function json(res: ServerResponse, body: unknown, headers: Record<string, string> = {}) {
    res.writeHead(200, { "Content-Type": "application/json; charset=utf-8", ...headers });
    res.end(JSON.stringify(body));
  }

  /** An event as Graph answers it: times in the preferred zone (UTC without one), body as asked. */
  function render(event: SeedEvent, prefer: Record<string, string>): Record<string, unknown> {
    const zone = prefer["outlook.timezone"] ?? "UTC";
    const body = event.body as { contentType: string; content: string } | undefined;
    const text = prefer["outlook.body-content-type"] === "text";
    return {
      ...event,
      start: inZone(event.start, zone),
      end: inZone(event.end, zone),
      ...(body && text
        ? {
            body: {
              contentType: "text",
              content: body.contentType === "html" ? textOf(body.content) : body.content,
            },
          }
        : {}),
    };
  }

  const indexes = new Map<GraphMailboxSeed, Map<string, Record<string, unknown>>>();
  /** Every contact of a mailbox by id, built once (a photo is asked per contact). */
  function contactIndex(mailbox: GraphMailboxSeed): Map<string, Record<string, unknown>> {
    let index = indexes.get(mailbox);
    if (!index) {
      const all = [
        ...mailbox.contacts.contacts,
        ...allFolders(mailbox.contacts.folders).flatMap((f) => f.contacts),
      ];
      index = new Map(all.map((c) => [String(c.id), c]));
      indexes.set(mailbox, index);
    }
    return index;
  }

  function allFolders(folders: SeedContactFolder[]): SeedContactFolder[] {
    return folders.flatMap((f) => [f, ...allFolders(f.children)]);
  }

  /** The mailbox's resources; false when nothing answers that path. */
  function route(
    res: ServerResponse,
    url: URL,
    rest: string[],
    mailbox: GraphMailboxSeed,
    prefer: Record<string, string>,
  ): boolean {
    const [first, id, sub, subId] = rest;
    const zoneHeader = prefer["outlook.timezone"]
      ? { "Preference-Applied": `outlook.timezone="${prefer["outlook.timezone"]}"` }
      : undefined;
    const calendars = mailbox.calendars;
    const events = calendars.flatMap((c) => c.events);
    const folders = allFolders(mailbox.contacts.folders);
    switch (first) {
      case "mailboxSettings":
        if (id) return false;
        json(res, { timeZone: mailbox.timeZone, language: { locale: "fr-FR" } });
        return true;
      case "calendar":
        if (id) return false;
        json(res, calendars.find((c) => c.calendar.isDefaultCalendar)!.calendar);
        return true;
      case "calendars": {
        if (!id)
          return (
            page(
              res,
              url,
              calendars.map((c) => c.calendar),
            ),
            true
          );
        const cal = calendars.find((c) => c.calendar.id === id);
        if (!cal) return notFound(res);
        if (sub !== "events" || subId) return false;
        page(res, url, cal.events, zoneHeader, (e) => render(e, prefer));
        return true;
      }
      case "events": {
        const event = events.find((e) => e.id === id);
        if (!event) return notFound(res);
        if (sub === "instances") {
          const start = url.searchParams.get("startDateTime");
          const end = url.searchParams.get("endDateTime");
          if (!start || !end)
            return (
              error(
                res,
                400,
                "ErrorInvalidParameter",
                "This request requires a time window specified by the query string parameters StartDateTime and EndDateTime.",
              ),
              true
            );
          const from = Date.parse(
            start.endsWith("Z") || /[+-]\d\d:\d\d$/.test(start) ? start : `${start}Z`,
          );
          const to = Date.parse(end.endsWith("Z") || /[+-]\d\d:\d\d$/.test(end) ? end : `${end}Z`);
          const instances = (
            calendars.find((c) => c.events.includes(event))?.instances[event.id] ?? []
          ).filter((i) => {
            const at = DateTime.fromISO(i.start.dateTime.slice(0, 19), {
              zone: ianaOf(i.start.timeZone),
            }).toMillis();
            return at >= from && at < to;
          });
          page(res, url, instances, zoneHeader, (i) => render(i, prefer));
          return true;
        }
        if (sub === "attachments") {
          const attachments =
            calendars.find((c) => c.events.includes(event))?.attachments[event.id] ?? [];
          if (subId) {
            const one = attachments.find((a) => a.id === subId);
            if (!one) return notFound(res);
            json(res, one);
            return true;
          }
          // $select leaves out what it does not name (contentBytes), as Graph does; the type stays.
          const select = url.searchParams.get("$select")?.split(",");
          page(res, url, attachments, {}, (a) =>
            select
              ? Object.fromEntries(
                  Object.entries(a).filter(([k]) => k === "@odata.type" || select.includes(k)),
                )
              : a,
          );
          return true;
        }
        if (sub) return false;
        json(res, render(event, prefer), zoneHeader);
        return true;
      }
      case "contactFolders": {
        // As the documentation describes it: the folders inside the default Contacts folder.
        if (!id)
          return (
            page(
              res,
              url,
              mailbox.contacts.folders.map(({ contacts: _c, children: _ch, ...f }) => f),
            ),
            true
          );
        const folder = folders.find((f) => f.id === id);
        if (!folder) return notFound(res);
        if (sub === "childFolders")
          return (
            page(
              res,
              url,
              folder.children.map(({ contacts: _c, children: _ch, ...f }) => f),
            ),
            true
          );
        if (sub === "contacts") return (page(res, url, folder.contacts), true);
        return false;
      }
      case "contacts": {
        if (!id) return (page(res, url, mailbox.contacts.contacts), true);
        const contact = contactIndex(mailbox).get(id);
        if (!contact) return notFound(res);
        if (sub === "photo" && subId === "$value") {
          const photo = mailbox.photos[id];
          if (!photo)
            return (error(res, 404, "ErrorItemNotFound", "The photo wasn't found."), true);
          res.writeHead(200, {
            "Content-Type": "image/jpeg",
            "Content-Length": String(photo.length),
          });
          res.end(photo);
          return true;
        }
        if (sub) return false;
        json(res, contact);
        return true;
      }
      default:
        return false;
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", origin);
    const parts = url.pathname.split("/").filter(Boolean).map(decodeURIComponent);
    const auth = /^Bearer (.+)$/i.exec(req.headers.authorization ?? "")?.[1];
    const caller = auth ? await opts.verify(auth) : undefined;
    if (!caller)
      return error(
        res,
        401,
        "InvalidAuthenticationToken",
        auth ? "Access token validation failure. Invalid audience." : "Access token is empty.",
      );
    if (parts[0] !== "v1.0" || parts[1] !== "users" || !parts[2])
      return error(
        res,
        400,
        "BadRequest",
        `Resource not found for the segment '${parts[1] ?? ""}'.`,
      );
    const address = parts[2].toLowerCase();
    if (denied.has(address))
      return error(
        res,
        403,
        "ErrorAccessDenied",
        "Access is denied. Check credentials and try again.",
      );
    const need = PERMISSION_OF[parts[3] ?? ""];
    if (need && caller.permissions && !caller.permissions.some((p) => p.startsWith(need)))
      return error(
        res,
        403,
        "ErrorAccessDenied",
        "Access is denied. Check credentials and try again.",
      );
    const mailbox = seed.get(address);
    if (!mailbox && !notEnabled.has(address))
      return error(res, 404, "ErrorInvalidUser", `The requested user '${parts[2]}' is invalid.`);
    if (!mailbox || notEnabled.has(address))
      return error(
        res,
        404,
        "MailboxNotEnabledForRESTAPI",
        "The mailbox is either inactive, soft-deleted, or is hosted on-premise.",
      );
    const left = throttled.get(address) ?? 0;
    if (left > 0) {
      throttled.set(address, left - 1);
      return error(res, 429, "TooManyRequests", "The server is busy. Please, try again later.", {
        "Retry-After": retryAfter,
      });
    }
    const now = (inFlight.get(address) ?? 0) + 1;
    if (now > MAILBOX_CONCURRENCY)
      return error(
        res,
        429,
        "ApplicationThrottled",
        "Application is over its MailboxConcurrency limit.",
        { "Retry-After": retryAfter },
      );
    inFlight.set(address, now);
    maxInFlight.set(address, Math.max(now, maxInFlight.get(address) ?? 0));
    try {
      if (gate) await gate;
      if (!route(res, url, parts.slice(3), mailbox, preferences(req)))
        error(res, 400, "BadRequest", `Resource not found for the segment '${parts[3] ?? ""}'.`);
    } finally {
      inFlight.set(address, (inFlight.get(address) ?? 1) - 1);
    }
  }

  server.on("request", (req, res) => {
    res.on("finish", () => requests.push(`${res.statusCode} ${req.url ?? ""}`));
    handle(req, res).catch((e: unknown) => {
      if (!res.headersSent) error(res, 500, "generalException", String(e));
    });
  });

  return {
    port,
    url: `${origin}/v1.0`,
    requests,
    throttle: (mailbox, times) => void throttled.set(mailbox.toLowerCase(), times),
    hold: () => {
      let release!: () => void;
      gate = new Promise((resolve) => (release = resolve));
      return () => {
        gate = undefined;
        release();
      };
    },
    inFlight: (m) => inFlight.get(m.toLowerCase()) ?? 0,
    maxInFlight: (m) => maxInFlight.get(m.toLowerCase()) ?? 0,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
