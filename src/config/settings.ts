// Every setting, once: its flag, variable, type, default, example and description. yargs, the
// loader, the messages and the docs all read this table; it imports nothing, so the CLI can build
// its options without loading the loader (zod, dotenv).

/**
 * Far more shards than any migration needs (a 20,000-mailbox tenant in shards of 20), small
 * enough that choosing a mailbox's shard (O(count)) stays milliseconds for 100,000 mailboxes.
 */
export const MAX_SHARDS = 1000;

/**
 * `duration`: minutes as a plain number, or with a unit: "90s", "10m", "1.5h". `list`: some of
 * the choices, comma-separated ("mail,calendar").
 */
export type SettingType = "string" | "number" | "boolean" | "enum" | "duration" | "list";

/** What a migration can move of a mailbox; each selected one is a part of the mailbox. */
export const ITEMS = ["mail", "calendar", "contacts"] as const;

export interface Setting {
  /** camelCase name; also the key yargs gives the parsed flag. */
  key: string;
  env: string;
  /** kebab-case, without the leading dashes. */
  flag: string;
  description: string;
  type: SettingType;
  choices?: readonly string[];
  /** Applied by loadConfig, not by yargs, so that the environment and .env still count. */
  default?: string | number | boolean;
  /** Inclusive bounds of a number. */
  min?: number;
  max?: number;
  /** A number that may also be `auto`: the tool chooses. */
  auto?: boolean;
  /** Extra check on a string. */
  format?: "address" | "url" | "word" | "window";
  /** A realistic value, shown in messages that say how to set the setting. */
  example: string;
  /** Never trimmed, never repeated in a message. */
  secret?: boolean;
}

const PORT = { type: "number", min: 1, max: 65535 } as const;
const TLS = { type: "enum", choices: ["ssl", "starttls", "none"] } as const;

/** Narrowly typed, so that the parsed values get their types from the table. */
export const TABLE = [
  {
    key: "tenantId",
    env: "TENANT_ID",
    flag: "tenant-id",
    description: "Microsoft Entra tenant (ID or domain) whose mailboxes are migrated",
    type: "string",
    format: "word",
    example: "contoso.onmicrosoft.com",
  },
  {
    key: "appId",
    env: "APP_ID",
    flag: "app-id",
    description: "Application (client) ID of the app registration used to sign in",
    type: "string",
    format: "word",
    example: "00000000-0000-0000-0000-000000000000",
  },
  {
    key: "appSecret",
    env: "APP_SECRET",
    flag: "app-secret",
    description:
      "Client secret of the app registration, for GRANT=client-credentials only (never on a command line)",
    type: "string",
    secret: true,
    example: "<client secret>",
  },
  {
    key: "appSecretFile",
    env: "APP_SECRET_FILE",
    flag: "app-secret-file",
    description:
      "File whose first line is APP_SECRET (keeps the secret out of the environment and docker inspect)",
    type: "string",
    example: "./secrets/app-secret.txt",
  },
  {
    key: "loginHint",
    env: "LOGIN_HINT",
    flag: "login-hint",
    description: "Address of the admin who signs in and has FullAccess on the mailboxes",
    type: "string",
    format: "address",
    example: "admin@contoso.onmicrosoft.com",
  },
  {
    key: "authorityUrl",
    env: "AUTHORITY_URL",
    flag: "authority-url",
    description: "OAuth2 authority (default https://login.microsoftonline.com/<TENANT_ID>/v2.0)",
    type: "string",
    format: "url",
    example: "https://login.microsoftonline.com/contoso.onmicrosoft.com/v2.0",
  },
  {
    key: "host1",
    env: "HOST1",
    flag: "host1",
    description: "Source IMAP host, for tests only (default: imapsync's --office1 preset)",
    type: "string",
    format: "word",
    example: "127.0.0.1",
  },
  {
    key: "port1",
    env: "PORT1",
    flag: "port1",
    description: "Source IMAP port, for tests only",
    ...PORT,
    example: "993",
  },
  {
    key: "tls1",
    env: "TLS1",
    flag: "tls1",
    description: "Source TLS mode, for tests only",
    ...TLS,
    example: "ssl",
  },
  {
    key: "host2",
    env: "HOST2",
    flag: "host2",
    description: "Destination IMAP host",
    type: "string",
    format: "word",
    example: "imap.example.org",
  },
  {
    key: "port2",
    env: "PORT2",
    flag: "port2",
    description: "Destination IMAP port (default: imapsync's, from the TLS mode)",
    ...PORT,
    example: "993",
  },
  {
    key: "tls2",
    env: "TLS2",
    flag: "tls2",
    description: "Destination TLS mode",
    ...TLS,
    default: "ssl",
    example: "ssl",
  },
  {
    key: "destAdminUser",
    env: "DEST_ADMIN_USER",
    flag: "dest-admin-user",
    description: "Destination admin who logs in for every mailbox (with DEST_ADMIN_PASSWORD_FILE)",
    type: "string",
    format: "word",
    example: "admin@example.org",
  },
  {
    key: "destAdminPasswordFile",
    env: "DEST_ADMIN_PASSWORD_FILE",
    flag: "dest-admin-password-file",
    description: "File whose first line is the destination admin's password",
    type: "string",
    example: "./secrets/dest-admin.txt",
  },
  {
    key: "davUrl",
    env: "DAV_URL",
    flag: "dav-url",
    description:
      "Root of the destination's CalDAV/CardDAV server (homes found by RFC 6764 discovery); unset: calendars and contacts go to files in WORK_DIR",
    type: "string",
    format: "url",
    example: "https://mail.example.org/",
  },
  {
    key: "davCalendarHome",
    env: "DAV_CALENDAR_HOME",
    flag: "dav-calendar-home",
    description:
      "Calendar home to use instead of the discovered one, {user} standing for the destination address",
    type: "string",
    format: "url",
    example: "https://mail.example.org/dav/{user}/",
  },
  {
    key: "davAddressbookHome",
    env: "DAV_ADDRESSBOOK_HOME",
    flag: "dav-addressbook-home",
    description:
      "Address-book home to use instead of the discovered one, {user} standing for the destination address",
    type: "string",
    format: "url",
    example: "https://mail.example.org/dav/{user}/",
  },
  {
    key: "oauth2cBin",
    env: "OAUTH2C_BIN",
    flag: "oauth2c-bin",
    description: "oauth2c program, optionally with an interpreter",
    type: "string",
    default: "oauth2c",
    example: "/usr/local/bin/oauth2c",
  },
  {
    key: "imapsyncBin",
    env: "IMAPSYNC_BIN",
    flag: "imapsync-bin",
    description: 'imapsync program, optionally with an interpreter ("perl /opt/imapsync/imapsync")',
    type: "string",
    default: "imapsync",
    example: "/usr/bin/imapsync",
  },
  {
    key: "workDir",
    env: "WORK_DIR",
    flag: "work-dir",
    description: "Folder for the token, the logs and the report",
    type: "string",
    default: "./work",
    example: "./work",
  },
  {
    key: "callbackPort",
    env: "CALLBACK_PORT",
    flag: "callback-port",
    description: "Local port of oauth2c's sign-in callback (the app's redirect URI)",
    ...PORT,
    default: 9876,
    example: "9876",
  },
  {
    key: "callbackAddr",
    env: "CALLBACK_ADDR",
    flag: "callback-addr",
    description:
      "Address oauth2c's callback listens on (oauth2c >= 1.19; unset: 127.0.0.1, also right with docker --network host); 0.0.0.0:9876 only in a container whose port is published",
    type: "string",
    format: "word",
    example: "0.0.0.0:9876",
  },
  {
    key: "grant",
    env: "GRANT",
    flag: "grant",
    description:
      "How the token is obtained: implicit (the recipe, a sign-in per token), auth-code or device-code (one sign-in, then unattended refreshes), client-credentials (no person, APP_SECRET)",
    type: "enum",
    choices: ["implicit", "auth-code", "device-code", "client-credentials"],
    default: "implicit",
    example: "auth-code",
  },
  {
    key: "nonInteractive",
    env: "NON_INTERACTIVE",
    flag: "non-interactive",
    description:
      "Never ask for a sign-in: when the token needs a person, stop starting mailboxes and report them as waiting for a token",
    type: "boolean",
    default: false,
    example: "true",
  },
  {
    key: "tokenMargin",
    env: "TOKEN_MARGIN",
    flag: "token-margin",
    description: "Get a new token when the current one expires within this many minutes",
    type: "duration",
    default: 15,
    example: "15",
  },
  {
    key: "concurrency",
    env: "CONCURRENCY",
    flag: "concurrency",
    description:
      "Mailboxes migrated at the same time; auto: as many as still raise the rate, within --max-concurrency",
    type: "number",
    auto: true,
    min: 1,
    max: 64,
    // Measured to beat the best fixed level (bench/README.md), and it backs off when throttled.
    default: "auto",
    example: "auto",
  },
  {
    key: "maxConcurrency",
    env: "MAX_CONCURRENCY",
    flag: "max-concurrency",
    description: "With --concurrency auto: the most mailboxes migrated at the same time",
    type: "number",
    min: 1,
    max: 64,
    default: 16,
    example: "16",
  },
  {
    key: "sliceAbove",
    env: "SLICE_ABOVE",
    flag: "slice-above",
    description:
      "MB: a mailbox bigger than this is copied as several imapsync runs at once; auto: its share of the work (all sizes / concurrency)",
    type: "number",
    auto: true,
    min: 1,
    default: "auto",
    example: "20000",
  },
  {
    key: "maxSlices",
    env: "MAX_SLICES",
    flag: "max-slices",
    description:
      "The most imapsync runs on one mailbox at the same time (Exchange Online allows about 20 connections per mailbox)",
    type: "number",
    min: 1,
    max: 16,
    default: 4,
    example: "4",
  },
  {
    key: "maxAttempts",
    env: "MAX_ATTEMPTS",
    flag: "max-attempts",
    description:
      "Attempts that copied nothing before a mailbox is given up (attempts that copy mail do not count)",
    type: "number",
    min: 1,
    default: 3,
    example: "3",
  },
  {
    key: "maxBackoff",
    env: "MAX_BACKOFF",
    flag: "max-backoff",
    description: 'Longest wait before a rerun, in minutes or with a unit ("90s", "10m")',
    type: "duration",
    default: 10,
    example: "10",
  },
  {
    key: "throttleGiveUp",
    env: "THROTTLE_GIVE_UP",
    flag: "throttle-give-up",
    description:
      'Give a throttled mailbox up only once this long passes without a copied message ("12h"; 0: never)',
    type: "duration",
    // A night: Exchange Online asks for minutes; a mailbox refused all night needs its admin.
    default: "12h",
    example: "12h",
  },
  {
    key: "items",
    env: "ITEMS",
    flag: "items",
    description:
      "What moves of each mailbox, comma-separated: mail (imapsync), calendar and contacts (Microsoft Graph to CalDAV/CardDAV)",
    type: "list",
    choices: ITEMS,
    default: "mail",
    example: "mail,calendar,contacts",
  },
  {
    key: "includeNonMailFolders",
    env: "INCLUDE_NON_MAIL_FOLDERS",
    flag: "include-non-mail-folders",
    description: "Also copy Office 365 folders that hold no mail (calendar, contacts...)",
    type: "boolean",
    default: false,
    example: "true",
  },
  {
    key: "tls1Verify",
    env: "TLS1_VERIFY",
    flag: "tls1-verify",
    description: "Verify the source server's TLS certificate (off: accept any, for tests only)",
    type: "boolean",
    default: true,
    example: "true",
  },
  {
    key: "tls2Verify",
    env: "TLS2_VERIFY",
    flag: "tls2-verify",
    description:
      "Verify the destination server's TLS certificate, IMAP and CalDAV/CardDAV (off: accept any certificate)",
    type: "boolean",
    default: true,
    example: "true",
  },
  {
    key: "ca1File",
    env: "CA1_FILE",
    flag: "ca1-file",
    description: "PEM file of the CA that signed the source server's certificate",
    type: "string",
    example: "./certs/source-ca.pem",
  },
  {
    key: "ca2File",
    env: "CA2_FILE",
    flag: "ca2-file",
    description:
      "PEM file of the CA that signed the destination server's certificate, IMAP and CalDAV/CardDAV (a private CA)",
    type: "string",
    example: "./certs/dest-ca.pem",
  },
  {
    key: "stopGrace",
    env: "STOP_GRACE",
    flag: "stop-grace",
    description:
      'On Ctrl-C or docker stop, how long a run may take to stop cleanly before SIGTERM ("5s")',
    type: "duration",
    default: "5s",
    example: "5s",
  },
  {
    key: "shardCount",
    env: "SHARD_COUNT",
    flag: "shard-count",
    description:
      "Shards the mailboxes are split into, one machine or pod each; with JOB_COMPLETION_INDEX (Kubernetes) it picks this one's shard",
    type: "number",
    min: 1,
    max: MAX_SHARDS,
    example: "3",
  },
  {
    key: "stallTimeout",
    env: "STALL_TIMEOUT",
    flag: "stall-timeout",
    description: 'Stop and retry a run that prints nothing for this long ("10m"; 0: never)',
    type: "duration",
    default: 10,
    example: "10m",
  },
  {
    key: "graphUrl",
    env: "GRAPH_URL",
    flag: "graph-url",
    description:
      "Microsoft Graph's base URL, version included, for tests (the token's scope stays Graph's)",
    type: "string",
    format: "url",
    default: "https://graph.microsoft.com/v1.0",
    example: "http://127.0.0.1:8443/v1.0",
  },
  {
    key: "calendarWindow",
    env: "CALENDAR_WINDOW",
    flag: "calendar-window",
    description:
      'Years around today in which a recurring series\' moved and cancelled occurrences are looked for ("2y back, 5y ahead")',
    type: "string",
    format: "window",
    // Graph v1.0 lists no cancelled occurrence: they are found by expanding the series' pattern,
    // which for an endless series needs an end; older changes rarely matter on Monday morning.
    default: "2y back, 5y ahead",
    example: "2y back, 5y ahead",
  },
  {
    key: "attachmentMaxSize",
    env: "ATTACHMENT_MAX_SIZE",
    flag: "attachment-max-size",
    description:
      "Largest event attachment copied, in MiB (larger ones are named in the report; 0: none)",
    type: "number",
    min: 0,
    max: 1024,
    default: 10,
    example: "10",
  },
  {
    key: "vcardVersion",
    env: "VCARD_VERSION",
    flag: "vcard-version",
    description: "vCard version of the contacts written (3.0: Zimbra's; 4.0: RFC 6350)",
    type: "enum",
    choices: ["3.0", "4.0"],
    default: "3.0",
    example: "3.0",
  },
] as const satisfies readonly Setting[];

/** Every setting: for yargs (no defaults there, loadConfig applies them), docs and messages. */
export const SETTINGS: readonly Setting[] = TABLE;

export type AnySetting = (typeof TABLE)[number];
export type SettingKey = AnySetting["key"];
export type ValueOf<S extends AnySetting> = S extends {
  type: "enum";
  choices: readonly (infer C)[];
}
  ? C
  : S extends { type: "list"; choices: readonly (infer C)[] }
    ? C[]
    : S["type"] extends "number" | "duration"
      ? number
      : S["type"] extends "boolean"
        ? boolean
        : string;
/** Parsed settings; durations are in milliseconds. A setting with a default is always defined. */
export type Values = {
  [S in AnySetting as S["key"]]: S extends { default: unknown }
    ? ValueOf<S>
    : ValueOf<S> | undefined;
};
