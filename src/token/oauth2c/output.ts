// What oauth2c prints, read without side effects: its stdout (token or ERROR lines), its stderr
// as it streams (sign-in URL, user code, usage errors), its version, and how a run ended.
import { StringDecoder } from "node:string_decoder";
import { z } from "zod";
import { TokenError } from "../../errors.js";
import {
  explainOauth2cError,
  isTransient,
  type FailureContext,
  type TokenResponse,
} from "../entra.js";

const ANSI = /\x1b\[[0-9;?]*[A-Za-z]/g; // eslint-disable-line no-control-regex
const ERROR_LINE = /^\s*ERROR\s+(.*)$/;

/** What stays visible of a line on a terminal: colours removed, spinner frames (`\r`) overwritten. */
function visibleText(line: string): string {
  const text = line.replace(ANSI, "").replace(/\r$/, "");
  return text.slice(text.lastIndexOf("\r") + 1);
}

function visibleLines(text: string): string[] {
  return text
    .split("\n")
    .map(visibleText)
    .filter((line) => line.trim() !== "");
}

const tokenResponseSchema = z.object({
  access_token: z.string().min(1),
  // oauth2c ≥ 1.17.1 always prints a number; a numeric string costs nothing to accept.
  expires_in: z.coerce.number().int().nonnegative().optional(),
  scope: z.string().optional(),
  token_type: z.string().optional(),
  refresh_token: z.string().optional(),
  id_token: z.string().optional(),
});

/**
 * Reads oauth2c's stdout (parsing recipe of oauth2c.md §3). `errors` holds every ERROR message in
 * order, the last being the failure reason; `{}` or a JSON line without an access token gives no
 * token even though oauth2c exited 0.
 */
export function parseOauth2cStdout(stdout: string): { token?: TokenResponse; errors: string[] } {
  const lines = visibleLines(stdout);
  const errors = lines.flatMap((line) => {
    const m = ERROR_LINE.exec(line);
    return m?.[1] !== undefined ? [m[1].trim()] : [];
  });
  const json = lines.filter((line) => line.startsWith("{")).at(-1);
  if (json === undefined) return { errors };
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    return { errors };
  }
  const token = tokenResponseSchema.safeParse(parsed);
  return token.success ? { token: stripUndefined(token.data), errors } : { errors };
}

function stripUndefined(t: TokenResponse): TokenResponse {
  return Object.fromEntries(
    Object.entries(t).filter(([, v]) => v !== undefined),
  ) as unknown as TokenResponse;
}

const URL_MARKER = "Go to the following URL:";
/** No URL or usage line is this long; anything longer is a dump we do not need. */
const MAX_PENDING = 64 * 1024;
/** A line of the device authorization response dump: `  "user_code": "ABCD1234",`. */
const USER_CODE = /^\s*"user_code":\s*"([^"\s]+)"/;
const UNKNOWN_FLAG = /^Error: (unknown (?:shorthand )?flag: (?:-{1,2}[\w-]+|'\w' in -\w+))$/;

/**
 * Watches oauth2c's stderr as it streams and keeps only the visible part of the current line:
 * stderr carries the client secret and the token, so nothing else is retained. Finds the sign-in
 * URL (the line after `Go to the following URL:` and a blank line) and an "unknown flag" usage
 * error, whose text is made of flag names only.
 */
export class Oauth2cStderrScanner {
  url?: string;
  /** Device code grant: the code the person types at the verification URL. */
  userCode?: string;
  unknownFlag?: string;
  private pending = "";
  private readonly decoder = new StringDecoder("utf8");
  private expecting: "marker" | "blank" | "url" = "marker";

  push(chunk: Buffer | string): void {
    this.pending += typeof chunk === "string" ? chunk : this.decoder.write(chunk);
    let newline: number;
    while ((newline = this.pending.indexOf("\n")) !== -1) {
      this.line(visibleText(this.pending.slice(0, newline)));
      this.pending = this.pending.slice(newline + 1);
    }
    // A spinner redraws one line with \r for as long as oauth2c waits: drop what it overwrote.
    const cr = this.pending.lastIndexOf("\r", this.pending.length - 2);
    if (cr !== -1) this.pending = this.pending.slice(cr + 1);
    if (this.pending.length > MAX_PENDING) this.pending = "";
  }

  end(): void {
    this.pending += this.decoder.end();
    if (this.pending !== "") this.line(visibleText(this.pending));
    this.pending = "";
  }

  private line(line: string): void {
    this.unknownFlag ??= UNKNOWN_FLAG.exec(line)?.[1];
    this.userCode ??= USER_CODE.exec(line)?.[1];
    if (this.url !== undefined) return;
    const text = line.trim();
    if (text === URL_MARKER) this.expecting = "blank";
    else if (this.expecting === "blank") this.expecting = text === "" ? "url" : "marker";
    else if (this.expecting === "url") {
      // oauth2c v1.17.x prints an empty URL for Entra's device flow: no URL beats a wrong one.
      if (/^https?:\/\/\S+$/.test(text)) this.url = text;
      this.expecting = "marker";
    }
  }
}

/** The sign-in URL in (a piece of) oauth2c's normal-mode stderr, if it is there. */
export function findSignInUrl(stderrText: string): string | undefined {
  const scanner = new Oauth2cStderrScanner();
  scanner.push(stderrText);
  scanner.end();
  return scanner.url;
}

/** How an oauth2c run ended: its stdout and the one harmless fact taken from its stderr. */
export interface Oauth2cRun {
  exitCode?: number;
  signal?: string;
  stdout: string;
  /** The flag named by an "unknown flag" usage error (an oauth2c older than we need). */
  unknownFlag?: string;
}

/**
 * Success is exit 0 with a non-empty access token; anything else becomes a TokenError built
 * from oauth2c's last ERROR line (stdout) and what to do about it.
 */
export function interpretOauth2cRun(run: Oauth2cRun, ctx: FailureContext = {}): TokenResponse {
  if (run.unknownFlag !== undefined)
    throw new TokenError(
      `This oauth2c does not know an option m365-imapsync needs (${run.unknownFlag}). Install oauth2c v1.19.0 or newer (at least v1.17.2).`,
    );
  const { token, errors } = parseOauth2cStdout(run.stdout);
  if (run.exitCode === 0 && token) return token;
  const reason = errors.at(-1);
  if (reason !== undefined)
    throw new TokenError(explainOauth2cError(reason, ctx), { transient: isTransient(reason) });
  if (run.exitCode === 0)
    throw new TokenError(
      "The sign-in callback arrived without an access token (oauth2c printed {}). The token must be posted to the callback: keep --response-mode form_post and complete the sign-in in the browser that opened the URL.",
    );
  if (run.exitCode === 2)
    throw new TokenError(
      "oauth2c crashed (exit status 2). Install oauth2c v1.19.0 or newer and run the command again.",
    );
  const how = run.signal ? `was killed by ${run.signal}` : `failed (exit ${run.exitCode})`;
  throw new TokenError(
    `oauth2c ${how} without an error message. Check it with \`oauth2c version\` and run the command again.`,
  );
}

export interface Oauth2cVersion {
  version: string;
  commit: string;
  builtAt: string;
}

const VERSION_LINE =
  /^oauth2c version (?<version>v?\S+) \(commit (?<commit>\w+), built at (?<builtAt>[^)]*)\)$/m;

/** `oauth2c version` prints on stderr (stdout stays empty). */
export function parseOauth2cVersion(stderr: string): Oauth2cVersion | undefined {
  const g = VERSION_LINE.exec(stderr)?.groups;
  return g ? { version: g.version!, commit: g.commit!, builtAt: g.builtAt! } : undefined;
}

/** What the installed release can do (oauth2c.md §1). */
export interface Oauth2cFeatures {
  /** `--callback-addr`, v1.19.0. */
  callbackAddr: boolean;
  /** `--no-origin`, v1.18.0. */
  noOrigin: boolean;
}

/** Compares `v1.19.0-4-g9db96f9` (a tag plus commits) or `1.18.0` with a release. */
function atLeast(version: string, wanted: [number, number, number]): boolean {
  const got = (/(\d+)\.(\d+)\.(\d+)/.exec(version) ?? []).slice(1).map(Number);
  for (let i = 0; i < 3; i++) {
    const mine = got[i] ?? 0;
    if (mine !== wanted[i]) return mine > wanted[i]!;
  }
  return true;
}

export function oauth2cFeatures(version: string): Oauth2cFeatures {
  return { callbackAddr: atLeast(version, [1, 19, 0]), noOrigin: atLeast(version, [1, 18, 0]) };
}
