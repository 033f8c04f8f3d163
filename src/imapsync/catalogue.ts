// The messages that decide how an imapsync run ended, as data: the pattern of each line, the class
// it proves, the releases that print it, and where the form comes from. The rule table of
// classify.ts is built from this list and nothing else. Patterns and references only: each source
// names a sub and line of imapsync's own code (git tag imapsync-<release> of
// https://github.com/imapsync/imapsync), of the Perl module it embeds, or a dated public log.
import type { RunClass } from "../outcomes/classes.js";

/** Where the form of a message is taken from. */
export type CatalogueSource =
  /** imapsync's code at that release (tag `imapsync-<release>`, file `imapsync`). */
  | { kind: "imapsync"; release: string; sub: string; line: number }
  /** Text a Perl module imapsync uses puts inside imapsync's own error lines. */
  | { kind: "module"; module: string; version: string; line: number }
  /** A public log or document quoting the line, with the date it was published. */
  | { kind: "public"; url: string; date: string }
  /** An Exchange Online server response (reference/microsoft-365.md cites the sources). */
  | { kind: "exchange"; url: string; date: string }
  /** Printed by the system around imapsync: a shell, the kernel, a container runtime. */
  | { kind: "system"; url: string; date: string };

/** Inclusive release bounds, e.g. `{ from: "1.727", to: "1.921" }`; a missing end is open. */
export interface Releases {
  from?: string;
  to?: string;
}

export interface CatalogueEntry {
  /** Unique, stable name (tests and docs refer to it). */
  id: string;
  re: RegExp;
  /** The class the line proves; none for lines that are only context (a run end, a lost link). */
  class?: RunClass;
  /**
   * The line names no side (older releases, raw IMAP traces): the class is `class` for host1 and
   * `host2` for host2, the side being the last one the log mentioned.
   */
  host2?: RunClass;
  /** A refused login after a successful one on the same side is the token expiring, not a bad credential. */
  afterLogin?: RunClass;
  /** The line matches, but it is one of imapsync's own error lines that another entry decides. */
  unless?: RegExp;
  /** The process was killed from outside (the kernel, a container limit, a person). */
  external?: boolean;
  /** The text shows a connection went away (the scheduler reruns such runs). */
  lost?: boolean;
  /** A --dry run prints this without anything being wrong (imapsync-2.229/c_dry). */
  notInDry?: boolean;
  /** The line is only printed when the run reaches its end. */
  ended?: boolean;
  /** The line says imapsync counted errors, whatever their class. */
  errors?: boolean;
  /** A login succeeded on the side the line names (or the side in context). */
  loginOk?: boolean;
  releases: Releases;
  source: CatalogueSource;
}

const at229 = (sub: string, line: number): CatalogueSource => ({
  kind: "imapsync",
  release: "2.229",
  sub,
  line,
});
const at = (release: string, sub: string, line: number): CatalogueSource => ({
  kind: "imapsync",
  release,
  sub,
  line,
});
const imapClient = (line: number): CatalogueSource => ({
  kind: "module",
  module: "Mail::IMAPClient",
  version: "3.43",
  line,
});
const sslModule = (line: number): CatalogueSource => ({
  kind: "module",
  module: "IO::Socket::SSL",
  version: "2.081",
  line,
});
const issue = (n: number, date: string): CatalogueSource => ({
  kind: "public",
  url: `https://github.com/imapsync/imapsync/issues/${n}`,
  date,
});
const MS_IMAP_OAUTH =
  "https://learn.microsoft.com/en-us/exchange/client-developer/legacy-protocols/how-to-authenticate-an-imap-pop-smtp-application-by-using-oauth";
const FAQ_OFFICE365 = "https://imapsync.lamiral.info/FAQ.d/FAQ.Office365.txt";

/** Releases that still print a 2.229 form: 2.229 and every later one until a public log shows a change. */
const SINCE = (from: string): Releases => ({ from });

export const CATALOGUE: readonly CatalogueEntry[] = [
  // ---- Stopped: signals, the abort file, a byte limit (catch_exit, catch_reconnect, abortifneeded)
  {
    id: "signal-asked-to-terminate",
    re: /^Got a signal \w+ \(my PID is \d+(?: my PPID is \S+)?\)\. Asked to terminate/,
    class: "interrupted",
    releases: SINCE("1.882"),
    source: at229("catch_exit", 7453),
  },
  {
    id: "signal-plain-1727",
    // 1.727-1.836 printed only the signal name; a lone INT there also only reconnected (no match).
    re: /^Got a signal (?:TERM|QUIT)$/,
    class: "interrupted",
    releases: { from: "1.727", to: "1.836" },
    source: at("1.727", "catch_exit", 3009),
  },
  {
    id: "signal-ended-by",
    // Unanchored: a public 2024 log shows it prefixed with the program name.
    re: /Ended by a signal \w+ \(my PID is \d+ my PPID is \S+\)\. I am asked to terminate immediately/,
    class: "interrupted",
    releases: SINCE("1.882"),
    source: at229("catch_exit", 7457),
  },
  {
    id: "signal-ended-by-2024-log",
    re: /^imapsync Ended by a signal \w+ /,
    class: "interrupted",
    releases: SINCE("2.229"),
    source: issue(439, "2024-01-20"),
  },
  {
    id: "signal-killing-myself",
    re: /^Killing myself with signal /,
    class: "interrupted",
    releases: SINCE("1.945"),
    source: at229("catch_exit", 7469),
  },
  {
    id: "signal-still-there",
    re: /^Still there after killing myself with signal /,
    class: "interrupted",
    releases: SINCE("1.945"),
    source: at229("catch_exit", 7476),
  },
  {
    id: "signal-catch-exit-no-signal",
    re: /^Exiting in catch_exit with no signal/,
    class: "interrupted",
    releases: SINCE("1.945"),
    source: at229("catch_exit", 7483),
  },
  {
    id: "signal-two-int",
    re: /^Got two signals \w+ within \d+ seconds\. Exiting/,
    class: "interrupted",
    releases: SINCE("1.727"),
    source: at229("catch_reconnect", 7520),
  },
  {
    id: "abort-file",
    re: /^Asked to terminate by file /,
    class: "interrupted",
    releases: SINCE("2.140"),
    source: at229("abortifneeded", 19558),
  },
  {
    id: "exitwhenover-reached",
    re: /^Maximum bytes transferred reached, \d+ >= \d+, ending sync/,
    class: "interrupted",
    releases: SINCE("1.945"),
    source: at229("total_bytes_max_reached", 5022),
  },

  // ---- Killed from outside: nothing of imapsync's own is printed, the shell or kernel says it
  {
    id: "shell-killed",
    // bash/sh job report: "Killed", "line 13: 36766 Killed: 9" (macOS prints the signal number).
    re: /^(?:\S+: )?(?:line \d+: )?(?:\d+ )?Killed(?:: 9)?(?:\s|$)/,
    class: "interrupted",
    external: true,
    releases: {},
    source: issue(456, "2024-05-16"),
  },
  {
    id: "zsh-killed",
    re: /^zsh: (?:killed|terminated)\s/,
    class: "interrupted",
    external: true,
    releases: {},
    source: issue(337, "2022-05-26"),
  },
  {
    id: "shell-terminated",
    re: /^(?:\S+: )?(?:line \d+: )?(?:\d+ )?Terminated(?:\s|$)/,
    class: "interrupted",
    external: true,
    releases: {},
    source: {
      kind: "system",
      url: "https://www.gnu.org/software/libc/manual/html_node/Termination-Signals.html",
      date: "2025-01-01",
    },
  },
  {
    id: "kernel-oom-kill",
    re: /Out of memory: Kill(?:ed)? process \d+ \(|Killed process \d+ \((?:imapsync|perl)\)/,
    class: "interrupted",
    external: true,
    releases: {},
    source: issue(115, "2017-12-02"),
  },
  {
    id: "container-oomkilled",
    re: /\bOOMKilled\b|\bexited with code 137\b/,
    class: "interrupted",
    external: true,
    releases: {},
    source: {
      kind: "system",
      url: "https://kubernetes.io/docs/tasks/configure-pod-container/assign-memory-resource/",
      date: "2025-01-01",
    },
  },

  // ---- Exchange Online responses inside imapsync's lines or raw IMAP traces
  {
    id: "exo-access-token-expired",
    re: /AccessTokenExpired/,
    class: "token_expired",
    releases: {},
    source: {
      kind: "exchange",
      url: "https://github.com/iroco-co/aioimaplib/issues/83",
      date: "2022-11-23",
    },
  },
  {
    id: "reauth-refused-inside-run",
    // imapsync-2.229/r2: no AccessTokenExpired, but re-authentication refused inside per-message
    // and per-folder errors, which only happen after a successful login.
    re: /(?:could not be fetched|Could not select|could not append).*(?:AUTHENTICATE failed|AUTHENTICATIONFAILED)/,
    class: "token_expired",
    releases: {},
    source: {
      kind: "exchange",
      url: "https://github.com/imapsync/imapsync/issues/250",
      date: "2023-05-05",
    },
  },
  {
    id: "exo-not-connected",
    re: /User is authenticated but not connected/,
    class: "not_delegated",
    releases: {},
    source: { kind: "exchange", url: FAQ_OFFICE365, date: "2024-03-14" },
  },
  {
    id: "exo-throttled",
    re: /Request is throttled/,
    class: "throttled",
    releases: {},
    source: {
      kind: "exchange",
      url: "https://github.com/imapsync/imapsync/issues/198",
      date: "2019-11-12",
    },
  },
  {
    id: "exo-authenticate-failed",
    // A raw reply (debug trace, another client): no side in the line. After a successful login
    // on the same side, it is the token being refused on re-authentication.
    re: /\bNO AUTHENTICATE failed|^AUTHENTICATE failed\.|authenticate to IMAP server: AUTHENTICATE failed/,
    class: "auth_failed_source",
    host2: "auth_failed_destination",
    afterLogin: "token_expired",
    unless: /failure: Error login on|could not|Could not/,
    releases: {},
    source: { kind: "exchange", url: MS_IMAP_OAUTH, date: "2025-01-01" },
  },
  {
    id: "imap-authenticationfailed",
    // RFC 5530 response code, as Dovecot sends it; seen raw in --debugimap traces.
    re: /\bNO \[AUTHENTICATIONFAILED\]/,
    class: "auth_failed_source",
    host2: "auth_failed_destination",
    afterLogin: "token_expired",
    unless: /failure: Error login on|could not|Could not/,
    releases: {},
    source: issue(449, "2024-04-11"),
  },
  {
    id: "exo-login-failed",
    // Basic auth (LOGIN) refused: switched off in Exchange Online since October 2022.
    re: /\bNO LOGIN failed/,
    class: "auth_failed_source",
    host2: "auth_failed_destination",
    unless: /failure: Error login on|could not|Could not/,
    releases: {},
    source: {
      kind: "exchange",
      url: "https://github.com/imapsync/imapsync/issues/310",
      date: "2021-12-05",
    },
  },
  {
    id: "exo-server-unavailable",
    re: /Server Unavailable\./,
    class: "other",
    releases: {},
    source: {
      kind: "exchange",
      url: "https://github.com/thunderbird/thunderbird-android/issues/3574",
      date: "2018-08-01",
    },
  },
  {
    id: "exo-bye-connection-closed",
    re: /BYE Connection closed/,
    lost: true,
    releases: {},
    source: { kind: "exchange", url: FAQ_OFFICE365, date: "2021-03-12" },
  },
  {
    id: "imap-bye-shutdown-or-reset",
    re: /BYE Server shutting down|Connection reset by peer/,
    lost: true,
    releases: {},
    source: issue(444, "2024-03-04"),
  },

  {
    id: "exo-logon-denied",
    // The detail Exchange adds when the app or admin lacks the Exchange-side permission.
    re: /AuthFailed:LogonDenied/,
    class: "auth_failed_source",
    releases: {},
    source: {
      kind: "exchange",
      url: "https://phinit.de/en/2025/12/23/ms365-fix-logondenied-error-on-imap-oauth-powershell-fix",
      date: "2025-12-23",
    },
  },
  {
    id: "exo-command-argument-error",
    // Office 365 as the destination refusing a message (size, long lines).
    re: /BAD Command Argument Error\. 11/,
    class: "partial",
    releases: {},
    source: { kind: "exchange", url: FAQ_OFFICE365, date: "2022-07-26" },
  },

  // ---- Logins (authenticate_imap, failure_login, failure_proxyauth, login_imap, xoauth2, xmasterauth)
  {
    id: "login-failure-host1",
    re: /^Host1 failure: Error login on /,
    class: "auth_failed_source",
    releases: SINCE("1.670"),
    source: at229("failure_login", 8675),
  },
  {
    id: "login-failure-host2",
    re: /^Host2 failure: Error login on /,
    class: "auth_failed_destination",
    releases: SINCE("1.670"),
    source: at229("failure_login", 8675),
  },
  {
    id: "login-failure-proxyauth",
    re: /^Host([12]) failure: Error login on .* using proxy-login as \[/,
    class: "auth_failed_source",
    host2: "auth_failed_destination",
    releases: SINCE("1.945"),
    source: at229("failure_proxyauth", 8687),
  },
  {
    id: "login-failure-authmech",
    // authenticate_imap counts the same text twice (once per attempt).
    re: /^Host([12]) failure: Error login on \[[^\]]*\] with user \[[^\]]*\] auth \[/,
    class: "auth_failed_source",
    host2: "auth_failed_destination",
    releases: SINCE("1.670"),
    source: at229("authenticate_imap", 8622),
  },
  {
    id: "login-failure-preauth",
    re: /^Host([12]) failure: error login on host[12] \[[^\]]*\] with user \[[^\]]*\] auth \[PREAUTH\]/,
    class: "auth_failed_source",
    host2: "auth_failed_destination",
    releases: SINCE("1.670"),
    source: at229("login_imap", 8491),
  },
  {
    id: "login-failure-1498",
    // 1.498-1.644: no side in the line; host1 logs in first, so the side is the one in context.
    re: /^Failure: error login on \[[^\]]*\] with user \[/,
    class: "auth_failed_source",
    host2: "auth_failed_destination",
    releases: { from: "1.498", to: "1.644" },
    source: at("1.607", "authenticate_imap", 2196),
  },
  {
    id: "login-failure-1446",
    re: /^Failure: error login \[[^\]]*\] with user \[/,
    class: "auth_failed_source",
    host2: "auth_failed_destination",
    releases: { from: "1.446", to: "1.488" },
    source: at("1.452", "login_imap", 1767),
  },
  {
    id: "login-failure-1077",
    re: /^Error login : \[[^\]]*\] with user \[/,
    class: "auth_failed_source",
    host2: "auth_failed_destination",
    releases: { from: "1.77", to: "1.267" },
    source: at("1.200", "login_imap", 645),
  },
  {
    id: "login-failure-xmasterauth",
    re: /^Failure authenticate with X-MASTERAUTH/,
    class: "auth_failed_source",
    host2: "auth_failed_destination",
    releases: SINCE("1.945"),
    source: at229("xmasterauth", 9010),
  },
  {
    id: "login-failure-xoauth2-json",
    // --gmail1 service account: the JSON key file cannot be read.
    re: /^error \[[^\]]+\]: /,
    class: "auth_failed_source",
    host2: "auth_failed_destination",
    releases: SINCE("1.945"),
    source: at229("xoauth2", 8924),
  },
  {
    id: "login-ok",
    re: /^Host[12]: success login on \[/,
    loginOk: true,
    releases: SINCE("1.945"),
    source: at229("login_imap", 8500),
  },
  {
    id: "raw-authenticate-ok",
    re: /\bOK AUTHENTICATE completed/,
    loginOk: true,
    releases: {},
    source: { kind: "exchange", url: MS_IMAP_OAUTH, date: "2025-01-01" },
  },

  // ---- Connections and TLS (connect_imap, login_imap, lost_connection)
  {
    id: "connect-failure-host1",
    re: /^Host1 failure: can not open imap connection on host1 /,
    class: "connect_failed_source",
    lost: true,
    releases: SINCE("1.670"),
    source: at229("login_imap", 8450),
  },
  {
    id: "connect-failure-host2",
    re: /^Host2 failure: can not open imap connection on host2 /,
    class: "connect_failed_destination",
    lost: true,
    releases: SINCE("1.670"),
    source: at229("login_imap", 8450),
  },
  {
    id: "connect-imap-host1",
    re: /^Host1: Can not open imap connection on \[/,
    class: "connect_failed_source",
    lost: true,
    releases: SINCE("1.727"),
    source: at229("connect_imap", 8011),
  },
  {
    id: "connect-imap-host2",
    re: /^Host2: Can not open imap connection on \[/,
    class: "connect_failed_destination",
    lost: true,
    releases: SINCE("1.727"),
    source: at229("connect_imap", 8011),
  },
  {
    id: "connect-failure-1607",
    // 1.446-1.644: "on host1 [h]" from 1.607, none before; the side in context decides then.
    re: /^Failure: can not open imap connection on (?:host([12]) )?\[/,
    class: "connect_failed_source",
    host2: "connect_failed_destination",
    lost: true,
    releases: { from: "1.446", to: "1.644" },
    source: at("1.607", "login_imap", 2142),
  },
  {
    id: "connect-imap-1607",
    re: /^Can not open imap connection on \[/,
    class: "connect_failed_source",
    host2: "connect_failed_destination",
    lost: true,
    releases: { from: "1.446", to: "1.644" },
    source: at("1.607", "connect_imap", 2060),
  },
  {
    id: "connect-failure-1200",
    re: /^Error connecting to \S+:\d+: /,
    class: "connect_failed_source",
    host2: "connect_failed_destination",
    lost: true,
    releases: { to: "1.267" },
    source: at("1.200", "login_imap", 597),
  },
  {
    id: "tls-starttls-failure",
    // login_imap ("HostN failure: Can not go to tls ...") and connect_imap ("HostN: Can not go ...").
    re: /Can not go to tls encryption/,
    class: "tls_failed",
    releases: SINCE("1.584"),
    source: at229("login_imap", 8474),
  },
  {
    id: "tls-unable-to-start",
    re: /Unable to start TLS: /,
    class: "tls_failed",
    releases: {},
    source: imapClient(462),
  },
  {
    id: "tls-ssl-connect-failed",
    // imapsync-2.229/u2: exit 101 like a refused connection, but the text names the TLS mismatch.
    re: /SSL connect attempt failed/,
    class: "tls_failed",
    lost: true,
    releases: {},
    source: sslModule(850),
  },
  {
    id: "tls-ssl-read-error",
    re: /SSL read error/,
    class: "tls_failed",
    lost: true,
    releases: {},
    source: sslModule(1186),
  },
  {
    id: "lost-connection",
    re: /^Failure: lost connection /,
    class: "partial",
    lost: true,
    releases: SINCE("1.536"),
    source: at229("lost_connection", 6856),
  },
  {
    id: "not-connected-trace",
    re: /Trying command when NOT connected/,
    lost: true,
    releases: {},
    source: imapClient(121),
  },
  {
    id: "socket-closed",
    re: /socket closed while reading data from server/,
    lost: true,
    releases: {},
    source: imapClient(1709),
  },
  {
    id: "read-timeout",
    re: /timeout waiting \d+s for data from server/,
    lost: true,
    releases: {},
    source: imapClient(1901),
  },

  {
    id: "sigint-reconnect",
    // A single INT on a plain host: imapsync reconnects both sides and goes on (k2); if a
    // reconnection fails it exits 10 (EXIT_CONNECTION_FAILURE) with nothing more.
    re: /^Info: reconnecting to host[12] imap server/,
    lost: true,
    releases: SINCE("1.945"),
    source: at229("catch_reconnect", 7532),
  },
  {
    id: "foldersizes-failure",
    re: /^Failure getting foldersizes, (?:final differences will not be calculated|ETA and final diff will not be displayed)/,
    errors: true,
    releases: SINCE("1.727"),
    source: at229("foldersizesatend", 4888),
  },

  // ---- Quota (quota, foldersizes_at_the_beggining, and the server texts error_type matches)
  {
    id: "quota-server-overquota",
    re: /OVERQUOTA/,
    class: "quota_exceeded",
    releases: SINCE("1.945"),
    source: at229("error_type", 6456),
  },
  {
    id: "quota-limit-will-be-exceeded",
    re: /Quota limit will be exceeded/,
    class: "quota_exceeded",
    releases: SINCE("1.945"),
    source: at229("foldersizes_at_the_beggining", 4930),
  },
  {
    id: "quota-find-a-bigger-place",
    re: /% full: it is time to find a bigger place/,
    class: "quota_exceeded",
    releases: SINCE("1.945"),
    source: at229("quota", 5952),
  },

  // ---- Messages and folders (append_message_on_host2, message_for_host2, select_folder, ...)
  {
    id: "append-failure",
    re: /could not append/,
    class: "partial",
    releases: SINCE("1.836"),
    source: at229("append_message_on_host2", 12741),
  },
  {
    id: "append-failure-1350",
    re: /couldn't append \s*\(Subject:\[/,
    class: "partial",
    releases: { from: "1.350", to: "1.727" },
    source: at("1.727", "append_message_on_host2", 5435),
  },
  {
    id: "append-failure-1200",
    re: /^Couldn't append msg #/,
    class: "partial",
    releases: { to: "1.267" },
    source: at("1.200", "acls_sync", 1115),
  },
  {
    id: "fetch-failure",
    re: /could not be fetched/,
    class: "partial",
    releases: SINCE("1.404"),
    source: at229("message_for_host2", 11902),
  },
  {
    id: "fetch-hash-failure",
    re: /: Could not fetch_hash |failure with fetch_hash: /,
    class: "partial",
    lost: true,
    releases: SINCE("1.607"),
    source: at229("single_sync", 2618),
  },
  {
    id: "flags-failure",
    re: /could not add flags \[/,
    class: "partial",
    releases: SINCE("1.945"),
    source: at229("sync_flags", 6817),
  },
  {
    id: "delete-failure",
    re: / folder, could not delete \d+ messages: /,
    class: "partial",
    releases: SINCE("1.945"),
    source: at229("delete_messages_on_any", 13004),
  },
  {
    id: "not-finished",
    re: /^The sync is not finished/,
    class: "partial",
    notInDry: true,
    ended: true,
    releases: SINCE("1.920"),
    source: at229("comment_on_final_diff_in_1_not_in_2", 18228),
  },
  {
    id: "stats-missing-on-host2",
    re: /^Messages found in host1 not in host2\s+: [1-9]/,
    class: "partial",
    notInDry: true,
    releases: SINCE("1.945"),
    source: at229("do_and_print_stats", 15309),
  },
  {
    id: "select-failure",
    // A folder that cannot be selected is not fixed by a rerun (office365/25).
    re: /[Ff]older .*: Could not select:/,
    class: "other",
    releases: SINCE("1.404"),
    source: at229("select_folder", 9697),
  },
  {
    id: "select-failure-1200",
    re: /^(?:From|To|\S+) Folder .* : Could not select /,
    class: "other",
    releases: { to: "1.267" },
    source: at("1.200", "foldersizes", 806),
  },
  {
    id: "examine-failure",
    re: /: Could not examine: /,
    class: "other",
    releases: SINCE("2.140"),
    source: at229("examine_folder", 9712),
  },
  {
    id: "create-failure",
    re: /Could not create folder \[/,
    class: "other",
    releases: SINCE("1.607"),
    source: at229("create_folder", 9818),
  },

  // ---- Setup failures that no rerun fixes (exit 8, 21, 64, 66, 69, 70)
  {
    id: "unknown-option",
    re: /^Unknown option: /,
    class: "other",
    releases: {},
    source: at229("myGetOptions", 20798),
  },
  {
    id: "passfile-missing",
    re: /^Failure: file from parameter --passfile[12] .* does not exist or is not readable/,
    class: "other",
    releases: SINCE("1.836"),
    source: at229("get_password1", 7254),
  },
  {
    id: "pidfile-locked",
    re: / already exists, another imapsync may be curently running\. Aborting imapsync\./,
    class: "other",
    releases: SINCE("1.945"),
    source: at229("write_pidfile", 9447),
  },
  {
    id: "subfolder1-missing",
    re: /^subfolder1 .* does not exist$/,
    class: "other",
    releases: SINCE("1.945"),
    source: at229("subfolder1", 10312),
  },
  {
    id: "option-mandatory",
    re: / option is mandatory, for help run /,
    class: "other",
    releases: SINCE("1.945"),
    source: at229("missing_option", 7429),
  },
  {
    id: "option-check-failed",
    re: /^Error: (?:one of --(?:pipemess|regexmess|skipmess|regexflag) (?:command|option) is bad|--maxlinelengthcmd command is bad|can not have both --usecache and --skipcrossduplicates)/,
    class: "other",
    releases: SINCE("1.945"),
    source: at229("single_sync", 1989),
  },
  {
    id: "regextrans2-eval",
    re: /^error: eval regextrans2 /,
    class: "other",
    releases: SINCE("1.945"),
    source: at229("regextrans2", 10900),
  },
  {
    id: "delete1-delete2",
    re: /^Warning: using --delete1 and --delete2 together is almost always a bad idea/,
    class: "other",
    releases: SINCE("1.945"),
    source: at229("single_sync", 1843),
  },
  {
    id: "uidexpunge-unsupported",
    re: /^Failure: uidexpunge not supported/,
    class: "other",
    releases: {},
    source: at229("single_sync", 1826),
  },
  {
    id: "cgi-heavy-load",
    re: /^Server is on heavy load\. Be back later\./,
    class: "other",
    releases: SINCE("1.945"),
    source: at229("cgi_exit_on_heavy_load", 3780),
  },
  {
    id: "automap-needs-newer-module",
    re: /To have automagic rfc6154 folder mapping, upgrade Mail::IMAPClient/,
    class: "other",
    releases: SINCE("1.727"),
    source: at229("special_from_folders_hash", 6246),
  },

  // ---- Endings (exit_clean, errors_incr, do_and_print_stats, the --just* modes)
  {
    id: "looks-good",
    re: /^The sync looks good/,
    class: "ok",
    ended: true,
    releases: SINCE("1.945"),
    source: at229("comment_on_final_diff_in_1_not_in_2", 18222),
  },
  {
    id: "just-mode-ending",
    // --justlogin (check and a verify pass rely on it), --justfolderlists, --justautomap,
    // --justfoldersizes, --justbanner: exit 0 without statistics.
    re: /^Exiting because of --just(?:login|folderlists|automap|foldersizes|banner)$/,
    class: "ok",
    ended: true,
    releases: SINCE("1.945"),
    source: at229("single_sync", 2092),
  },
  {
    id: "justconnect-ending",
    re: /^Exiting after a justconnect on host\(s\): /,
    class: "ok",
    ended: true,
    releases: SINCE("1.945"),
    source: at229("single_sync", 1802),
  },
  {
    id: "tail-ending",
    re: /^Tail -f finished\. Now finishing myself processus \d+/,
    class: "ok",
    ended: true,
    releases: SINCE("2.140"),
    source: at229("single_sync", 1647),
  },
  {
    id: "statistics",
    re: /^\+\+\+\+ Statistics$/,
    ended: true,
    releases: {},
    source: at229("do_and_print_stats", 15293),
  },
  {
    id: "detected-errors",
    re: /^Detected \d+ errors$/,
    ended: true,
    releases: {},
    source: at229("do_and_print_stats", 15356),
  },
  {
    id: "errorsmax-reached",
    re: /^Maximum number of errors \d+ reached /,
    ended: true,
    errors: true,
    releases: SINCE("1.637"),
    source: at229("errorsmax_msg", 6714),
  },
  {
    id: "exit-line-2140",
    re: /^Exiting with return value \d+ \([A-Z_0-9]+(?::[^)]*)?\) \d+\/\d+ nb_errors\/max_errors PID \d+$/,
    ended: true,
    releases: SINCE("2.140"),
    source: at229("exit_clean", 7418),
  },
  {
    id: "exit-line-1977",
    re: /^Exiting with return value \d+ \([A-Z_0-9]+(?::[^)]*)?\) \d+\/\d+ nb_errors\/max_errors$/,
    ended: true,
    releases: { from: "1.977", to: "1.977" },
    source: at("1.977", "exit_clean", 5700),
  },
  {
    id: "exit-line-1945",
    re: /^Exiting with return value \d+ \([A-Z_0-9]+(?::[^)]*)?\)$/,
    ended: true,
    releases: { from: "1.945", to: "1.945" },
    source: at("1.945", "exit_clean", 4811),
  },
  {
    id: "exit-line-1727",
    re: /^Exiting with return value \d+$/,
    ended: true,
    releases: { from: "1.727", to: "1.921" },
    source: at("1.727", "exit_clean", 3595),
  },
];

/** How a log names the imapsync release that wrote it. */
export interface VersionBanner {
  id: string;
  /** The first group is the release, e.g. `2.229`. */
  re: RegExp;
  releases: Releases;
  source: CatalogueSource;
}

export const VERSION_BANNERS: readonly VersionBanner[] = [
  {
    id: "banner-here-is",
    re: /^Here is imapsync (\d+\.\d+) on host /,
    releases: SINCE("1.882"),
    source: at229("localhost_info", 16724),
  },
  {
    id: "banner-here-is-with-path",
    // 2.3xx prints the program path after the release.
    re: /^Here is imapsync (\d+\.\d+) \S+ on host /,
    releases: SINCE("2.303"),
    source: issue(136, "2025-05-08"),
  },
  {
    id: "banner-rcs-revision",
    // The RCS line every release prints, the only one before 1.882.
    re: /^\$RCSfile: imapsync,v \$ \$Revision: (\d+\.\d+) \$/,
    releases: {},
    source: at229("banner_imapsync", 9087),
  },
];

/** Releases compare number by number: 1.98 < 1.727 < 1.977 < 2.229 < 2.303. */
export function compareReleases(a: string, b: string): number {
  const [aMajor = 0, aMinor = 0] = a.split(".").map(Number);
  const [bMajor = 0, bMinor = 0] = b.split(".").map(Number);
  return aMajor - bMajor || aMinor - bMinor;
}

/** Whether a message of these releases can appear in a log of `release` (unknown: always). */
export function appliesTo(releases: Releases, release: string | undefined): boolean {
  if (release === undefined) return true;
  if (releases.from !== undefined && compareReleases(release, releases.from) < 0) return false;
  if (releases.to !== undefined && compareReleases(release, releases.to) > 0) return false;
  return true;
}
