// Settings → Config: flags, then the environment, then .env, each value checked against the
// settings table, every problem collected into one message that says what to set.
import { constants, readFileSync } from "node:fs";
import path from "node:path";
import { parse as parseDotenv } from "dotenv";
import { z } from "zod";
import { InputError } from "../errors.js";
import { resolveShard } from "../plan/shard.js";
import { defaultAuthorityUrl } from "../token/entra.js";
import type { Command, Config, DavSettings, Item } from "./types.js";
import { isAddress } from "../users/address.js";
import { readPasswordFile } from "../users/passwords.js";
import { fileProblem, locateProgram, parseCommand } from "./programs.js";
import { TABLE, type AnySetting, type Setting, type SettingKey, type Values } from "./settings.js";

/** What a command needs besides the settings every command gets. */
export type Requirement = "token" | "destination" | "imapsync" | "oauth2c";

export interface LoadOptions {
  /** Defaults to process.env. */
  env?: NodeJS.ProcessEnv;
  /** Defaults to `<cwd>/.env` when it exists; `false` reads none. */
  envFile?: string | false;
  cwd?: string;
  require: Requirement[];
}

const MS_PER_MINUTE = 60_000;
const MB = 1_000_000;
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
  const ctx = { values, cwd, env, problems, require: requirementsOf(opts.require, values.items) };
  values.appSecret = readAppSecretFile(ctx);
  checkRequirements(ctx);
  const destAdminPasswordFile = checkDestinationAdmin(ctx);
  const dav = davSettings(ctx);
  const caFiles = { ca1File: checkCaFile(ctx, "ca1File"), ca2File: checkCaFile(ctx, "ca2File") };
  const oauth2c = toCommand(ctx, "oauth2cBin", "oauth2c");
  const imapsync = toCommand(ctx, "imapsyncBin", "imapsync");
  if (problems.length > 0) throw configError(problems, dotenv.file, cwd);
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
    ...(dav && { dav }),
    oauth2c,
    imapsync,
    workDir: path.resolve(cwd, values.workDir),
    callbackPort: values.callbackPort,
    callbackAddr: values.callbackAddr,
    grant: values.grant,
    nonInteractive: values.nonInteractive,
    tokenMarginMs: values.tokenMargin,
    concurrency: values.concurrency,
    maxConcurrency: values.maxConcurrency,
    sliceAboveBytes: megabytes(values.sliceAbove),
    maxSlices: values.maxSlices,
    maxAttempts: values.maxAttempts,
    maxBackoffMs: values.maxBackoff,
    throttleGiveUpMs: values.throttleGiveUp,
    dryRun: flags.dryRun === true,
    passthrough: passthrough(flags),
    items: values.items,
    includeNonMailFolders: values.includeNonMailFolders,
    certificates: {
      source: { verify: values.tls1Verify, caFile: caFiles.ca1File },
      destination: { verify: values.tls2Verify, caFile: caFiles.ca2File },
    },
    stopGraceMs: values.stopGrace,
    stallTimeoutMs: values.stallTimeout,
    graph: {
      url: values.graphUrl,
      calendarWindow: calendarWindow(values.calendarWindow),
      attachmentMaxBytes: values.attachmentMaxSize * 1024 * 1024,
      vcardVersion: values.vcardVersion,
    },
  };
}

/** A number of MB in bytes; `auto` (which the table's number type does not spell) stays. */
function megabytes(value: number | "auto"): number | "auto" {
  return value === "auto" ? value : value * MB;
}

const CALENDAR_WINDOW = /^\s*(\d+)\s*y\s+back\s*,\s*(\d+)\s*y\s+ahead\s*$/i;

/** "2y back, 5y ahead", already checked against CALENDAR_WINDOW. */
function calendarWindow(text: string): { backYears: number; aheadYears: number } {
  const [, back = "2", ahead = "5"] = CALENDAR_WINDOW.exec(text) ?? [];
  return { backYears: Number(back), aheadYears: Number(ahead) };
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
      const number = z
        .union([z.number(), z.string().trim().regex(/^\d+$/).transform(Number)])
        .pipe(bounded);
      if (!setting.auto) return number;
      return z.union([z.string().trim().toLowerCase().pipe(z.literal("auto")), number]);
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
    case "list": {
      const choices = setting.choices ?? [];
      return z
        .string()
        .transform((text) => text.split(",").map((word) => word.trim().toLowerCase()))
        .refine((words) => words.every((word) => choices.includes(word)))
        .transform((words) => choices.filter((choice) => words.includes(choice)));
    }
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
      if (setting.format === "window") return text.regex(CALENDAR_WINDOW);
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
    case "list":
      return `some of ${(setting.choices ?? []).join(", ")}, separated by commas`;
    case "string":
      if (setting.format === "address") return "an email address";
      if (setting.format === "url") return "an http(s) URL";
      if (setting.format === "word") return "a value without spaces";
      if (setting.format === "window") return 'years back and ahead, like "2y back, 5y ahead"';
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

/** Without mail, nothing of IMAP is needed: no destination host, no imapsync. */
function requirementsOf(required: Requirement[], items: Item[]): Set<Requirement> {
  if (items.includes("mail")) return new Set(required);
  return new Set(required.filter((need) => need !== "destination" && need !== "imapsync"));
}

function checkRequirements(ctx: Context): void {
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
  if (ctx.require.has("destination") && values.host2 === undefined) {
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

/** The DAV destination; a home without the server it belongs to is certainly a mistake. */
function davSettings(ctx: Context): DavSettings | undefined {
  const { davUrl, davCalendarHome, davAddressbookHome } = ctx.values;
  if (davUrl === undefined) {
    for (const key of ["davCalendarHome", "davAddressbookHome"] as const) {
      if (ctx.values[key] !== undefined) {
        missing(ctx, "davUrl", `${settingOf(key).env} is set and names a home on that server`);
      }
    }
    return undefined;
  }
  return {
    url: davUrl,
    ...(davCalendarHome !== undefined && { calendarHome: davCalendarHome }),
    ...(davAddressbookHome !== undefined && { addressbookHome: davAddressbookHome }),
  };
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

/** The program of OAUTH2C_BIN or IMAPSYNC_BIN, located when the command needs it. */
function toCommand(ctx: Context, key: "oauth2cBin" | "imapsyncBin", needed: Requirement): Command {
  const s = settingOf(key);
  const command = parseCommand(ctx.values[key]);
  if ("problem" in command) {
    ctx.problems.push(`${name(s)} is unusable: ${command.problem}; ${howToSet(s)}`);
    return { file: "", args: [] };
  }
  // An app-only token is obtained in-process: oauth2c is not needed then.
  const unneeded = needed === "oauth2c" && ctx.values.grant === "client-credentials";
  if (!ctx.require.has(needed) || unneeded) return command;
  const found = locateProgram(command.file, ctx);
  if (found.problem === "was not found on PATH") {
    ctx.problems.push(
      `${name(s)}: "${command.file}" was not found on PATH; install it (README, "Without Docker"), or ${howToSet(s)}`,
    );
  } else if (found.problem !== undefined) {
    ctx.problems.push(`${name(s)} names ${found.file}, which ${found.problem}; ${howToSet(s)}`);
  }
  return { file: found.file, args: command.args };
}

/** yargs puts the words after `--` under "--" (populate--); callers may also pass them ready. */
function passthrough(flags: Record<string, unknown>): string[] {
  const words = flags.passthrough ?? flags["--"];
  return Array.isArray(words) ? words.map(String) : [];
}

function configError(problems: string[], dotenvFile: string | undefined, cwd: string): InputError {
  const sources = `Settings come from flags first, then the environment, then ${dotenvFile ?? `a .env file in the current folder (${cwd} has none: create it from the example in the repository, cp .env.example .env, then fill it in)`}.`;
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
