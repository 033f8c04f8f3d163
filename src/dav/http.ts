// The fetch every DAV request goes through (tsdav takes it as its `fetch`): HTTP Basic with the
// mailbox's login, a time limit, and the failures that end a part turned into DavErrors, since
// tsdav folds statuses and network errors into messages that cannot be told apart.
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

export function davFetch(login: DavLogin, timeoutMs = DAV_TIMEOUT_MS): typeof fetch {
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
      response = await fetch(input, { ...init, headers, signal });
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

/** What undici says when there was no answer: its cause's code (ECONNREFUSED, ENOTFOUND…). */
function networkFault(error: unknown, timeoutMs: number): DavFault {
  const e = error as Error & { cause?: { code?: string; message?: string } };
  if (e.name === "TimeoutError")
    return { kind: "network", cause: `no answer within ${timeoutMs / 1000} s` };
  const cause = e.cause?.code ?? e.cause?.message ?? e.message;
  return { kind: "network", cause };
}
