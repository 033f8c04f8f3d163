// How a CalDAV/CardDAV request failed, and what that means for the part: the one pure table from a
// failure to the project's classes (src/outcomes/classes.ts) and its remedy.
import type { RunClass } from "../outcomes/classes.js";
import { davRemedy, type DavTrouble } from "../outcomes/remedies.js";

/** Discovery and the login it proves, or the work that follows once logged in. */
export type DavPhase = "login" | "store";

/** What the client saw: an HTTP status, no answer at all, or an answer it could not use. */
export type DavFault =
  | { kind: "status"; status: number; quota: boolean }
  | { kind: "network"; cause: string }
  /** The TLS handshake failed: a certificate not trusted (TLS2_VERIFY, CA2_FILE), or no TLS there. */
  | { kind: "tls"; cause: string }
  | { kind: "protocol"; problem: string };

export class DavError extends Error {
  constructor(
    readonly fault: DavFault,
    readonly phase: DavPhase,
    /** Method and URL ("PUT https://…/x.ics"); never a credential. */
    readonly request: string,
    /** Who logged in, for the remedy. */
    readonly user: string,
  ) {
    super(`${request}: ${describe(fault)}`);
    this.name = "DavError";
  }

  /** The same failure seen from another phase (discovery wraps what the requests threw). */
  during(phase: DavPhase): DavError {
    return new DavError(this.fault, phase, this.request, this.user);
  }
}

function describe(fault: DavFault): string {
  switch (fault.kind) {
    case "status":
      return `HTTP ${fault.status}${fault.quota ? " (quota)" : ""}`;
    case "network":
    case "tls":
      return fault.cause;
    case "protocol":
      return fault.problem;
  }
}

export interface DavClassification {
  class: RunClass;
  remedy: string;
  /** Worth an automatic rerun, like a lost IMAP connection (AttemptOutcome.lostConnection). */
  lostConnection: boolean;
}

/** The class, remedy and retry hint of a DAV failure. Pure. */
export function classifyDavFailure(error: DavError): DavClassification {
  const { fault, phase, request } = error;
  const of = (cls: RunClass, trouble: DavTrouble, lostConnection = false) => ({
    class: cls,
    remedy: davRemedy(trouble),
    lostConnection,
  });
  const url = request.slice(request.indexOf(" ") + 1);
  switch (fault.kind) {
    case "network":
      return of(
        "connect_failed_destination",
        { kind: "unreachable", url: originOf(url), cause: fault.cause },
        true,
      );
    case "tls":
      return of("tls_failed", { kind: "tls", url: originOf(url), cause: fault.cause });
    case "protocol":
      return phase === "login"
        ? of("other", { kind: "discovery", url, problem: fault.problem })
        : of("other", { kind: "unusable", request, problem: fault.problem });
    case "status": {
      const { status } = fault;
      if (status === 401 || (status === 403 && phase === "login" && !fault.quota)) {
        return of("auth_failed_destination", { kind: "login", user: error.user, status });
      }
      // RFC 4918 §11.5 and RFC 4331's quota-not-exceeded precondition (often sent with 403).
      if (status === 507 || fault.quota) return of("quota_exceeded", { kind: "quota", request });
      if (status >= 500 || status === 429) {
        return of("other", { kind: "server", request, status }, true);
      }
      if (status === 403) return of("other", { kind: "forbidden", request });
      if (phase === "login") {
        return of("other", { kind: "discovery", url, problem: `HTTP ${status}` });
      }
      return of("other", { kind: "refused", request, status });
    }
  }
}

function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return url;
  }
}
