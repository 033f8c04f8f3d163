#!/usr/bin/env node
// A faithful stand-in for oauth2c v1.19.0-4 (reference: oauth2c.md §10), run as
// `node dist/test/doubles/oauth2c.js <issuer> [flags]`. Its flags, usage text and version line come
// from the real outputs in fixtures/oauth2c, and it reproduces what a wrapper must cope with:
// errors on stdout, a noisy stderr holding the secret and the token, spinner `\r`s, colours,
// prompts that hang, `{}` with exit 0, the callback server's rules.
//
// Issuers on 127.0.0.1/localhost are really asked for their discovery document and token
// endpoint; any other issuer (login.microsoftonline.com) is emulated offline, shaped like Entra.
// Environment:
//   OAUTH2C_DOUBLE_VERSION    emulate another version (e.g. v1.17.2: no --no-browser...)
//   OAUTH2C_DOUBLE_LOG        append {argv, noColor} of every run (one JSON line)
//   OAUTH2C_DOUBLE_TOKEN_TTL  lifetime of tokens minted for client credentials / device code
//   OAUTH2C_DOUBLE_SECRET     the client secret the emulated Entra accepts (any when unset)
//   OAUTH2C_DOUBLE_DEVICE_PENDING  polls answered authorization_pending before approval (2)
//   OAUTH2C_DOUBLE_DEVICE_USER     who approves the device code (user@example.com)
import { createHash, randomBytes, randomUUID } from "node:crypto";
import { appendFileSync, constants, readFileSync } from "node:fs";
import { access } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import path from "node:path";
import { execa } from "execa";
import { DELEGATED_SCOPE, mintAccessToken, recordToken } from "./entra.js";

const FIXTURES = path.resolve(import.meta.dirname, "../../../fixtures/oauth2c");
const HELP = readFileSync(path.join(FIXTURES, "help.stdout"), "utf8");
const env = process.env;

// ---------------------------------------------------------------- version

const VERSION_LINE = env.OAUTH2C_DOUBLE_VERSION
  ? `oauth2c version ${env.OAUTH2C_DOUBLE_VERSION} (commit 0000000, built at 2026-01-01)\n`
  : readFileSync(path.join(FIXTURES, "version.stderr"), "utf8");
/** [major, minor, patch, commits after the tag]. */
const VERSION = (/version v?(\d+)\.(\d+)\.(\d+)(?:-(\d+))?/.exec(VERSION_LINE) ?? [])
  .slice(1)
  .map((n) => Number(n ?? 0));

function atLeast(...v: number[]): boolean {
  for (let i = 0; i < v.length; i++) {
    const mine = VERSION[i] ?? 0;
    if (mine !== v[i]) return mine > v[i]!;
  }
  return true;
}

/** Flags newer than some releases (oauth2c.md §1). */
const FLAG_SINCE: Record<string, number[]> = {
  "no-browser": [1, 17, 2],
  "no-origin": [1, 18, 0],
  "callback-addr": [1, 19, 0],
};

// ---------------------------------------------------------------- command line

type FlagType = "bool" | "string" | "strings" | "duration";
interface FlagSpec {
  name: string;
  short?: string;
  type: FlagType;
  def?: string;
}

/** The flag table of `oauth2c --help`, so the double accepts exactly what oauth2c accepts. */
function flagsFromHelp(help: string): FlagSpec[] {
  const specs: FlagSpec[] = [];
  for (const line of help.split("\n")) {
    const m = /^\s+(?:-(\w), )?--([\w-]+)(?: (string|strings|duration))?\s{2,}(.*)$/.exec(line);
    if (!m) continue;
    const def = /\(default "?([^")]*)"?\)$/.exec(m[4]!)?.[1];
    specs.push({ name: m[2]!, short: m[1], type: (m[3] as FlagType) ?? "bool", def });
  }
  return specs.filter((f) => atLeast(...(FLAG_SINCE[f.name] ?? [])));
}
const FLAGS = flagsFromHelp(HELP);

class UsageError extends Error {}

const GO_UNITS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/** Go's time.ParseDuration, in milliseconds; a string is Go's error message. */
function parseGoDuration(s: string): number | string {
  const q = JSON.stringify;
  if (s === "0") return 0;
  if (s === "") return `time: invalid duration ${q(s)}`;
  const part = /(\d+(?:\.\d*)?|\.\d+)([^\d.]*)/y;
  let total = 0;
  for (let i = 0; i < s.length; i = part.lastIndex) {
    part.lastIndex = i;
    const m = part.exec(s);
    if (!m) return `time: invalid duration ${q(s)}`;
    const unit = m[2]!;
    if (unit === "") return `time: missing unit in duration ${q(s)}`;
    if (!(unit in GO_UNITS)) return `time: unknown unit ${q(unit)} in duration ${q(s)}`;
    total += Number(m[1]) * GO_UNITS[unit]!;
  }
  return total;
}

type Value = boolean | string | string[] | number;

/** pflag's rules: `--f v`, `--f=v`, `-s`, comma lists that add up, Go durations. */
function parseArgv(argv: string[]): { positional: string[]; values: Map<string, Value> } {
  const byName = new Map(FLAGS.map((f) => [f.name, f]));
  const byShort = new Map(FLAGS.filter((f) => f.short).map((f) => [f.short, f]));
  const values = new Map<string, Value>();
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    let spec: FlagSpec | undefined;
    let inline: string | undefined;
    if (arg === "--") {
      positional.push(...argv.slice(i + 1));
      break;
    } else if (arg.startsWith("--")) {
      const eq = arg.indexOf("=");
      const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
      spec = byName.get(name);
      if (!spec) throw new UsageError(`unknown flag: --${name}`);
      if (eq !== -1) inline = arg.slice(eq + 1);
    } else if (arg.startsWith("-") && arg.length > 1) {
      spec = byShort.get(arg[1]!);
      if (!spec) throw new UsageError(`unknown shorthand flag: '${arg[1]}' in ${arg}`);
      if (arg.length > 2) inline = arg.slice(2).replace(/^=/, "");
    } else {
      positional.push(arg);
      continue;
    }
    if (spec.type === "bool") {
      values.set(spec.name, inline === undefined || inline === "true");
      continue;
    }
    const value = inline ?? argv[++i];
    if (value === undefined) throw new UsageError(`flag needs an argument: --${spec.name}`);
    if (spec.type === "duration") {
      const ms = parseGoDuration(value);
      if (typeof ms === "string")
        throw new UsageError(`invalid argument "${value}" for "--${spec.name}" flag: ${ms}`);
      values.set(spec.name, ms);
    } else if (spec.type === "strings") {
      const before = values.get(spec.name);
      values.set(spec.name, [...(Array.isArray(before) ? before : []), ...value.split(",")]);
    } else values.set(spec.name, value);
  }
  return { positional, values };
}

interface Options {
  issuer: string;
  grantType: string;
  clientId: string;
  clientSecret: string;
  authMethod: string;
  scopes: string[];
  responseTypes: string[];
  responseMode: string;
  redirectUrl: string;
  callbackAddr: string;
  loginHint: string;
  browserTimeoutMs: number;
  httpTimeoutMs: number;
  noBrowser: boolean;
  silent: boolean;
  noPrompt: boolean;
  noOrigin: boolean;
  pkce: boolean;
  endpoints: Partial<Endpoints>;
}

function options(issuer: string, values: Map<string, Value>): Options {
  const def = (name: string) => FLAGS.find((f) => f.name === name)?.def ?? "";
  const str = (name: string) => (values.get(name) as string | undefined) ?? def(name);
  const list = (name: string) => (values.get(name) as string[] | undefined) ?? [];
  const bool = (name: string) => values.get(name) === true;
  const ms = (name: string) =>
    (values.get(name) as number | undefined) ?? (parseGoDuration(def(name)) as number);
  return {
    issuer,
    grantType: str("grant-type"),
    clientId: str("client-id"),
    clientSecret: str("client-secret"),
    authMethod: str("auth-method"),
    scopes: list("scopes"),
    responseTypes: list("response-types"),
    responseMode: str("response-mode"),
    redirectUrl: str("redirect-url"),
    callbackAddr: str("callback-addr"),
    loginHint: str("login-hint"),
    browserTimeoutMs: ms("browser-timeout"),
    httpTimeoutMs: ms("http-timeout"),
    noBrowser: bool("no-browser"),
    silent: bool("silent"),
    noPrompt: bool("no-prompt"),
    noOrigin: bool("no-origin"),
    pkce: bool("pkce"),
    endpoints: {
      authorization_endpoint: str("authorization-endpoint") || undefined,
      token_endpoint: str("token-endpoint") || undefined,
      device_authorization_endpoint: str("device-authorization-endpoint") || undefined,
    },
  };
}

const GRANT_TYPES = [
  "authorization_code",
  "client_credentials",
  "implicit",
  "password",
  "refresh_token",
  "urn:ietf:params:oauth:grant-type:jwt-bearer",
  "urn:ietf:params:oauth:grant-type:token-exchange",
  "urn:ietf:params:oauth:grant-type:device_code",
];
const DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code";
const RESPONSE_MODES = ["query", "form_post", "query.jwt", "form_post.jwt", "jwt"];
const RESPONSE_TYPES = ["code", "id_token", "token"];
const AUTH_METHODS = [
  "client_secret_basic",
  "client_secret_post",
  "client_secret_jwt",
  "private_key_jwt",
  "tls_client_auth",
  "self_signed_tls_client_auth",
  "none",
];

function validationError(o: Options): string | undefined {
  const oneOf = (what: string, list: string[]) => `${what} must be one of [${list.join(" ")}]`;
  if (!GRANT_TYPES.includes(o.grantType)) return oneOf("GrantType", GRANT_TYPES);
  if (o.authMethod && !AUTH_METHODS.includes(o.authMethod))
    return oneOf("AuthMethod", AUTH_METHODS);
  if (o.responseMode && !RESPONSE_MODES.includes(o.responseMode))
    return oneOf("ResponseMode", RESPONSE_MODES);
  if (o.responseTypes.some((t) => !RESPONSE_TYPES.includes(t)))
    return oneOf("ResponseTypes", RESPONSE_TYPES);
  return undefined;
}

// ---------------------------------------------------------------- output

const CLEAR = `\r${" ".repeat(80)}\r`;
const SPINNER = ["▀  ", " ▀ ", " ▄ ", "▄  "];
let silent = false;
let spinner: NodeJS.Timeout | undefined;
/** After the first spinner frame every log line starts by wiping the spinner line. */
let wiping = false;
let inPrompt = false;

function log(text: string): void {
  if (!silent) process.stderr.write(text);
}

/** Log lines; only the first gets the spinner clean-up, as oauth2c's multi-line dumps do. */
function logLines(text: string): void {
  log(`${wiping ? CLEAR : ""}${text}\n`);
}

function startSpinner(text: string): void {
  if (silent) return;
  const started = Date.now();
  let frame = 0;
  const draw = () => {
    const secs = Math.floor((Date.now() - started) / 1000);
    log(`\r${SPINNER[frame++ % SPINNER.length]}${text} (${secs}s)`);
  };
  draw();
  wiping = true;
  spinner = setInterval(draw, 200);
}

function stopSpinner(): void {
  clearInterval(spinner);
}

/** `  ERROR   msg` on stdout, coloured unless NO_COLOR, after a spinner wipe in normal mode. */
function errorLine(message: string): void {
  const text = env.NO_COLOR
    ? `  ERROR   ${message}`
    : `\x1b[30;101m\x1b[30;101m  ERROR  \x1b[0m\x1b[0m \x1b[91m\x1b[91m${message}\x1b[0m\x1b[0m`;
  const prefix = inPrompt ? "\x1b[?25l" : wiping && !silent ? CLEAR : "";
  process.stdout.write(`${prefix}${text}\n`);
}

function fail(message: string): never {
  stopSpinner();
  errorLine(message);
  process.exit(1);
}

/** oauth2c's JSON dumps are coloured even with NO_COLOR. */
function colouredJson(value: Record<string, unknown>): string {
  const b = (s: string) => `\x1b[1m${s}\x1b[0m`;
  const scalar = (v: unknown) =>
    v === null || v === undefined
      ? "\x1b[2mnull\x1b[0m"
      : typeof v === "number" || typeof v === "boolean"
        ? `\x1b[33m${v}\x1b[0m`
        : `\x1b[32m${JSON.stringify(v)}\x1b[0m`;
  const entries = Object.entries(value).map(
    ([k, v], i, all) =>
      `  \x1b[1m\x1b[94m${JSON.stringify(k)}\x1b[0m${b(":")} ${scalar(v)}${i < all.length - 1 ? b(",") : ""}`,
  );
  return [b("{"), ...entries, b("}")].join("\n");
}

function sortedKeys(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : 1)));
}

function inputTable(o: Options): string {
  const rows: [string, string][] = [["Issuer URL", o.issuer]];
  rows.push(["Grant type", o.grantType]);
  if (o.authMethod) rows.push(["Auth method", o.authMethod]);
  if (o.scopes.length) rows.push(["Scopes", o.scopes.join(", ")]);
  if (o.responseTypes.length) rows.push(["Response types", o.responseTypes.join(", ")]);
  if (o.responseMode) rows.push(["Response mode", o.responseMode]);
  rows.push(["PKCE", String(o.pkce)]);
  if (o.clientId) rows.push(["Client ID", o.clientId]);
  // oauth2c shows the secret in clear: the reason a wrapper must never echo stderr.
  if (o.clientSecret) rows.push(["Client secret", o.clientSecret]);
  const kw = Math.max(...rows.map(([k]) => k.length));
  const vw = Math.max(...rows.map(([, v]) => v.length));
  const line = "─".repeat(kw + vw + 5);
  return [
    `┌${line}┐`,
    ...rows.map(([k, v]) => `| ${k.padEnd(kw)} | ${v.padEnd(vw)} |`),
    `└${line}┘`,
  ].join("\n");
}

function banner(o: Options, title: string): void {
  const left = Math.floor((80 - title.length) / 2);
  const blank = " ".repeat(80);
  log(`${inputTable(o)}\n\n${blank}\n${" ".repeat(left)}${title.padEnd(80 - left)}\n${blank}\n\n`);
}

function randomString(length: number): string {
  const alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
  return [...randomBytes(length)].map((b) => alphabet[b % alphabet.length]).join("");
}

/** The JSON line printed on success: fixed key order, empty keys left out, `{}` when nothing. */
function tokenJson(t: Record<string, unknown>): string {
  const out: Record<string, unknown> = {};
  for (const key of [
    "access_token",
    "expires_in",
    "id_token",
    "issued_token_type",
    "refresh_token",
    "scope",
    "token_type",
  ]) {
    const v = t[key];
    if (v === undefined || v === "" || v === null) continue;
    out[key] = key === "expires_in" ? Number(v) : v;
  }
  return JSON.stringify(out);
}

function jwtClaims(token: string): Record<string, unknown> | undefined {
  const parts = token.split(".");
  if (parts.length !== 3) return undefined;
  try {
    return JSON.parse(Buffer.from(parts[1]!, "base64url").toString("utf8"));
  } catch {
    return undefined;
  }
}

/** Decoded claims of the returned tokens, as oauth2c logs them; an opaque token is an ERROR. */
function logTokens(t: Record<string, unknown>): void {
  for (const [key, label] of [
    ["access_token", "Access token:"],
    ["id_token", "ID token:"],
  ] as const) {
    const token = t[key];
    if (typeof token !== "string" || token === "") continue;
    const claims = jwtClaims(token);
    if (claims) {
      logLines(label);
      logLines(colouredJson(sortedKeys(claims)));
    } else if (!silent) errorLine("go-jose/go-jose: compact JWS format must have three parts");
  }
}

function succeed(t: Record<string, unknown>, what: string, delayMs = 0): void {
  logLines("");
  logLines("");
  logLines(` SUCCESS  ${what}\n`);
  process.stdout.write(`${tokenJson(t)}\n`);
  setTimeout(() => process.exit(0), delayMs);
}

// ---------------------------------------------------------------- prompts

/**
 * Without --no-prompt or --silent a missing value is prompted for on stdout, even with stdin
 * closed: a select prompt waits forever, a text prompt redraws itself in a loop (oauth2c.md §7).
 */
function prompt(label: string, choices?: string[]): Promise<never> {
  inPrompt = true;
  process.stderr.write(`${label}:\n`);
  if (choices) {
    const menu = `Please select an option [type to search]: \n> ${choices.join("\n  ")}\n`;
    process.stdout.write(`\x1b[1G\x1b[2K${menu}`);
    // Waits for a key that never comes (stdin is closed): only a signal ends it.
    setInterval(() => undefined, 60_000);
  } else {
    const redraw = () => process.stdout.write("\x1b[1G\x1b[2KInput text: \x1b[1G\x1b[12C");
    setInterval(redraw, 5);
    process.stdout.on("error", () => process.exit(141));
  }
  return new Promise<never>(() => undefined);
}

async function askMissing(o: Options): Promise<void> {
  if (o.silent || o.noPrompt) return;
  if (!o.clientId) await prompt("Client ID");
  if (o.authMethod.startsWith("client_secret_") && !o.clientSecret) await prompt("Client secret");
  const redirect = o.grantType === "implicit" || o.grantType === "authorization_code";
  if (redirect && !o.responseMode)
    await prompt("Response mode", ["form_post", "fragment", "query"]);
}

// ---------------------------------------------------------------- identity provider

interface Endpoints {
  authorization_endpoint: string;
  token_endpoint: string;
  device_authorization_endpoint: string;
}

interface HttpAnswer {
  status: number;
  body: Record<string, unknown>;
}

function isLocal(url: URL): boolean {
  return ["127.0.0.1", "localhost", "[::1]"].includes(url.hostname);
}

/** Go's net/http wording for the failures a wrapper must explain. */
function goHttpError(method: string, url: string, error: unknown): string {
  const cause = (error as { cause?: { code?: string } }).cause;
  const u = new URL(url);
  const host = `${u.hostname === "localhost" ? "127.0.0.1" : u.hostname}:${u.port || 80}`;
  if (cause?.code === "ECONNREFUSED")
    return `${method} "${url}": dial tcp ${host}: connect: connection refused`;
  if ((error as Error).name === "TimeoutError")
    return `${method} "${url}": context deadline exceeded (Client.Timeout exceeded while awaiting headers)`;
  return `${method} "${url}": ${(error as Error).message}`;
}

async function httpJson(
  method: "GET" | "POST",
  url: string,
  o: Options,
  init: { headers?: Record<string, string>; form?: URLSearchParams; logOnFailure?: string } = {},
): Promise<HttpAnswer> {
  let response: Response;
  try {
    response = await fetch(url, {
      method,
      headers: init.headers,
      body: init.form?.toString(),
      signal: AbortSignal.timeout(o.httpTimeoutMs),
    });
  } catch (error) {
    log(init.logOnFailure ?? "");
    fail(goHttpError(method === "GET" ? "Get" : "Post", url, error));
  }
  const text = await response.text();
  try {
    return { status: response.status, body: JSON.parse(text) };
  } catch {
    log(init.logOnFailure ?? "");
    const reason = response.ok ? "" : ` (${response.statusText})`;
    fail(
      `failed to parse error response${reason}: invalid character '${text[0] ?? ""}' looking for beginning of value`,
    );
  }
}

/** A real discovery request; oauth2c logs it (normal mode) only when it fails. */
async function discoverLocal(issuer: string, o: Options): Promise<Partial<Endpoints>> {
  const wellKnown = `${issuer}/.well-known/openid-configuration`;
  const request = `GET ${wellKnown}\n\n`;
  const answer = await httpJson("GET", wellKnown, o, { logOnFailure: request });
  if (answer.status >= 400) {
    log(request);
    fail(`${answer.status}: ${String(answer.body.error)}`);
  }
  return answer.body as Partial<Endpoints>;
}

function entraEndpoints(issuer: string): Endpoints {
  const base = issuer.replace(/\/v2\.0$/, "");
  return {
    authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
    token_endpoint: `${base}/oauth2/v2.0/token`,
    device_authorization_endpoint: `${base}/oauth2/v2.0/devicecode`,
  };
}

async function discover(o: Options): Promise<Endpoints> {
  const issuer = o.issuer.replace(/\/\.well-known\/openid-configuration$/, "").replace(/\/$/, "");
  const given = o.endpoints;
  const explicit =
    given.authorization_endpoint || given.token_endpoint || given.device_authorization_endpoint;
  const found: Partial<Endpoints> = explicit
    ? {}
    : isLocal(new URL(issuer))
      ? await discoverLocal(issuer, o)
      : entraEndpoints(issuer);
  return {
    authorization_endpoint: given.authorization_endpoint ?? found.authorization_endpoint ?? "",
    token_endpoint: given.token_endpoint ?? found.token_endpoint ?? "",
    device_authorization_endpoint:
      given.device_authorization_endpoint ?? found.device_authorization_endpoint ?? "",
  };
}

/** The offline Entra: token and device endpoints for the grants a migration can use. */
class EmulatedEntra {
  private pendingPolls = Number(env.OAUTH2C_DOUBLE_DEVICE_PENDING ?? 2);
  private readonly ttlSec = Number(env.OAUTH2C_DOUBLE_TOKEN_TTL ?? 3599);
  private readonly tid: string;

  constructor(issuer: string) {
    this.tid = new URL(issuer).pathname.split("/")[1] || "common";
  }

  answer(url: string, headers: Record<string, string>, form: URLSearchParams): HttpAnswer {
    const basic = headers.Authorization?.replace(/^Basic /, "");
    const [basicId, basicSecret] = basic
      ? Buffer.from(basic, "base64").toString().split(":")
      : [undefined, undefined];
    const clientId = basicId ?? form.get("client_id");
    const secret = basicSecret ?? form.get("client_secret");
    const error = (status: number, code: string, description: string): HttpAnswer => ({
      status,
      body: { error: code, error_description: description },
    });
    if (!clientId)
      return error(
        400,
        "invalid_request",
        "AADSTS900144: The request body must contain client_id.",
      );
    if (url.endsWith("/devicecode"))
      return {
        status: 200,
        body: {
          device_code: randomUUID(),
          user_code: randomString(8).toUpperCase(),
          verification_uri: "https://microsoft.com/devicelogin",
          expires_in: 900,
          interval: 1,
          message: "To sign in, use a web browser to open https://microsoft.com/devicelogin.",
        },
      };
    const grant = form.get("grant_type");
    if (grant === "client_credentials") {
      const expected = env.OAUTH2C_DOUBLE_SECRET;
      if (!secret || (expected !== undefined && secret !== expected))
        return error(401, "invalid_client", "AADSTS7000215: Invalid client secret provided.");
      const token = mintAccessToken({
        tid: this.tid,
        appId: clientId,
        ttlSec: this.ttlSec,
        roles: ["IMAP.AccessAsApp"],
      });
      recordToken(token, clientId);
      return {
        status: 200,
        body: { token_type: "Bearer", expires_in: this.ttlSec, access_token: token },
      };
    }
    if (grant === DEVICE_GRANT) {
      if (this.pendingPolls-- > 0)
        return error(400, "authorization_pending", "AADSTS70016: OAuth 2.0 device flow error.");
      const upn = env.OAUTH2C_DOUBLE_DEVICE_USER ?? "user@example.com";
      const token = mintAccessToken({ tid: this.tid, appId: clientId, ttlSec: this.ttlSec, upn });
      recordToken(token, upn);
      const idClaims = { aud: clientId, preferred_username: upn, tid: this.tid };
      const idToken = [{ typ: "JWT", alg: "none" }, idClaims, "sig"]
        .map((part) => Buffer.from(JSON.stringify(part)).toString("base64url"))
        .join(".");
      return {
        status: 200,
        body: {
          token_type: "Bearer",
          scope: DELEGATED_SCOPE,
          expires_in: this.ttlSec,
          access_token: token,
          refresh_token: `1.refresh-${randomUUID()}`,
          id_token: idToken,
        },
      };
    }
    return error(400, "unsupported_grant_type", "AADSTS70003: unsupported grant type.");
  }
}

/** A token endpoint request with oauth2c's client authentication, and how oauth2c logs it. */
async function tokenRequest(
  o: Options,
  url: string,
  form: URLSearchParams,
): Promise<{ answer: HttpAnswer; dump: () => void }> {
  const headers: Record<string, string> = { "Content-Type": "application/x-www-form-urlencoded" };
  if (o.authMethod === "client_secret_basic")
    headers.Authorization = `Basic ${Buffer.from(`${o.clientId}:${o.clientSecret}`).toString("base64")}`;
  if (o.authMethod === "client_secret_post") {
    form.set("client_id", o.clientId);
    form.set("client_secret", o.clientSecret);
  }
  if (o.authMethod === "none") {
    form.set("client_id", o.clientId);
    if (!o.noOrigin) headers.Origin = new URL(o.redirectUrl).origin;
  }
  const answer = isLocal(new URL(url))
    ? await httpJson("POST", url, o, { headers, form })
    : entra!.answer(url, headers, form);
  const dump = () => {
    logLines(`POST ${url}`);
    logLines("Headers:");
    for (const [k, v] of Object.entries(headers)) logLines(`  ${k}: ${v}`);
    logLines("Form post:");
    for (const [k, v] of form) logLines(`  ${k}: ${v}`);
    logLines("Response:");
    logLines(colouredJson(answer.body));
  };
  return { answer, dump };
}

function tokenError(answer: HttpAnswer): string {
  return `${answer.status}: ${String(answer.body.error)}`;
}

let entra: EmulatedEntra | undefined;

// ---------------------------------------------------------------- browser and callback

const OPENERS = ["xdg-open", "x-www-browser", "www-browser", "wslview"];

async function isExecutable(file: string): Promise<boolean> {
  try {
    await access(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** oauth2c runs the first opener on PATH and waits for it; its output lands on oauth2c's stderr. */
async function openBrowser(o: Options, url: string): Promise<void> {
  if (o.noBrowser) return;
  log("Opening browser...\n");
  const dirs = (env.PATH ?? "").split(path.delimiter).filter(Boolean);
  let opener: string | undefined;
  for (const name of OPENERS) {
    for (const dir of dirs) {
      const candidate = path.join(dir, name);
      if (await isExecutable(candidate)) {
        opener = candidate;
        break;
      }
    }
    if (opener) break;
  }
  if (!opener) {
    errorLine(`exec: "${OPENERS.join(",")}": executable file not found in $PATH`);
    return;
  }
  const result = await execa(opener, [url], {
    stdin: "ignore",
    stdout: silent ? "ignore" : 2,
    stderr: 2,
    reject: false,
  });
  if (result.exitCode !== 0) errorLine(`exit status ${result.exitCode}`);
}

function showUrl(o: Options, url: string): void {
  if (!silent) log(`\nGo to the following URL:\n\n${url}\n\n`);
  // v1.19.0-4 (PR #147): the only way to see the URL in silent mode.
  else if (o.noBrowser && atLeast(1, 19, 0, 4)) process.stderr.write(`${url}\n`);
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const urlencoded = (req.headers["content-type"] ?? "").startsWith(
    "application/x-www-form-urlencoded",
  );
  // Only a form body counts: query parameters and fragments never reach the token.
  return req.method === "POST" && urlencoded
    ? new URLSearchParams(Buffer.concat(chunks).toString("utf8"))
    : new URLSearchParams();
}

function reply(res: ServerResponse, ok: boolean): void {
  const body = `<script>window.close()</script> Authorization ${ok ? "succeeded" : "failed"}. You may close this window.`;
  res.writeHead(ok ? 200 : 400, { "Content-Type": "text/html" }).end(body);
}

/** Listens where the browser will post, lets the first request to the path win. */
function waitForCallback(o: Options): Promise<URLSearchParams> {
  const redirect = new URL(o.redirectUrl);
  const [host, port] = o.callbackAddr
    ? [o.callbackAddr.replace(/:\d+$/, ""), Number(/:(\d+)$/.exec(o.callbackAddr)?.[1])]
    : [redirect.hostname === "localhost" ? "127.0.0.1" : redirect.hostname, Number(redirect.port)];
  return new Promise((resolve) => {
    let done = false;
    const server = createServer((req, res) => {
      const pathname = new URL(req.url ?? "/", "http://x").pathname;
      if (pathname !== redirect.pathname) {
        res.writeHead(404, {
          "Content-Type": "text/plain; charset=utf-8",
          "X-Content-Type-Options": "nosniff",
        });
        res.end("404 page not found\n");
        return;
      }
      void readForm(req).then((form) => {
        reply(res, !form.has("error"));
        if (done) return;
        done = true;
        clearTimeout(timer);
        stopSpinner();
        logLines(`${req.method} ${pathname}`);
        if ([...form].length > 0) logLines("Form post:");
        for (const [k, v] of form) logLines(`  ${k}: ${v}`);
        // The server shuts down about a second later; then oauth2c exits.
        setTimeout(() => server.close(), 1000);
        resolve(form);
      });
    });
    server.on("error", (error: NodeJS.ErrnoException) => {
      const why = error.code === "EADDRINUSE" ? "address already in use" : "permission denied";
      fail(`listen tcp ${host || "0.0.0.0"}:${port}: bind: ${why}`);
    });
    const timer = setTimeout(() => fail("timeout"), o.browserTimeoutMs);
    server.listen(port, host || undefined, () =>
      startSpinner("Waiting for callback. Go to the browser to authenticate..."),
    );
  });
}

// ---------------------------------------------------------------- flows

/**
 * The browser round trip of the implicit and authorization code grants: the authorize URL (keys
 * sorted, as oauth2c builds it), shown and opened, then the first callback. An `error` in the
 * callback ends the run (exit 1, about a second later); otherwise its fields are returned.
 */
async function browserRoundTrip(
  o: Options,
  endpoints: Endpoints,
  extra: Record<string, string> = {},
): Promise<URLSearchParams | undefined> {
  const query: Record<string, string> = {
    client_id: o.clientId,
    ...extra,
    login_hint: o.loginHint,
    nonce: randomString(22),
    redirect_uri: o.redirectUrl,
    response_mode: o.responseMode,
    response_type: o.responseTypes.join(" "),
    scope: o.scopes.join(" "),
    state: randomString(22),
  };
  const params = new URLSearchParams(Object.entries(query).filter(([, v]) => v !== ""));
  const url = `${endpoints.authorization_endpoint}?${params}`;
  log(`# Request authorization\n\nGET ${endpoints.authorization_endpoint}\nQuery params:\n`);
  for (const [k, v] of params) log(`  ${k}: ${v}\n`);
  showUrl(o, url);
  await openBrowser(o, url);
  log("\n");
  const form = await waitForCallback(o);
  const error = form.get("error");
  if (!error) return form;
  logLines("");
  errorLine(error);
  setTimeout(() => process.exit(1), 1000);
  return undefined;
}

async function implicitFlow(o: Options, endpoints: Endpoints): Promise<void> {
  banner(o, "Implicit Flow");
  const form = await browserRoundTrip(o, endpoints);
  if (!form) return;
  const token = Object.fromEntries(form);
  logTokens(token);
  succeed(token, "Obtained authorization", 1000);
}

/**
 * Authorization code (fixture authcode_pkce_formpost_silent): the same browser round trip as the
 * implicit grant, then oauth2c redeems the code itself at the token endpoint, with the PKCE
 * verifier when `--pkce` is given. Only real (local) identity providers are asked; the offline
 * Entra has no authorization endpoint to issue codes.
 */
async function authorizationCodeFlow(o: Options, endpoints: Endpoints): Promise<void> {
  banner(o, "Authorization Code Flow");
  const verifier = randomString(43);
  const pkce = {
    code_challenge: createHash("sha256").update(verifier).digest("base64url"),
    code_challenge_method: "S256",
  };
  const callback = await browserRoundTrip(o, endpoints, o.pkce ? pkce : {});
  if (!callback) return;
  log("\n# Exchange authorization code for token\n\n");
  const form = new URLSearchParams({
    grant_type: "authorization_code",
    code: callback.get("code") ?? "",
    redirect_uri: o.redirectUrl,
  });
  if (o.pkce) form.set("code_verifier", verifier);
  const { answer, dump } = await tokenRequest(o, endpoints.token_endpoint, form);
  dump();
  if (answer.status >= 400) fail(tokenError(answer));
  logTokens(answer.body);
  succeed(answer.body, "Exchanged authorization code for access token", 1000);
}

async function clientCredentialsFlow(o: Options, endpoints: Endpoints): Promise<void> {
  banner(o, "Client Credentials Flow");
  log("# Request authorization\n\n");
  startSpinner("Requesting authorization");
  const form = new URLSearchParams({ grant_type: "client_credentials" });
  if (o.scopes.length) form.set("scope", o.scopes.join(" "));
  const { answer, dump } = await tokenRequest(o, endpoints.token_endpoint, form);
  stopSpinner();
  dump();
  if (answer.status >= 400) {
    logLines("");
    fail(tokenError(answer));
  }
  logTokens(answer.body);
  succeed(answer.body, "Authorization completed");
}

async function deviceFlow(o: Options, endpoints: Endpoints): Promise<void> {
  banner(o, "Device Flow");
  log("# Request device authorization\n\n");
  const form = new URLSearchParams({ client_id: o.clientId });
  if (o.scopes.length) form.set("scope", o.scopes.join(" "));
  log(`POST ${endpoints.device_authorization_endpoint}\nHeaders:\n`);
  log("  Content-Type: application/x-www-form-urlencoded\nForm post:\n");
  for (const [k, v] of form) log(`  ${k}: ${v}\n`);
  const url = endpoints.device_authorization_endpoint;
  const headers = { "Content-Type": "application/x-www-form-urlencoded" };
  const device = isLocal(new URL(url))
    ? await httpJson("POST", url, o, { headers, form })
    : entra!.answer(url, headers, form);
  if (device.status >= 400) fail(tokenError(device));
  const { device_code, user_code, verification_uri, verification_uri_complete, expires_in } =
    device.body;
  const interval = device.body.interval;
  // oauth2c's struct drops Entra's `message`, so the user code is only inside this dump (§8).
  const dumped = {
    device_code,
    user_code,
    verification_uri,
    verification_uri_complete: verification_uri_complete ?? null,
    expires_in,
    interval,
  };
  log(`Response:\n${colouredJson(dumped)}\n`);
  const shown = String(verification_uri_complete ?? verification_uri ?? "");
  showUrl(o, shown);
  await openBrowser(o, shown);
  log("\n");
  startSpinner("Waiting for token. Go to the browser to authenticate...");
  const everyMs = Number(interval ?? 5) * 1000;
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, everyMs));
    const poll = new URLSearchParams({
      grant_type: DEVICE_GRANT,
      device_code: String(device_code),
    });
    // Pending polls leave no trace; only the final exchange is logged.
    const { answer, dump } = await tokenRequest(o, endpoints.token_endpoint, poll);
    const error = answer.body.error;
    if (error === "authorization_pending" || error === "slow_down") continue;
    stopSpinner();
    log("\n# Exchange device code for token\n\n");
    dump();
    if (answer.status >= 400) fail(tokenError(answer));
    logTokens(answer.body);
    succeed(answer.body, "Obtained token");
    return;
  }
}

// ---------------------------------------------------------------- main

async function main(argv: string[]): Promise<void> {
  if (env.OAUTH2C_DOUBLE_LOG)
    appendFileSync(
      env.OAUTH2C_DOUBLE_LOG,
      `${JSON.stringify({ argv, noColor: env.NO_COLOR ?? null })}\n`,
    );
  if (argv[0] === "version") {
    process.stderr.write(VERSION_LINE);
    return;
  }
  let parsed: ReturnType<typeof parseArgv>;
  try {
    parsed = parseArgv(argv);
    if (parsed.values.get("help") === true) {
      process.stdout.write(HELP);
      return;
    }
    if (parsed.positional.length !== 1)
      throw new UsageError(`accepts 1 arg(s), received ${parsed.positional.length}`);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    const usage = HELP.slice(HELP.indexOf("Usage:"));
    process.stderr.write(`Error: ${error.message}\n${usage}\n${error.message}\n`);
    process.exit(1);
  }
  const o = options(parsed.positional[0]!, parsed.values);
  silent = o.silent;
  for (const signal of ["SIGTERM", "SIGINT"] as const)
    process.on(signal, () => fail("Interrupted"));
  await askMissing(o);
  const invalid = validationError(o);
  if (invalid) fail(invalid);
  entra = new EmulatedEntra(o.issuer);
  const endpoints = await discover(o);
  if (o.grantType === "implicit") return implicitFlow(o, endpoints);
  if (o.grantType === "client_credentials") return clientCredentialsFlow(o, endpoints);
  if (o.grantType === DEVICE_GRANT) return deviceFlow(o, endpoints);
  if (o.grantType === "authorization_code") return authorizationCodeFlow(o, endpoints);
  fail(`the oauth2c test double does not emulate the ${o.grantType} grant`);
}

await main(process.argv.slice(2));
