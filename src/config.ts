import { accessSync, constants, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { parse as parseDotenv } from "dotenv";
import { z } from "zod";
import { InputError } from "./errors.js";
import { defaultAuthorityUrl } from "./oauth2c.js";
import { MAX_SHARDS, resolveShard } from "./plan/shard.js";
import type { Command, Config } from "./types.js";
import { isAddress, readPasswordFile, splitWords } from "./users.js";

/** `duration`: minutes as a plain number, or with a unit: "90s", "10m", "1.5h". */
export type SettingType = "string" | "number" | "boolean" | "enum" | "duration";

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
  /** Extra check on a string. */
  format?: "address" | "url" | "word";
  /** A realistic value, shown in messages that say how to set the setting. */
  example: string;
  /** Never trimmed, never repeated in a message. */
  secret?: boolean;
}

const PORT = { type: "number", min: 1, max: 65535 } as const;
const TLS = { type: "enum", choices: ["ssl", "starttls", "none"] } as const;

/** Narrowly typed, so that the parsed values get their types from the table. */
const TABLE = [
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
    description: "Mailboxes migrated at the same time",
    type: "number",
    min: 1,
    max: 64,
    default: 2,
    example: "2",
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
    description: "Verify the destination server's TLS certificate (off: accept any certificate)",
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
      "PEM file of the CA that signed the destination server's certificate (a private CA)",
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
] as const satisfies readonly Setting[];

/** Every setting: for yargs (no defaults there, loadConfig applies them), docs and messages. */
export const SETTINGS: readonly Setting[] = TABLE;

type AnySetting = (typeof TABLE)[number];
type SettingKey = AnySetting["key"];
type ValueOf<S extends AnySetting> = S extends { type: "enum"; choices: readonly (infer C)[] }
  ? C
  : S["type"] extends "number" | "duration"
    ? number
    : S["type"] extends "boolean"
      ? boolean
      : string;
/** Parsed settings; durations are in milliseconds. A setting with a default is always defined. */
type Values = {
  [S in AnySetting as S["key"]]: S extends { default: unknown }
    ? ValueOf<S>
    : ValueOf<S> | undefined;
};

/** What a command needs besides the settings every command gets. */
export type Requirement = "token" | "destination" | "imapsync" | "oauth2c";

export interface LoadOptions {
  /** Defaults to process.env. */
  env?: NodeJS.ProcessEnv;
  /** Defaults to `<cwd>/.env` when it exists; `false` reads none. */
  envFile?: string | false;
  cwd?: string;
  require: Requirement[];
  /** Every mailbox names its own destination host (bulk file column 4), so HOST2 may be unset. */
  host2Optional?: boolean;
}

const MS_PER_MINUTE = 60_000;
const DURATION_UNITS: Record<string, number> = { s: 1000, m: MS_PER_MINUTE, h: 60 * MS_PER_MINUTE };
const DURATION = /^(\d+(?:\.\d+)?)\s*([smh]?)$/i;

/**
 * Builds the Config from flags, then the environment, then the .env file (first found wins).
 * Every problem is collected, and all are thrown together as one InputError.
 */
export function loadConfig(flags: Record<string, unknown>, opts: LoadOptions): Config {
  const cwd = opts.cwd ?? process.cwd();
  const env = opts.env ?? process.env;
  const dotenv = readDotenv(opts.envFile, cwd);
  const problems: string[] = [];
  const raw = Object.fromEntries(
    TABLE.map((setting) => [
      setting.key,
      parseSetting(setting, pickRaw(setting, flags, env, dotenv), problems),
    ]),
  );
  // One cast, where the table-driven loop meets the typed view: parseSetting returns a value of
  // the setting's type (its default when the given value is invalid) or undefined when it has none.
  const values = raw as Values;
  const ctx = { values, cwd, env, problems, require: new Set(opts.require) };
  values.appSecret = readAppSecretFile(ctx);
  checkRequirements(ctx, opts.host2Optional ?? false);
  const destAdminPasswordFile = checkDestinationAdmin(ctx);
  const caFiles = { ca1File: checkCaFile(ctx, "ca1File"), ca2File: checkCaFile(ctx, "ca2File") };
  const oauth2c = toCommand(ctx, "oauth2cBin", "oauth2c");
  const imapsync = toCommand(ctx, "imapsyncBin", "imapsync");
  if (problems.length > 0) throw configError(problems, dotenv.file);
  const shard = resolveShard({
    flag: typeof flags.shard === "string" ? flags.shard : undefined,
    jobCompletionIndex: env.JOB_COMPLETION_INDEX,
    count: values.shardCount,
  });
  return {
    // Only when given: a Config without shards is exactly what it was before shards existed.
    ...(shard && { shard }),
    tenantId: values.tenantId,
    appId: values.appId,
    appSecret: values.appSecret,
    loginHint: values.loginHint,
    authorityUrl:
      values.authorityUrl ??
      (values.tenantId === undefined ? undefined : defaultAuthorityUrl(values.tenantId)),
    source: { host: values.host1, port: values.port1, tls: values.tls1 },
    destination: { host: values.host2 ?? "", port: values.port2, tls: values.tls2 },
    destAdminUser: values.destAdminUser,
    destAdminPasswordFile,
    oauth2c,
    imapsync,
    workDir: path.resolve(cwd, values.workDir),
    callbackPort: values.callbackPort,
    callbackAddr: values.callbackAddr,
    grant: values.grant,
    nonInteractive: values.nonInteractive,
    tokenMarginMs: values.tokenMargin,
    concurrency: values.concurrency,
    maxAttempts: values.maxAttempts,
    maxBackoffMs: values.maxBackoff,
    dryRun: flags.dryRun === true,
    passthrough: passthrough(flags),
    includeNonMailFolders: values.includeNonMailFolders,
    certificates: {
      source: { verify: values.tls1Verify, caFile: caFiles.ca1File },
      destination: { verify: values.tls2Verify, caFile: caFiles.ca2File },
    },
    stopGraceMs: values.stopGrace,
    stallTimeoutMs: values.stallTimeout,
  };
}

interface Dotenv {
  file: string | undefined;
  values: Record<string, string>;
}

function readDotenv(envFile: string | false | undefined, cwd: string): Dotenv {
  if (envFile === false) return { file: undefined, values: {} };
  const file = path.resolve(cwd, envFile ?? ".env");
  try {
    return { file, values: parseDotenv(readFileSync(file, "utf8")) };
  } catch (error) {
    // Without an explicit file, .env is optional: settings may all come from flags or the environment.
    if (envFile === undefined && (error as NodeJS.ErrnoException).code === "ENOENT") {
      return { file: undefined, values: {} };
    }
    throw new InputError(
      file,
      `the settings file cannot be read (${(error as Error).message})`,
      "Check its path and permissions.",
    );
  }
}

interface RawValue {
  value: unknown;
  from: string;
}

function pickRaw(
  setting: AnySetting,
  flags: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
  dotenv: Dotenv,
): RawValue | undefined {
  const candidates: RawValue[] = [
    { value: flags[setting.key] ?? flags[setting.flag], from: "on the command line" },
    { value: env[setting.env], from: "in the environment" },
    { value: dotenv.values[setting.env], from: `in ${dotenv.file}` },
  ];
  // An empty value (`HOST2=` left in a .env template) means "not set", not "set to nothing".
  return candidates.find(({ value }) => value !== undefined && value !== null && value !== "");
}

function parseSetting(setting: AnySetting, raw: RawValue | undefined, problems: string[]): unknown {
  if (raw === undefined) return defaultValue(setting);
  if (Array.isArray(raw.value)) {
    problems.push(`${name(setting)} is given more than once (${raw.from}); ${howToSet(setting)}`);
    return defaultValue(setting);
  }
  const result = schemaFor(setting).safeParse(raw.value);
  if (result.success) return result.data;
  problems.push(
    `${name(setting)} must be ${expectation(setting)}, not ${shown(setting, raw.value)} (${raw.from}); ${howToSet(setting)}`,
  );
  return defaultValue(setting);
}

function shown(setting: AnySetting, value: unknown): string {
  if ("secret" in setting) return "the value given";
  return typeof value === "string" ? JSON.stringify(value) : String(value);
}

function defaultValue(setting: AnySetting): unknown {
  if (!("default" in setting)) return undefined;
  return schemaFor(setting).parse(setting.default);
}

function schemaFor(setting: Setting): z.ZodType<unknown> {
  switch (setting.type) {
    case "number": {
      const bounded = z
        .number()
        .int()
        .min(setting.min ?? 0)
        .max(setting.max ?? Number.MAX_SAFE_INTEGER);
      return z
        .union([z.number(), z.string().trim().regex(/^\d+$/).transform(Number)])
        .pipe(bounded);
    }
    case "duration":
      return z.union([
        z
          .number()
          .nonnegative()
          .transform((minutes) => Math.round(minutes * MS_PER_MINUTE)),
        z.string().trim().regex(DURATION).transform(durationMs),
      ]);
    case "boolean":
      return z.union([z.boolean(), z.stringbool()]);
    case "enum":
      return z
        .string()
        .trim()
        .toLowerCase()
        .pipe(z.enum((setting.choices ?? []) as [string, ...string[]]));
    case "string": {
      const text = setting.secret ? z.string() : z.string().trim();
      if (setting.format === "address") return text.refine(isAddress);
      if (setting.format === "url") return text.pipe(z.url({ protocol: /^https?$/ }));
      if (setting.format === "word") return text.regex(/^[^\s\p{C}]+$/u);
      return text.min(1);
    }
  }
}

function durationMs(text: string): number {
  const [, amount = "0", unit = ""] = DURATION.exec(text) ?? [];
  return Math.round(Number(amount) * (DURATION_UNITS[unit.toLowerCase()] ?? MS_PER_MINUTE));
}

function expectation(setting: Setting): string {
  switch (setting.type) {
    case "number":
      return setting.max === undefined
        ? `a whole number of at least ${setting.min ?? 0}`
        : `a whole number from ${setting.min ?? 0} to ${setting.max}`;
    case "duration":
      return 'a number of minutes, or a duration with a unit like "90s", "10m" or "1h"';
    case "boolean":
      return "true or false";
    case "enum":
      return `one of ${(setting.choices ?? []).join(", ")}`;
    case "string":
      if (setting.format === "address") return "an email address";
      if (setting.format === "url") return "an http(s) URL";
      if (setting.format === "word") return "a value without spaces";
      return "a non-empty value";
  }
}

function name(setting: Setting): string {
  return `${setting.env} (flag --${setting.flag})`;
}

function howToSet(setting: Setting): string {
  const flag =
    setting.type === "boolean" ? `--${setting.flag}` : `--${setting.flag} ${setting.example}`;
  return `put ${setting.env}=${setting.example} in .env or pass ${flag}`;
}

function settingOf(key: SettingKey): AnySetting {
  // The keys come from the table itself, so the lookup cannot miss.
  return TABLE.find((s) => s.key === key) as AnySetting;
}

interface Context {
  values: Values;
  cwd: string;
  env: NodeJS.ProcessEnv;
  problems: string[];
  require: Set<Requirement>;
}

function missing(ctx: Context, key: SettingKey, why: string): void {
  const s = settingOf(key);
  ctx.problems.push(`${name(s)} is not set but ${why}; ${howToSet(s)}`);
}

function checkRequirements(ctx: Context, host2Optional: boolean): void {
  const { values } = ctx;
  if (ctx.require.has("token")) {
    const why = "getting a token needs it";
    if (values.tenantId === undefined && values.authorityUrl === undefined) {
      missing(ctx, "tenantId", `${why} (or AUTHORITY_URL)`);
    }
    if (values.appId === undefined) missing(ctx, "appId", why);
    // The app signs in as itself with its secret; otherwise an admin signs in.
    if (values.grant === "client-credentials") {
      if (values.appSecret === undefined)
        missing(ctx, "appSecret", "GRANT=client-credentials needs it (or APP_SECRET_FILE)");
    } else if (values.loginHint === undefined) missing(ctx, "loginHint", why);
  }
  if (ctx.require.has("destination") && !host2Optional && values.host2 === undefined) {
    missing(ctx, "host2", "the destination server must be known");
  }
}

/** APP_SECRET from the first line of APP_SECRET_FILE, read like a password file. */
function readAppSecretFile(ctx: Context): string | undefined {
  const { appSecret, appSecretFile } = ctx.values;
  if (appSecretFile === undefined) return appSecret;
  const s = settingOf("appSecretFile");
  if (appSecret !== undefined) {
    ctx.problems.push(
      `${name(s)} and ${name(settingOf("appSecret"))} are both set; keep only ${s.env}`,
    );
    return appSecret;
  }
  try {
    return readPasswordFile(
      path.resolve(ctx.cwd, appSecretFile),
      s.env,
      "Point APP_SECRET_FILE at a readable file whose first line is the client secret.",
    );
  } catch (error) {
    if (!(error instanceof InputError)) throw error;
    ctx.problems.push(error.message);
    return undefined;
  }
}

/** The pair logs in as one admin on the destination; half of it is certainly a mistake. */
function checkDestinationAdmin(ctx: Context): string | undefined {
  const { destAdminUser, destAdminPasswordFile } = ctx.values;
  if ((destAdminUser === undefined) !== (destAdminPasswordFile === undefined)) {
    const [given, absent] =
      destAdminUser === undefined
        ? (["destAdminPasswordFile", "destAdminUser"] as const)
        : (["destAdminUser", "destAdminPasswordFile"] as const);
    missing(ctx, absent, `${settingOf(given).env} is set and the two go together`);
  }
  if (destAdminPasswordFile === undefined) return undefined;
  const file = path.resolve(ctx.cwd, destAdminPasswordFile);
  const problem = fileProblem(file, constants.R_OK);
  if (problem !== undefined) {
    ctx.problems.push(
      `${name(settingOf("destAdminPasswordFile"))} names ${file}, which ${problem}; point it at a readable file whose first line is the password`,
    );
  }
  return file;
}

/** A CA file imapsync cannot read would fail every TLS handshake: say so before anything runs. */
function checkCaFile(ctx: Context, key: "ca1File" | "ca2File"): string | undefined {
  const given = ctx.values[key];
  if (given === undefined) return undefined;
  const file = path.resolve(ctx.cwd, given);
  const problem = fileProblem(file, constants.R_OK);
  if (problem !== undefined) {
    ctx.problems.push(
      `${name(settingOf(key))} names ${file}, which ${problem}; point it at a readable PEM file of the certificate authority`,
    );
  }
  return file;
}

function fileProblem(file: string, mode: number): string | undefined {
  try {
    if (!statSync(file).isFile()) return "is not a file";
    accessSync(file, mode);
    return undefined;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return "does not exist";
    return mode === constants.X_OK ? "is not executable" : "cannot be read";
  }
}

/**
 * "perl /opt/imapsync/imapsync" → { file: "perl", args: [script] }. When the command is needed,
 * its program is located now, so a missing imapsync stops the run before any sign-in.
 */
function toCommand(ctx: Context, key: "oauth2cBin" | "imapsyncBin", needed: Requirement): Command {
  const s = settingOf(key);
  const split = splitWords(ctx.values[key]);
  const [file, ...args] = "words" in split ? split.words : [];
  if (file === undefined || file === "") {
    const problem = "problem" in split ? split.problem : "it names no program";
    ctx.problems.push(`${name(s)} is unusable: ${problem}; ${howToSet(s)}`);
    return { file: "", args: [] };
  }
  // An app-only token is obtained in-process: oauth2c is not needed then.
  const unneeded = needed === "oauth2c" && ctx.values.grant === "client-credentials";
  if (!ctx.require.has(needed) || unneeded) return { file, args };
  if (!file.includes(path.sep) && !file.includes("/")) {
    const found = findOnPath(file, ctx.env);
    if (found === undefined) {
      ctx.problems.push(
        `${name(s)}: "${file}" was not found on PATH; install it, or ${howToSet(s)}`,
      );
    }
    return { file: found ?? file, args };
  }
  const absolute = path.resolve(ctx.cwd, file);
  const problem = fileProblem(absolute, constants.X_OK);
  if (problem !== undefined) {
    ctx.problems.push(`${name(s)} names ${absolute}, which ${problem}; ${howToSet(s)}`);
  }
  return { file: absolute, args };
}

function findOnPath(program: string, env: NodeJS.ProcessEnv): string | undefined {
  const folders = (env.PATH ?? "").split(path.delimiter).filter((folder) => folder !== "");
  return folders
    .map((folder) => path.join(folder, program))
    .find((candidate) => fileProblem(candidate, constants.X_OK) === undefined);
}

/** yargs puts the words after `--` under "--" (populate--); callers may also pass them ready. */
function passthrough(flags: Record<string, unknown>): string[] {
  const words = flags.passthrough ?? flags["--"];
  return Array.isArray(words) ? words.map(String) : [];
}

function configError(problems: string[], dotenvFile: string | undefined): InputError {
  const sources = `Settings come from flags first, then the environment, then ${dotenvFile ?? "a .env file in the current folder"}.`;
  const [only] = problems;
  if (problems.length === 1 && only !== undefined) {
    return new InputError("Configuration", only, sources);
  }
  const list = problems.map((problem) => `  - ${problem}`).join("\n");
  return new InputError(
    "Configuration",
    `${problems.length} settings are missing or invalid`,
    `Fix them:\n${list}\n${sources}`,
  );
}
