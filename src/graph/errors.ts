// What a Microsoft Graph answer that is not a success means for a part, decided from its status
// and `error.code` only, never from the message (microsoft-graph.md §9; concepts/errors.md): pure,
// one table, first match wins.
import type { RunClass } from "../outcomes/classes.js";

export type GraphVerdict =
  /** The token was refused (expired, wrong audience): get a new one and send the request again. */
  | { kind: "renew_token" }
  /** Throttled or briefly unavailable: wait (Retry-After when given), then send it again. */
  | { kind: "wait"; retryAfterMs?: number }
  /** The item or folder vanished since it was listed: skip it. */
  | { kind: "gone" }
  /** The part ends with this class. */
  | { kind: "fail"; class: RunClass };

interface Rule {
  status: number | ((status: number) => boolean);
  /** Compared with `error.code` ignoring case; absent: any code. */
  code?: string;
  verdict: GraphVerdict;
}

const RULES: readonly Rule[] = [
  { status: 401, verdict: { kind: "renew_token" } },
  // Any 403 on a mailbox: the token may not open it (permission, consent, access policy).
  { status: 403, verdict: { kind: "fail", class: "not_delegated" } },
  {
    status: 404,
    code: "MailboxNotEnabledForRESTAPI",
    verdict: { kind: "fail", class: "mailbox_not_enabled" },
  },
  { status: 404, code: "ErrorItemNotFound", verdict: { kind: "gone" } },
  { status: 429, verdict: { kind: "wait" } },
  { status: 503, verdict: { kind: "wait" } },
  { status: 504, verdict: { kind: "wait" } },
  // 500, 502: the service failed on its side; the part is retried with growing delays.
  { status: (s) => s >= 500, verdict: { kind: "fail", class: "connect_failed_source" } },
  { status: () => true, verdict: { kind: "fail", class: "other" } },
];

/** `Retry-After` in seconds or as an HTTP date (RFC 9110 §10.2.3); undefined when unreadable. */
export function retryAfterMs(header: string | null, now = new Date()): number | undefined {
  if (header === null || header.trim() === "") return undefined;
  const text = header.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now.getTime());
}

/** The verdict on a Graph answer that was not a success. */
export function classifyGraphError(
  status: number,
  code: string | undefined,
  retryAfter: string | null,
  now = new Date(),
): GraphVerdict {
  const lower = code?.toLowerCase();
  const rule = RULES.find(
    (r) =>
      (typeof r.status === "number" ? r.status === status : r.status(status)) &&
      (r.code === undefined || r.code.toLowerCase() === lower),
  );
  const verdict = rule?.verdict ?? { kind: "fail", class: "other" };
  if (verdict.kind !== "wait") return verdict;
  const ms = retryAfterMs(retryAfter, now);
  return ms === undefined ? verdict : { kind: "wait", retryAfterMs: ms };
}

/** `error.code` of Graph's envelope `{"error":{"code","message"}}`, if the body has one. */
export function errorCode(body: unknown): string | undefined {
  const error = (body as { error?: { code?: unknown } } | null)?.error;
  return typeof error?.code === "string" ? error.code : undefined;
}

/**
 * A Graph request that ended a part: the class the engine retries by (and the report shows), what
 * Graph said, and for throttling the wait Graph suggested. The message names the request without
 * its query (paging tokens) and never carries the token.
 */
export class GraphError extends Error {
  readonly runClass: RunClass;
  readonly status: number | undefined;
  readonly code: string | undefined;
  readonly backoffMs: number | undefined;

  constructor(
    runClass: RunClass,
    what: string,
    detail: { status?: number; code?: string; backoffMs?: number; cause?: unknown } = {},
  ) {
    const said = [detail.status, detail.code].filter((x) => x !== undefined).join(" ");
    super(`${what}: ${said || "no answer"}`, { cause: detail.cause });
    this.name = "GraphError";
    this.runClass = runClass;
    this.status = detail.status;
    this.code = detail.code;
    this.backoffMs = detail.backoffMs;
  }
}
