import { createHash } from "node:crypto";
import path from "node:path";
import { InputError } from "../errors.js";
import type { CertificateCheck, Config, TlsMode } from "../config/types.js";
import type { FolderPair } from "../report/schema.js";
import type { Mailbox } from "../users/types.js";

/** Where one imapsync run of one mailbox keeps its files. Every attempt gets its own set. */
export interface RunPaths {
  /** Directory of the pidfiles (WORK_DIR/run). */
  dir: string;
  pidFile: string;
  logFile: string;
  /** WORK_DIR/secrets, created 0700 by the run. */
  secretsDir: string;
  /** The destination password for this run only, written 0600 and removed when the run ends. */
  passFile: string;
}

/**
 * A file name for a mailbox address: letters, digits and `@ . - _` are kept, anything else becomes
 * `_`. When a character had to be replaced, a short hash of the address is added, so that two
 * addresses that differ only in replaced characters never share a file.
 */
export function safeFileName(address: string): string {
  const cleaned = address.replace(/[^A-Za-z0-9@._-]/g, "_");
  // A name of dots only (or starting with one) could climb out of its directory or hide itself.
  if (cleaned === address && cleaned !== "" && !cleaned.startsWith(".")) return cleaned;
  const hash = createHash("sha256").update(address).digest("hex").slice(0, 8);
  return `${cleaned.replace(/^\.+/, "_")}-${hash}`;
}

/**
 * `attempt` numbers a migration's runs from 1; "check" and "verify" name the preflight's and the
 * verification's (each rewritten every time).
 */
export function runPaths(
  workDir: string,
  mailbox: string,
  attempt: number | "check" | "verify",
  /** A slice's runs (its id in every path: slices of a mailbox run at once). */
  slice?: string,
): RunPaths {
  const name = safeFileName(mailbox);
  const run = typeof attempt === "number" ? `attempt-${attempt}` : attempt;
  const label = slice === undefined ? run : `slice-${slice}.${run}`;
  const dir = path.join(workDir, "run");
  const secretsDir = path.join(workDir, "secrets");
  return {
    dir,
    pidFile: path.join(dir, `${name}.${label}.pid`),
    logFile: path.join(workDir, "logs", name, `${label}.log`),
    secretsDir,
    passFile: path.join(secretsDir, `${name}.${label}.pass2`),
  };
}

/** imapsync's abort file: created next to the pidfile, it makes the run stop cleanly (exit 7). */
export function abortFilePath(pidFile: string, pid: number): string {
  return `${pidFile}abort${pid}`;
}

/**
 * IMAP modified UTF-7 (RFC 3501 §5.1.3), the form in which imapsync sees folder names:
 * printable ASCII stands for itself (`&` as `&-`), any other run of characters is UTF-16BE in
 * base64 with `,` for `/`, no padding, between `&` and `-`.
 */
export function encodeModifiedUtf7(name: string): string {
  return name.replace(/&|[^\x20-\x7e]+/g, (run) => {
    if (run === "&") return "&-";
    const utf16be = Buffer.from(run, "utf16le").swap16();
    return `&${utf16be.toString("base64").replace(/=+$/, "").replace(/\//g, ",")}-`;
  });
}

/** The inverse of encodeModifiedUtf7: a folder's IMAP name as people read it. */
export function decodeModifiedUtf7(name: string): string {
  return name.replace(/&([^-]*)-/g, (_, run: string) => {
    if (run === "") return "&";
    return Buffer.from(run.replace(/,/g, "/"), "base64").swap16().toString("utf16le");
  });
}

/**
 * Top-level Office 365 folders that hold no mail (English names and their French localisation),
 * with their subfolders. Copied as mail folders they only produce empty folders or errors.
 */
export const NON_MAIL_FOLDERS: readonly string[] = [
  "Calendar",
  "Calendrier",
  "Contacts",
  "Tasks",
  "Tâches",
  "Notes",
  "Journal",
  // Its subfolders Conflicts, Local Failures and Server Failures go with it.
  "Sync Issues",
  "Problèmes de synchronisation",
  "Conversation History",
  "Historique des conversations",
  "RSS Feeds",
  "RSS Subscriptions",
  "Flux RSS",
  "Abonnements RSS",
  "Suggested Contacts",
  "Contacts suggérés",
  "Yammer Root",
  "Social Activity Notifications",
  "ExternalContacts",
  "PersonMetadata",
  "Files",
];

function escapeRegex(text: string): string {
  return text.replace(/[\\^$.*+?()[\]{}|]/g, "\\$&");
}

/**
 * An `--exclude` pattern for a top-level folder and its subfolders. imapsync matches it against
 * the IMAP name, so accented names are written in modified UTF-7.
 */
export function excludePattern(folder: string): string {
  return `^${escapeRegex(encodeModifiedUtf7(folder))}(?:/|$)`;
}

export function nonMailExcludes(): string[] {
  return NON_MAIL_FOLDERS.map(excludePattern);
}

/** Built once: every plan shares these strings (at 10,000 mailboxes, copies were 10 MB). */
const NON_MAIL_EXCLUDE_ARGS: readonly string[] = nonMailExcludes().flatMap((re) => [
  "--exclude",
  re,
]);

function tlsArgs(side: 1 | 2, tls: TlsMode): string[] {
  switch (tls) {
    case "ssl":
      return [`--ssl${side}`];
    case "starttls":
      return [`--tls${side}`];
    case "none":
      return [`--nossl${side}`, `--notls${side}`];
  }
}

const VERIFY_BY_DEFAULT: CertificateCheck = { verify: true };

/**
 * imapsync accepts any certificate unless told otherwise (`SSL_verify_mode=0` is its default), so
 * a side that uses TLS gets IO::Socket::SSL's peer verification, with the system's CAs or the CA
 * file given; `verify: false` is the explicit, per-side way out.
 */
export function certificateArgs(side: 1 | 2, tls: TlsMode, check = VERIFY_BY_DEFAULT): string[] {
  if (tls === "none") return [];
  const option = `--sslargs${side}`;
  if (!check.verify) return [option, "SSL_verify_mode=0"];
  return [
    option,
    "SSL_verify_mode=1",
    ...(check.caFile !== undefined ? [option, `SSL_ca_file=${check.caFile}`] : []),
  ];
}

function sourceArgs(source: Config["source"]): string[] {
  return [
    ...(source.host ? ["--host1", source.host] : []),
    ...(source.port !== undefined ? ["--port1", String(source.port)] : []),
    ...(source.tls ? tlsArgs(1, source.tls) : []),
  ];
}

/**
 * `--f1f2` pins the mapping the first run chose, because automap decides from what already
 * exists on host2 and can change its mind on a rerun. imapsync splits the value at the first `=`,
 * so a source name containing `=` cannot be pinned and is left to automap.
 */
function folderArgs(folders: FolderPair[]): string[] {
  return folders
    .filter((pair) => !pair.source.includes("="))
    .flatMap((pair) => ["--f1f2", `${pair.source}=${pair.destination}`]);
}

/**
 * The argv (without the program) of one imapsync run. No secret is ever in it: the token and the
 * destination password travel in files, so `ps` shows nothing worth stealing.
 */
export function buildImapsyncArgs(p: {
  mailbox: Mailbox;
  config: Config;
  tokenFile: string;
  files: RunPaths;
  folders?: FolderPair[];
  /**
   * Log in, open and count every folder, copy nothing (check's preflight, verify): `--justlogin`
   * is not enough, since Office 365 lets an undelegated mailbox log in and fails only the
   * commands after the login (fixtures/imapsync-2.229-standin).
   */
  preflight?: boolean;
  /** A big mailbox's first run: it creates every destination folder, and copies nothing. */
  justFolders?: boolean;
  /** A slice of a big mailbox: only these source folders, only mail of this `--search1`. */
  slice?: { folders: readonly string[]; search?: string };
}): string[] {
  const { mailbox, config, files } = p;
  const destination = config.destination;
  return [
    "--addheader",
    "--automap",
    "--office1",
    ...sourceArgs(config.source),
    "--oauthaccesstoken1",
    p.tokenFile,
    "--user1",
    mailbox.source,
    "--host2",
    mailbox.host2 ?? destination.host,
    ...(destination.port !== undefined ? ["--port2", String(destination.port)] : []),
    ...tlsArgs(2, destination.tls),
    // After the recipe's words; without TLS1, --office1 means implicit TLS.
    ...certificateArgs(1, config.source.tls ?? "ssl", config.certificates.source),
    ...certificateArgs(2, destination.tls, config.certificates.destination),
    "--user2",
    mailbox.destination,
    ...(config.destAdminUser ? ["--authuser2", config.destAdminUser] : []),
    "--passfile2",
    files.passFile,
    // We keep our own copy of the output, so imapsync's log file (and its quirks) is not wanted.
    "--nolog",
    "--pidfile",
    files.pidFile,
    // Inside any container imapsync would drop the pidfile (and with it the abort file).
    "--nodockercontext",
    ...(config.dryRun ? ["--dry"] : []),
    ...(p.preflight ? ["--justfoldersizes"] : []),
    ...(p.justFolders ? ["--justfolders"] : []),
    ...(p.slice?.folders.flatMap((folder) => ["--folder", folder]) ?? []),
    ...(p.slice?.search !== undefined ? ["--search1", p.slice.search] : []),
    ...(config.includeNonMailFolders ? [] : NON_MAIL_EXCLUDE_ARGS),
    ...folderArgs(p.folders ?? []),
    ...mailbox.extraArgs,
    ...config.passthrough,
  ];
}

/** Options the tool sets itself, with why a user may not pass them and what to do instead. */
const MANAGED_OPTIONS: { names: string[]; fix: string }[] = [
  {
    names: ["password1", "passfile1", "oauthaccesstoken1", "oauthdirect1", "authuser1"],
    fix: "the source is opened with the access token from `m365-imapsync token`; do not pass source credentials",
  },
  {
    names: ["password2", "passfile2", "oauthaccesstoken2", "oauthdirect2"],
    fix: "give the destination password in the users file (password or password file column) or DEST_ADMIN_PASSWORD_FILE, never on a command line",
  },
  {
    names: ["authuser2"],
    fix: "set DEST_ADMIN_USER (and DEST_ADMIN_PASSWORD_FILE) instead",
  },
  {
    names: ["user1", "user2"],
    fix: "the mailboxes come from the users file; change the source or destination column there",
  },
  {
    names: ["host1", "port1", "ssl1", "nossl1", "tls1", "notls1", "office1"],
    fix: "the source is Office 365 by default; set HOST1, PORT1 and TLS1 to use another server",
  },
  {
    names: ["host2", "port2", "ssl2", "nossl2", "tls2", "notls2", "office2"],
    fix: "set HOST2, PORT2 and TLS2 instead (or the host2 column of the users file for one mailbox)",
  },

  {
    names: ["log", "nolog", "logdir", "logfile"],
    fix: "the tool writes each run's log itself under WORK_DIR/logs",
  },
  {
    names: ["pidfile", "pidfilelocking", "dockercontext", "nodockercontext"],
    fix: "the tool needs its own pidfile per run to stop imapsync cleanly",
  },
  {
    names: ["justlogin"],
    fix: "`m365-imapsync check` runs the preflight itself",
  },
  {
    names: ["showpasswords"],
    fix: "it would print passwords into the logs",
  },
];

/** Getopt::Long's reading of an argv word: the option name, or undefined for a value. */
function optionName(word: string): string | undefined {
  const match = /^--?([A-Za-z][\w-]*)(?:=|$)/.exec(word);
  return match?.[1]?.toLowerCase();
}

/**
 * Refuses options the tool manages itself. imapsync (Getopt::Long) ignores case and accepts a
 * single dash, `--opt=value` and any unambiguous abbreviation, so those forms are refused too.
 */
export function checkUserOptions(args: string[], where: string): void {
  for (const word of args) {
    const name = optionName(word);
    if (name === undefined) continue;
    // `--noX` and `--no-X` negate a boolean option X.
    const names = [name, name.replace(/^no-?/, "")];
    const managed = MANAGED_OPTIONS.find((group) =>
      group.names.some((full) =>
        names.some((given) => full === given || (given.length >= 3 && full.startsWith(given))),
      ),
    );
    if (managed) {
      throw new InputError(
        where,
        `the imapsync option ${word.split("=")[0]} is set by m365-imapsync and cannot be given here`,
        `Remove it: ${managed.fix}.`,
      );
    }
  }
}

const PASSWORD_OPTION = /^--?password[12]$/i;
const TOKEN_OPTION = /^--?(?:oauthaccesstoken|oauthdirect)[12]$/i;

/** A token option's value is harmless when it names a file (imapsync reads the first line). */
function secretValue(option: string, value: string): boolean {
  return PASSWORD_OPTION.test(option) || (TOKEN_OPTION.test(option) && !value.startsWith("/"));
}

/**
 * argv for display. By construction nothing secret is in it (file paths only), but the values of
 * password- and token-like options are masked anyway in case a passthrough option slipped one in.
 */
export function maskArgs(args: string[]): string[] {
  return args.map((word, i) => {
    const eq = word.indexOf("=");
    if (eq > 0 && secretValue(word.slice(0, eq), word.slice(eq + 1))) {
      return `${word.slice(0, eq)}=MASKED`;
    }
    const previous = args[i - 1];
    return previous !== undefined && secretValue(previous, word) ? "MASKED" : word;
  });
}

/**
 * imapsync 2.229 still asks for a source password next to an OAuth token (and would prompt for
 * one); with a token it is never sent, so a fixed, non-secret value is enough.
 */
export const DUMMY_PASSWORD1 = "unused-with-oauth-token";

/** Environment additions for the child. Nothing secret. */
export function buildEnv(): Record<string, string> {
  return { IMAPSYNC_PASSWORD1: DUMMY_PASSWORD1 };
}
