// The fetch every DAV request goes through (tsdav takes it as its `fetch`): HTTP Basic with the
// mailbox's login, a time limit, and the failures that end a part turned into DavErrors, since
// tsdav folds statuses and network errors into messages that cannot be told apart.
import { rootCertificates } from "node:tls";
import { Agent, type Dispatcher } from "undici";
import { DavError, type DavFault } from "./failure.js";

export interface DavLogin {
  /** Who logs in: the destination address exactly as the users file gives it, or the admin. */
  user: string;
  password: string;
  /** Whose homes a fixed home's `{user}` names, when an admin logs in for the mailbox. */
  owner?: string;
}

/** A request with no answer for this long is a lost connection (a PUT of a big event included). */
export const DAV_TIMEOUT_MS = 120_000;

/** Statuses no caller handles: the login, the quota, the server itself. */
function fatal(status: number): boolean {
  return status === 401 || status === 403 || status === 429 || status >= 500;
}

/** RFC 4331's precondition, or a server that says "quota" in a refusal's body. */
const QUOTA = /quota/i;

/**
 * How the server's certificate is checked: the destination's TLS2_VERIFY and CA2_FILE, as for
 * IMAP. `ca`: the PEM text of CA2_FILE, trusted beside the system's CAs.
 */
export interface DavTls {
  verify: boolean;
  ca?: string;
}

/** One connection pool per TLS setting for the whole process, so sockets are reused across parts. */
const dispatchers = new Map<string, Dispatcher>();

/** The pool for these settings; undefined for Node's defaults (the system's CAs, verified). */
export function davDispatcher(tls: DavTls | undefined): Dispatcher | undefined {
  if (!tls || (tls.verify && tls.ca === undefined)) return undefined;
  const key = `${tls.verify}\n${tls.ca ?? ""}`;
  let dispatcher = dispatchers.get(key);
  if (!dispatcher) {
    dispatcher = new Agent({
      connect: {
        rejectUnauthorized: tls.verify,
        ...(tls.ca !== undefined && { ca: [...rootCertificates, tls.ca] }),
      },
    });
    dispatchers.set(key, dispatcher);
  }
  return dispatcher;
}

export function davFetch(login: DavLogin, timeoutMs = DAV_TIMEOUT_MS, tls?: DavTls): typeof fetch {
  const dispatcher = davDispatcher(tls);
  // RFC 7617: user-id and password as UTF-8, so an address or password with accents logs in.
  const basic = `Basic ${Buffer.from(`${login.user}:${login.password}`, "utf8").toString("base64")}`;
  return async (input, init = {}) => {
    const method = init.method ?? "GET";
    const url = input instanceof Request ? input.url : String(input);
    const request = `${method} ${url}`;
    const headers = new Headers(init.headers);
    headers.set("Authorization", basic);
    const signal = init.signal
      ? AbortSignal.any([init.signal, AbortSignal.timeout(timeoutMs)])
      : AbortSignal.timeout(timeoutMs);
    let response: Response;
    try {
      // Node's fetch takes undici's dispatcher (the same major as the one it bundles).
      response = await fetch(input, {
        ...init,
        headers,
        signal,
        ...(dispatcher && { dispatcher }),
      } as RequestInit);
    } catch (error) {
      throw new DavError(networkFault(error, timeoutMs), "store", request, login.user);
    }
    if (!fatal(response.status)) return response;
    const body = await response.text().catch(() => "");
    const fault: DavFault = {
      kind: "status",
      status: response.status,
      quota: response.status === 507 || QUOTA.test(body),
    };
    throw new DavError(fault, "store", request, login.user);
  };
}

/** Node's codes for a certificate it refused or a handshake that failed (tls, OpenSSL). */
const TLS_REFUSAL = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|^ERR_TLS_|^ERR_SSL_|EPROTO/;

/** What undici says when there was no answer: its cause's code (ECONNREFUSED, ENOTFOUND…). */
function networkFault(error: unknown, timeoutMs: number): DavFault {
  const e = error as Error & { cause?: { code?: string; message?: string } };
  if (e.name === "TimeoutError")
    return { kind: "network", cause: `no answer within ${timeoutMs / 1000} s` };
  const cause = e.cause?.code ?? e.cause?.message ?? e.message;
  return TLS_REFUSAL.test(cause) ? { kind: "tls", cause } : { kind: "network", cause };
}
