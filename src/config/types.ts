// The configuration every command works from, as config/load.ts builds it from the settings.
import type { ITEMS } from "./settings.js";

/** What moves of a mailbox: mail through imapsync, calendar and contacts through Graph. */
export type Item = (typeof ITEMS)[number];

export type TlsMode = "ssl" | "starttls" | "none";

/** How the access token is obtained (`--grant`). */
export type Grant = "implicit" | "auth-code" | "device-code" | "client-credentials";

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
  /** The CalDAV/CardDAV destination of calendars and contacts; undefined: files in the work directory. */
  dav?: DavSettings;
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
  /** A mailbox bigger than this (bytes) is sliced; auto: its share, all sizes / concurrency. */
  sliceAboveBytes: number | "auto";
  /** The most imapsync runs on one mailbox at the same time. */
  maxSlices: number;
  maxAttempts: number;
  maxBackoffMs: number;
  /** A throttled mailbox is given up once this long passes without a copied message; 0: never. */
  throttleGiveUpMs: number;
  dryRun: boolean;
  /** Extra imapsync options given after `--`. */
  passthrough: string[];
  /** `ITEMS`: what moves, in the table's order, never empty. */
  items: Item[];
  /** Keep Office 365 folders that hold no mail (calendar, contacts...). */
  includeNonMailFolders: boolean;
  /** Certificate checks per side (verify: with the system's CAs unless a CA file is given). */
  certificates: { source: CertificateCheck; destination: CertificateCheck };
  /** Between the abort file and SIGTERM when a run is stopped (Ctrl-C, docker stop). */
  stopGraceMs: number;
  /** A run silent for this long is stopped and retried; 0: never. */
  stallTimeoutMs: number;
  /** Calendars and contacts read from Microsoft Graph. */
  graph: GraphSettings;
}

export interface GraphSettings {
  /** GRAPH_URL: Graph's base, version included; never the token's scope. */
  url: string;
  /** CALENDAR_WINDOW: where a series' moved and cancelled occurrences are looked for. */
  calendarWindow: { backYears: number; aheadYears: number };
  /** ATTACHMENT_MAX_SIZE: larger event attachments are left out and reported. */
  attachmentMaxBytes: number;
  vcardVersion: "3.0" | "4.0";
}

export interface CertificateCheck {
  verify: boolean;
  /** PEM file of the CA that signed the server's certificate. */
  caFile?: string;
}

export interface DavSettings {
  /** The server's root, where discovery starts. */
  url: string;
  /** Fixed homes instead of the discovered ones; `{user}` stands for the destination address. */
  calendarHome?: string;
  addressbookHome?: string;
}
