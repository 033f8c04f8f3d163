// Every sentence shown to an admin about how a mailbox's run ended and what to do next: the
// classes, the retry reasons, waiting states, and the preflight's verdicts.
import type { RunClass, ThrottleWait } from "./classes.js";
import { formatDuration } from "../format.js";

/** A wait as a sentence says it: seconds under a minute, minutes under two hours, then hours. */
export function duration(ms: number): string {
  const plural = (n: number, unit: string) => `${n} ${unit}${n === 1 ? "" : "s"}`;
  const seconds = Math.round(ms / 1000);
  if (seconds < 60) return plural(seconds, "second");
  const minutes = Math.round(seconds / 60);
  if (minutes < 120) return plural(minutes, "minute");
  return plural(Math.round(minutes / 6) / 10, "hour");
}

/** What a throttling wait was: the wait itself, and why it is that long. */
function throttleWaitText(delayMs: number, wait: ThrottleWait): string {
  const suggested = duration(wait.suggestedMs);
  if (wait.capped) return `${duration(delayMs)} (--max-backoff; Office 365 suggested ${suggested})`;
  if (wait.remembered && wait.doublings === 0) {
    return (
      `${duration(delayMs)} (Office 365 suggested ${suggested}, but the last time this mailbox ` +
      "was throttled it was refused until about then: that wait and a margin)"
    );
  }
  if (wait.doublings === 0) return `${duration(delayMs)}, as Office 365 suggested`;
  return (
    `${duration(delayMs)} (Office 365 suggested ${suggested}, but the mailbox was throttled ` +
    "again right after its last wait: each time in a row the wait doubles)"
  );
}

const TENANT_THROTTLED =
  "If the tenant stays throttled, lower the concurrency, spread the migration over more hours, " +
  "or ask Microsoft support for a temporary relief of the throttling limits.";

/** One sentence an admin can act on, for each way a run can end. */
export function remedyFor(
  cls: RunClass,
  c: {
    /** Throttling: what Office 365 suggested, when it printed a figure. */
    backoffMs?: number;
    /** Throttling: the tool waits this long before the next attempt. */
    wait?: { delayMs: number; throttle: ThrottleWait };
    mailbox?: string;
    admin?: string;
    /** The process was killed by something else than this tool (a shell, the kernel, a container). */
    killedFromOutside?: boolean;
    /** The log stops before any line imapsync prints at the end of a run. */
    logEndsEarly?: boolean;
    /** The part read Microsoft Graph (calendars, contacts), not IMAP. */
    graph?: { appOnly: boolean };
  } = {},
): string {
  switch (cls) {
    case "ok":
      return "Nothing to do: the mailbox is in sync; a later rerun only copies new messages.";
    case "not_delegated":
      if (c.graph) return graphAccessDenied(c.graph.appOnly, c.mailbox);
      return (
        "The token is valid but its admin cannot open this mailbox: grant the admin FullAccess " +
        `(Add-MailboxPermission -Identity ${c.mailbox ?? "<mailbox>"} -User ${c.admin ?? "<admin>"} -AccessRights FullAccess ` +
        "-InheritanceType All), wait a few minutes, then rerun; if it persists, check that the " +
        "token was issued to that admin and that IMAP is enabled for the mailbox (Get-CASMailbox)."
      );
    case "token_expired":
      return (
        "The access token expired during the run: the tool gets a fresh token and reruns the " +
        "mailbox, which only copies what is still missing (reruns are incremental)."
      );
    case "auth_failed_source":
      if (c.graph)
        return (
          "Microsoft Graph refused the access token, and a new one too (401): check that the token " +
          "is asked for https://graph.microsoft.com (GRAPH_URL never changes that), by the intended " +
          "app in the intended tenant, then rerun."
        );
      return (
        "Office 365 refused the first login: check that the token belongs to the intended admin, " +
        "carries IMAP.AccessAsUser.All (or IMAP.AccessAsApp) for outlook.office365.com, and that " +
        "the admin has FullAccess on the mailbox, then rerun."
      );
    case "auth_failed_destination":
      return "The destination refused the login: fix this mailbox's destination user or password (users file or password file), then rerun.";
    case "connect_failed_source":
      if (c.graph)
        return "Microsoft Graph could not be reached or failed on its side (5xx): check GRAPH_URL, the network, any HTTPS_PROXY; the tool retries with growing delays.";
      return "The source IMAP server could not be reached: check its host, port and the network or firewall; the tool retries with growing delays.";
    case "connect_failed_destination":
      return "The destination IMAP server could not be reached: check its host, port and the network or firewall; the tool retries with growing delays.";
    case "tls_failed":
      return "The TLS handshake failed: make the TLS mode match the port (implicit TLS on 993, STARTTLS or none on 143) for that server, then rerun.";
    case "throttled":
      return c.wait
        ? `Exchange Online is throttling this mailbox: the tool waits ${throttleWaitText(c.wait.delayMs, c.wait.throttle)}, ` +
            `then reruns it, which copies only what is missing. ${TENANT_THROTTLED}`
        : `Exchange Online throttled this mailbox${c.backoffMs === undefined ? "" : ` and suggested waiting ${duration(c.backoffMs)}`}: ` +
            "run it again later (`retry`, or `migrate --resume`), which copies only what is missing. " +
            TENANT_THROTTLED;
    case "quota_exceeded":
      return "The destination mailbox is full: raise its quota or free space on it, then rerun (messages already copied are skipped).";
    case "partial":
      return (
        "Some messages were not copied: rerun the mailbox, which copies only what is missing; " +
        "if the same messages fail again, read their Err lines in the log."
      );
    case "interrupted":
      return c.killedFromOutside
        ? "imapsync was killed from outside, not stopped by this tool: out of memory (check dmesg " +
            "for the OOM killer), a container or pod memory limit, or a person; give it more memory " +
            "or fewer parallel mailboxes, then run the mailbox again, which copies only what is missing."
        : "The run was stopped on purpose: run the mailbox again to continue where it stopped.";
    case "other":
      if (c.logEndsEarly) {
        return (
          "The log ends before the run did: it shows no failure, but no exit line, statistics or " +
          "final sentence either; get the rest of the log (or the run's exit status), or rerun the mailbox."
        );
      }
      return "imapsync stopped for a reason this tool does not recognise: read the evidence lines and the log, fix the cause, then rerun.";
    case "mailbox_not_enabled":
      return (
        `Microsoft Graph says ${c.mailbox ?? "this user"} has no Exchange Online mailbox it can read ` +
        "(MailboxNotEnabledForRESTAPI): a user without an Exchange Online licence, a mailbox still " +
        "on-premises, or one deleted or being provisioned. Check the user's licence and " +
        "Get-Mailbox in Exchange Online; once the mailbox exists there, rerun."
      );
  }
}

/**
 * What to do about a calendar or contacts part (Microsoft Graph to CalDAV/CardDAV or files): the
 * classes whose cause differs from imapsync's say it their way, the others as for mail.
 */
export function partRemedy(
  cls: RunClass,
  c: {
    kind: "calendar" | "contacts";
    wait?: { delayMs: number; throttle: ThrottleWait };
    mailbox?: string;
    /** The Graph token is the app's own (client credentials), not a signed-in admin's. */
    appOnly: boolean;
  },
): string {
  const what = c.kind === "calendar" ? "calendars" : "contacts";
  switch (cls) {
    case "ok":
      return `Nothing to do: the ${what} are in sync; a rerun only sends what changed.`;
    case "not_delegated":
    case "mailbox_not_enabled":
      return remedyFor(cls, { mailbox: c.mailbox, graph: { appOnly: c.appOnly } });
    case "token_expired":
      return `The Graph token was refused (401): the tool gets a new one and runs the ${what} again, sending only what is missing.`;
    case "auth_failed_destination":
      return (
        "The CalDAV/CardDAV server refused the login: check the destination address and its " +
        "password (the users file's, as for the mail), and that the account may use DAV, then rerun."
      );
    case "connect_failed_source":
      return "Microsoft Graph could not be reached (GRAPH_URL): check the network or proxy; the tool retries with growing delays.";
    case "connect_failed_destination":
      return "The CalDAV/CardDAV server could not be reached (DAV_URL): check its address and the network; the tool retries with growing delays.";
    case "throttled":
      return c.wait
        ? `Microsoft Graph is throttling this mailbox: the tool waits ${duration(c.wait.delayMs)}, then sends what is still missing. ${TENANT_THROTTLED}`
        : `Microsoft Graph throttled this mailbox: run it again later (\`retry\`, or \`migrate --resume\`), which sends only what is missing. ${TENANT_THROTTLED}`;
    case "quota_exceeded":
      return `The destination refused the ${what} for lack of space: raise the account's quota, then rerun.`;
    case "interrupted":
      return `The ${what} were stopped on purpose: run again to continue where they stopped.`;
    case "other":
      return `Copying the ${what} failed for a reason this tool does not recognise: read the attempt's detail in the report, fix the cause, then rerun.`;
    default:
      return remedyFor(cls);
  }
}

/** Graph's 403 ErrorAccessDenied: what the token lacks, by the kind of grant it came from. */
function graphAccessDenied(appOnly: boolean, mailbox = "<mailbox>"): string {
  return appOnly
    ? "Microsoft Graph refused to open this mailbox (403 ErrorAccessDenied): give the app the " +
        "application permissions Calendars.Read, Contacts.Read and MailboxSettings.Read (Microsoft " +
        "Graph) with admin consent, then get a new token; if it already has them, an Exchange " +
        `application access policy or RBAC for Applications scope leaves ${mailbox} out ` +
        "(Test-ApplicationAccessPolicy -Identity <mailbox> -AppId <app>)."
    : "Microsoft Graph refused to open this mailbox for the signed-in admin (403 ErrorAccessDenied): " +
        "the token needs the delegated permissions Calendars.Read.Shared, Contacts.Read.Shared and " +
        "MailboxSettings.Read with admin consent, and the mailbox's owner must share its calendars " +
        `and contact folders with the admin (FullAccess alone may not be enough for Graph on ${mailbox}); ` +
        "for a migration prefer GRANT=client-credentials with application permissions.";
}

/**
 * What to do about one permission `check` tried on a mailbox (not granted). `inToken`: whether the
 * token's claims (`roles` for the app, `scp` for a person) carry it; undefined for an opaque token.
 */
export function accessRemedy(
  verdict: "refused" | "no_mailbox" | "unknown_user" | "unanswered",
  c: {
    permission: string;
    appOnly: boolean;
    mailbox: string;
    inToken: boolean | undefined;
    said?: string;
  },
): string {
  const said = c.said ? ` (${c.said})` : "";
  switch (verdict) {
    case "no_mailbox":
      return remedyFor("mailbox_not_enabled", { mailbox: c.mailbox });
    case "unknown_user":
      return `Microsoft Graph knows no user ${c.mailbox}${said}: check the source address in the users file (the user's primary address or UPN in Entra ID).`;
    case "unanswered":
      return `Microsoft Graph gave no verdict on ${c.permission}${said}: run check again; if it persists, check GRAPH_URL and the network.`;
    case "refused":
      break;
  }
  const refused = `Microsoft Graph refused ${c.permission} on ${c.mailbox}${said}`;
  if (c.appOnly) {
    const missing = `give the app the application permission ${c.permission} (Microsoft Graph) and grant admin consent, then get a new token (\`token\`)`;
    const policy = `an Exchange application access policy or RBAC for Applications scope leaves ${c.mailbox} out (Test-ApplicationAccessPolicy -Identity ${c.mailbox} -AppId <app>)`;
    if (c.inToken === false) return `${refused}: the token's roles lack it: ${missing}.`;
    if (c.inToken === true) return `${refused}: the token carries it, so ${policy}.`;
    return `${refused}: ${missing}; if the app has it, ${policy}.`;
  }
  const share = `the mailbox's owner must share its calendars and contact folders with the admin (FullAccess alone may not be enough for Graph)`;
  if (c.inToken === false)
    return `${refused}: the token's scopes lack it: add the delegated permission ${c.permission} with admin consent, then sign in again (\`token\`).`;
  return `${refused}: ${c.inToken === true ? "" : `the token needs the delegated permission ${c.permission} with admin consent, and `}${share}; for a migration prefer GRANT=client-credentials.`;
}

export const WAITING_FOR_TOKEN =
  "Waiting for an access token: run `m365-imapsync token`, then `migrate --resume`.";

/** A run stopped by the tool itself because it printed nothing for STALL_TIMEOUT. */
export function stalledRemedy(stallTimeoutMs: number): string {
  return `The run printed nothing for ${formatDuration(stallTimeoutMs)} and was stopped (STALL_TIMEOUT): the server stopped answering. It is retried like a lost connection; if it keeps happening, check the network to both servers.`;
}

export const STALLED_WAITING = "the run went silent (STALL_TIMEOUT)";

/** A slice stopped because another slice of its mailbox was throttled. */
export const PAUSED_BY_THROTTLING =
  "Paused: another slice of this mailbox was throttled; it goes on after the mailbox's wait.";
export const PAUSED_NEAR_BUDGET =
  "Paused: this mailbox is near what Exchange Online allowed it between its last two refusals, so one slice goes on alone (only one is refused when the budget runs out); it goes on after that.";

export function leftoverRemedy(pid: number): string {
  return `An imapsync left by an earlier run (PID ${pid}) is still copying this mailbox; it starts when that one ends (--stop-leftovers stops it).`;
}

/** Why a mailbox runs again (shown while it waits). */
export const RETRY_REASONS = {
  tokenExpired: "the access token expired",
  throttled: "Office 365 throttled the mailbox",
  ended: (cls: RunClass) => `the run ended ${cls}`,
};

/** Why a mailbox that could run again is not (appended to its remedy). */
export function gaveUpReason(
  p:
    | { unproductive: number; maxAttempts: number }
    | { total: number }
    | { quietMs: number; giveUpMs: number },
): string {
  if ("quietMs" in p)
    return `gave up: throttled, and no message copied for ${duration(p.quietMs)} (THROTTLE_GIVE_UP ${formatDuration(p.giveUpMs)})`;
  return "total" in p
    ? `gave up after ${p.total} attempts`
    : `gave up after ${p.unproductive} attempts that copied nothing (--max-attempts ${p.maxAttempts})`;
}

/** A verification found source mail that is not on the destination. */
export const MISSING_REMEDY = "rerun migrate for this mailbox (incremental), then verify again";

/**
 * imapsync ended EX_OK but could not read every folder: its session died mid-listing
 * (fixtures/imapsync-2.229-verify, token_expired_*).
 */
export const UNREADABLE_LISTING_REMEDY =
  "imapsync could not read every folder during the verification (its session ended, often because the token expired): verify again.";

export const PREFLIGHT_OK = "Both logins work and every folder opens: the mailbox can be migrated.";

export function quotaShortfallRemedy(
  destination: string,
  shortfall: { needBytes: number; freeBytes: number },
): string {
  const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;
  return `The destination quota of ${destination} leaves ${kib(shortfall.freeBytes)} free, but ${kib(shortfall.needBytes)} of the source's mail is not there yet: raise the quota, then run check again.`;
}

/** What went wrong with the CalDAV/CardDAV destination, as src/dav/failure.ts sorts it. */
export type DavTrouble =
  | { kind: "login"; user: string; status: number }
  | { kind: "unreachable"; url: string; cause: string }
  | { kind: "tls"; url: string; cause: string }
  | { kind: "quota"; request: string }
  | { kind: "server"; request: string; status: number }
  | { kind: "forbidden"; request: string }
  | { kind: "discovery"; url: string; problem: string }
  | { kind: "refused"; request: string; status: number }
  | { kind: "unusable"; request: string; problem: string };

/** One sentence an admin can act on, naming the setting to fix, for each DAV trouble. */
export function davRemedy(t: DavTrouble): string {
  switch (t.kind) {
    case "login":
      return (
        `The CalDAV/CardDAV server refused the login of ${t.user} (HTTP ${t.status}): it logs in with the ` +
        "users file's destination address and the mailbox's password (password or password_file, or " +
        "DEST_ADMIN_PASSWORD_FILE); fix them, or DAV_URL if it names another server, then rerun."
      );
    case "unreachable":
      return `The CalDAV/CardDAV server at ${t.url} could not be reached (${t.cause}): check DAV_URL, the network or firewall; the tool retries with growing delays.`;
    case "tls":
      return `The TLS handshake with the CalDAV/CardDAV server at ${t.url} failed (${t.cause}): for a certificate signed by a private CA, give that CA's PEM file in CA2_FILE (the same as the mail's destination); TLS2_VERIFY=false accepts any certificate (a test server only); check that DAV_URL's scheme and port match the server, then rerun.`;
    case "quota":
      return `The destination account is full (${t.request}): raise its quota or free space on it, then rerun (items already stored are skipped).`;
    case "server":
      return `The CalDAV/CardDAV server failed (${t.request}: HTTP ${t.status}): the tool retries with growing delays; if it persists, read the server's log.`;
    case "forbidden":
      return `The CalDAV/CardDAV server lets this account log in but not write there (${t.request}: HTTP 403): give it rights on its own calendars and address books, or point DAV_CALENDAR_HOME / DAV_ADDRESSBOOK_HOME at a home it owns.`;
    case "discovery":
      return `Discovery from ${t.url} found no calendar or address-book home (${t.problem}): set DAV_URL to the server's root (docs/dav-destinations.md), or DAV_CALENDAR_HOME and DAV_ADDRESSBOOK_HOME to the homes.`;
    case "unusable":
      return `${t.request} failed (${t.problem}): read the part's evidence; an item that cannot be stored is named in the report, and a rerun tries it again.`;
    case "refused":
      return `The CalDAV/CardDAV server refused ${t.request} (HTTP ${t.status}): read the server's log for why; an item it will not take is named in the report.`;
  }
}
