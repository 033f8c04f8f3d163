/** How one imapsync run ended, as decided from its output lines and exit status. */
export const RUN_CLASSES = [
  "ok",
  "not_delegated",
  "token_expired",
  "auth_failed_source",
  "auth_failed_destination",
  "connect_failed_source",
  "connect_failed_destination",
  "tls_failed",
  "throttled",
  "quota_exceeded",
  "partial",
  "interrupted",
  "other",
] as const;
export type RunClass = (typeof RUN_CLASSES)[number];

export type TlsMode = "ssl" | "starttls" | "none";

/** How the access token is obtained (`--grant`). */
export type Grant = "implicit" | "auth-code" | "device-code" | "client-credentials";

/** A mailbox to migrate, as read from the users file. */
export interface Mailbox {
  source: string;
  destination: string;
  /** Destination password written inline in the users file (a secret). */
  password?: string;
  /** File whose first line is the destination password. */
  passwordFile?: string;
  /** Destination host for this mailbox only (imapsync bulk format, column 4). */
  host2?: string;
  /** Extra imapsync options for this mailbox only (bulk format, column 7), already split. */
  extraArgs: string[];
  /** 1-based line of the users file, for messages. */
  line: number;
}

/** Where a run's destination password comes from; a file is read only when the run is near. */
export type PasswordSource =
  | { kind: "none" }
  | { kind: "inline"; password: string }
  | { kind: "file"; file: string; where: string; fix: string };

export interface UsersFile {
  path: string;
  format: "csv" | "imapsync";
  mailboxes: Mailbox[];
  /** Things worth telling the admin that do not stop the run (ignored columns...). */
  notices: string[];
  /** `sha256:` and the hex digest of the file's bytes (set when read from a file). */
  digest?: string;
}

/** A program to spawn: the executable and any leading arguments (an interpreter and a script). */
export interface Command {
  file: string;
  args: string[];
}

export interface Endpoint {
  host: string;
  port?: number;
  tls: TlsMode;
}

export interface Config {
  /** `--shard`, or JOB_COMPLETION_INDEX with SHARD_COUNT; a count alone only serves --plan. */
  shard?: { index: number; count: number } | { count: number };
  tenantId?: string;
  appId?: string;
  /** Recipe's APP_SECRET. The implicit grant never receives it. */
  appSecret?: string;
  loginHint?: string;
  authorityUrl?: string;
  /** Source; undefined host means imapsync's --office1 preset (outlook.office365.com, SSL). */
  source: { host?: string; port?: number; tls?: TlsMode };
  destination: Endpoint;
  destAdminUser?: string;
  destAdminPasswordFile?: string;
  oauth2c: Command;
  imapsync: Command;
  workDir: string;
  /** Local port of oauth2c's callback server: the redirect URI registered for the app. */
  callbackPort: number;
  /** Where oauth2c's callback listens when not on the redirect URI's host (`--callback-addr`). */
  callbackAddr?: string;
  /** How the access token is obtained (implicit: the recipe). */
  grant: Grant;
  /** Never start an interactive sign-in; a token that needs a person stops new mailboxes. */
  nonInteractive: boolean;
  /** Refresh the token when it expires within this many milliseconds. */
  tokenMarginMs: number;
  concurrency: number | "auto";
  /** The ceiling of `auto`. */
  maxConcurrency: number;
  maxAttempts: number;
  maxBackoffMs: number;
  /** A throttled mailbox is given up once this long passes without a copied message; 0: never. */
  throttleGiveUpMs: number;
  dryRun: boolean;
  /** Extra imapsync options given after `--`. */
  passthrough: string[];
  /** Keep Office 365 folders that hold no mail (calendar, contacts...). */
  includeNonMailFolders: boolean;
  /** Certificate checks per side (verify: with the system's CAs unless a CA file is given). */
  certificates: { source: CertificateCheck; destination: CertificateCheck };
  /** Between the abort file and SIGTERM when a run is stopped (Ctrl-C, docker stop). */
  stopGraceMs: number;
  /** A run silent for this long is stopped and retried; 0: never. */
  stallTimeoutMs: number;
}

export interface CertificateCheck {
  verify: boolean;
  /** PEM file of the CA that signed the server's certificate. */
  caFile?: string;
}

/** Progress of a running copy, from imapsync's progress lines. */
export interface Progress {
  /** Messages handled so far, over all folders. */
  done: number;
  total: number;
  /** Human-readable amount copied, as imapsync prints it ("116.783 KiB"). */
  copied?: string;
  etaSeconds?: number;
}

export interface RunStats {
  messagesTransferred?: number;
  bytesTransferred?: number;
  messagesSkipped?: number;
  /** "Messages found in host1 not in host2". */
  missingOnDestination?: number;
  /**
   * Copy lines seen: what the run copied even when it died before its statistics block (token
   * expiry, errorsmax). Progress counts skipped messages too, so it cannot tell.
   */
  messagesCopied?: number;
  /**
   * Sizes from the folder-size listing (`Host1/Host2 Total size`), in bytes: the last listing,
   * i.e. before any copy in a preflight, after the copy in a sync.
   */
  sourceBytes?: number;
  destinationBytes?: number;
  /** The destination's quota as imapsync read it (limit 0: none). */
  destinationQuota?: { usedBytes: number; limitBytes: number };
}

/** A source folder and where imapsync put it, from `Folder i/n [f1] -> [f2]` lines (IMAP names). */
export interface FolderPair {
  source: string;
  destination: string;
}

export interface Classification {
  class: RunClass;
  remedy: string;
  /** The lines that decided the class, in log order, at most a handful. */
  evidence: string[];
  stats: RunStats;
  progress?: Progress;
  folders: FolderPair[];
  /** Throttling: imapsync's suggested wait, when it printed one. */
  backoffMs?: number;
  /** The source or destination connection was lost (worth an automatic rerun). */
  lostConnection: boolean;
  /** Killed by something other than a stop request (a shell, the kernel, a container limit). */
  killedFromOutside?: boolean;
  /** The log stops before any line imapsync prints at the end of a run. */
  logEndsEarly?: boolean;
}

export type MailboxStatus = "pending" | "running" | "ok" | "failed" | "interrupted";

export interface Attempt {
  start: string;
  end?: string;
  exitCode: number | null;
  signal?: string | null;
  class?: RunClass;
  /** Why the tool stopped the run itself: it printed nothing for STALL_TIMEOUT. */
  reason?: "stalled";
  messagesTransferred?: number;
  bytesTransferred?: number;
  /** Messages the destination held when this copy started (its `Start difference`). */
  destinationBefore?: number;
  logFile: string;
}

/** A folder by its IMAP name (modified UTF-7, what --f1f2 takes) and as people read it. */
export interface FolderName {
  name: string;
  display: string;
}

export interface FolderCount {
  messages: number;
  bytes: number;
}

export type FolderVerdict = "match" | "missing" | "extra" | "destination_only";

/** One destination folder after a verification: the source folders mapped to it, summed. */
export interface VerifiedFolder {
  destination: FolderName;
  sources: (FolderName & FolderCount)[];
  verdict: FolderVerdict;
  sourceMessages: number;
  sourceBytes: number;
  /** Absent: the folder does not exist on the destination (or, destination-only, not sized). */
  destinationMessages?: number;
  destinationBytes?: number;
}

/**
 * `verified`: every folder is `match` or `extra`; `missing`: source mail is not on the
 * destination; `failed`: the verify run could not tell (its class says why).
 */
export type VerificationVerdict = "verified" | "missing" | "failed";

/** The last verify run of a mailbox (imapsync --justfoldersizes after the copy). */
export interface Verification {
  at: string;
  verdict: VerificationVerdict;
  /** The verify run's class (ok, or quota_exceeded for a destination nearly full, when it counted). */
  class: RunClass;
  remedy?: string;
  logFile: string;
  /** The folder mapping it passed with --f1f2 (the one the first copy recorded). */
  mapping: FolderPair[];
  folders: VerifiedFolder[];
  missingMessages: number;
  extraMessages: number;
  /** What the extra messages most likely are, when the first run's statistics tell. */
  extraNote?: string;
  /** The lines that made the run fail or its listing unreadable. */
  evidence: string[];
}

export interface ReportEntry {
  source: string;
  destination: string;
  status: MailboxStatus;
  class?: RunClass;
  remedy?: string;
  attempts: Attempt[];
  /** Folder mapping decided by the first run, passed explicitly on reruns. */
  folders?: FolderPair[];
  /** While it waits to run again (throttled, backing off): when its next attempt starts. */
  nextAttemptAt?: string;
  /** `status` says how the last copy ended; this, what the last verify run found. */
  verification?: Verification;
}

export interface Report {
  schemaVersion: 1;
  startedAt: string;
  endedAt?: string;
  usersFile: string;
  /** `sha256:` and the hex digest of the users file's bytes: which list, wherever it is mounted. */
  usersDigest?: string;
  /** The shard this report's work directory runs (`migrate --shard`); absent: every mailbox. */
  shard?: { index: number; count: number };
  /** Set by `report merge`: the shard reports this one was merged from. */
  mergedFrom?: string[];
  mailboxes: ReportEntry[];
}
