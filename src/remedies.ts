import type { RunClass } from "./types.js";

/** How the scheduler may run a mailbox again after an attempt of a given class. */
export type RetryPolicy = "refresh_token" | "backoff" | "exponential" | "never";

/** Office 365's published suggestion (≈ 300 s) when a throttled reply gave no figure. */
export const DEFAULT_BACKOFF_MS = 300_000;

function duration(ms: number): string {
  const minutes = Math.ceil(ms / 60_000);
  return minutes <= 1 ? "1 minute" : `${minutes} minutes`;
}

/** One sentence an admin can act on, for each way a run can end. */
export function remedyFor(
  cls: RunClass,
  c: {
    backoffMs?: number;
    mailbox?: string;
    admin?: string;
    /** The process was killed by something else than this tool (a shell, the kernel, a container). */
    killedFromOutside?: boolean;
    /** The log stops before any line imapsync prints at the end of a run. */
    logEndsEarly?: boolean;
  } = {},
): string {
  switch (cls) {
    case "ok":
      return "Nothing to do: the mailbox is in sync; a later rerun only copies new messages.";
    case "not_delegated":
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
      return (
        "Office 365 refused the first login: check that the token belongs to the intended admin, " +
        "carries IMAP.AccessAsUser.All (or IMAP.AccessAsApp) for outlook.office365.com, and that " +
        "the admin has FullAccess on the mailbox, then rerun."
      );
    case "auth_failed_destination":
      return "The destination refused the login: fix this mailbox's destination user or password (users file or password file), then rerun.";
    case "connect_failed_source":
      return "The source IMAP server could not be reached: check its host, port and the network or firewall; the tool retries with growing delays.";
    case "connect_failed_destination":
      return "The destination IMAP server could not be reached: check its host, port and the network or firewall; the tool retries with growing delays.";
    case "tls_failed":
      return "The TLS handshake failed: make the TLS mode match the port (implicit TLS on 993, STARTTLS or none on 143) for that server, then rerun.";
    case "throttled":
      return (
        `Exchange Online is throttling this mailbox: the tool waits the suggested ${duration(c.backoffMs ?? DEFAULT_BACKOFF_MS)} ` +
        "before rerunning it; if throttling keeps coming back, lower the concurrency."
      );
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
  }
}

/**
 * The retry rule for each class. `other` is worth an exponential rerun only when its text shows a
 * lost connection (Classification.lostConnection); the caller checks that flag.
 */
export function retryPolicy(cls: RunClass): RetryPolicy {
  switch (cls) {
    case "token_expired":
      return "refresh_token";
    case "throttled":
      return "backoff";
    case "connect_failed_source":
    case "connect_failed_destination":
    case "partial":
    case "other":
      return "exponential";
    case "ok":
    case "interrupted":
    case "not_delegated":
    case "auth_failed_source":
    case "auth_failed_destination":
    case "tls_failed":
    case "quota_exceeded":
      return "never";
  }
}
