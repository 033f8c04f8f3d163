// How a calendar or contacts attempt ended, from what its source (Graph) or destination (DAV,
// files) threw. Pure and table-driven, like imapsync's classifier: the two sides are free to throw
// their own errors; what is read of them is a class they decided themselves (`runClass`, as
// GraphError carries it), the HTTP status (`status`), the service's error code or the system's
// (`code`), a suggested wait (`backoffMs` or `retryAfterMs`, or `retryAfter` in seconds), and the
// same on their `cause`.
import { RUN_CLASSES, type RunClass } from "../outcomes/classes.js";
import { classifyDavFailure, DavError } from "../dav/failure.js";

/** Which side of the part threw: the same status means different things on each. */
export type Side = "source" | "destination";

export interface PartFailure {
  class: RunClass;
  /** A rerun may help because the connection, not the request, failed. */
  lostConnection: boolean;
  /** The wait the server asked for (Retry-After). */
  backoffMs?: number;
  /** What the side said, for the report. */
  detail: string;
  /** The side's own remedy, when it has one for this failure (it knows the settings to name). */
  remedy?: string;
}

interface Clues {
  status?: number;
  code?: string;
  retryAfterMs?: number;
  runClass?: RunClass;
  aborted: boolean;
  message: string;
}

interface Rule {
  side?: Side;
  status?: (status: number) => boolean;
  code?: RegExp;
  class: RunClass | ((side: Side) => RunClass);
  lostConnection?: boolean;
}

const is = (n: number) => (status: number) => status === n;
const connectFailed = (side: Side): RunClass => `connect_failed_${side}`;

/** First match wins. Graph's codes are documented (reference: microsoft-graph.md §9). */
const RULES: readonly Rule[] = [
  { status: (s) => s === 429 || s === 503, class: "throttled" },
  { code: /^(ApplicationThrottled|ErrorTooManyObjectsOpened)$/, class: "throttled" },
  { side: "source", status: is(401), class: "token_expired" },
  { side: "source", status: is(403), class: "not_delegated" },
  { side: "destination", status: (s) => s === 401 || s === 403, class: "auth_failed_destination" },
  { side: "destination", status: is(507), class: "quota_exceeded" },
  { side: "destination", code: /^ENOSPC$|^EDQUOT$/, class: "quota_exceeded" },
  { code: /^(ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ENETUNREACH|EAI_AGAIN)$/, class: connectFailed },
  { code: /^(ECONNRESET|EPIPE|ETIMEDOUT|UND_ERR_\w+)$/, class: "other", lostConnection: true },
  { code: /CERT|^ERR_TLS_|^ERR_SSL_|SELF_SIGNED|UNABLE_TO_VERIFY/, class: "tls_failed" },
  { status: (s) => s >= 500, class: "other", lostConnection: true },
];

function cluesOf(error: unknown): Clues {
  const clues: Clues = { aborted: false, message: String(error) };
  // The outermost value of each clue wins; causes fill in what it lacks.
  for (let e: unknown = error, depth = 0; e && typeof e === "object" && depth < 5; depth++) {
    const o = e as Record<string, unknown>;
    if (depth === 0 && o.message !== undefined) clues.message = String(o.message);
    if (o.name === "AbortError") clues.aborted = true;
    if (typeof o.status === "number") clues.status ??= o.status;
    // DavError keeps the HTTP status in its `fault`.
    const fault = o.fault as { status?: unknown } | undefined;
    if (typeof fault?.status === "number") clues.status ??= fault.status;
    if (typeof o.code === "string") clues.code ??= o.code;
    if (typeof o.backoffMs === "number") clues.retryAfterMs ??= o.backoffMs;
    if (typeof o.retryAfterMs === "number") clues.retryAfterMs ??= o.retryAfterMs;
    if (typeof o.retryAfter === "number") clues.retryAfterMs ??= o.retryAfter * 1000;
    if (typeof o.runClass === "string" && (RUN_CLASSES as readonly string[]).includes(o.runClass))
      clues.runClass ??= o.runClass as RunClass;
    e = o.cause;
  }
  return clues;
}

/** The class of a part's attempt that threw `error` on `side`. */
export function classifyPartError(error: unknown, side: Side): PartFailure {
  const clues = cluesOf(error);
  const detail = `${side}: ${[clues.status, clues.code].filter(Boolean).join(" ")}${clues.status || clues.code ? " " : ""}${clues.message}`;
  const base = { detail, backoffMs: clues.retryAfterMs };
  // The DAV side knows its failures best (the phase, a quota refusal), and names its settings.
  if (error instanceof DavError) return { ...base, ...classifyDavFailure(error) };
  if (clues.aborted) return { ...base, class: "interrupted", lostConnection: false };
  if (clues.runClass) return { ...base, class: clues.runClass, lostConnection: false };
  const rule = RULES.find(
    (r) =>
      (r.side === undefined || r.side === side) &&
      (r.status === undefined || (clues.status !== undefined && r.status(clues.status))) &&
      (r.code === undefined || (clues.code !== undefined && r.code.test(clues.code))),
  );
  if (!rule) return { ...base, class: "other", lostConnection: false };
  const cls = typeof rule.class === "function" ? rule.class(side) : rule.class;
  return { ...base, class: cls, lostConnection: rule.lostConnection === true };
}
