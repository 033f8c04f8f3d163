// Everything that knows how oauth2c is called and what it prints (reference: oauth2c.md §3-§7, §11).
import { createServer } from "node:net";
import { StringDecoder } from "node:string_decoder";
import { execa } from "execa";
import { z } from "zod";
import { TokenError } from "./errors.js";
import { childEnv } from "./secrets.js";
import type { Command } from "./types.js";

/** The token response oauth2c prints as its last stdout line (keys it never prints are absent). */
export interface TokenResponse {
  access_token: string;
  expires_in?: number;
  scope?: string;
  token_type?: string;
  refresh_token?: string;
  id_token?: string;
}

/** `.default` asks for every Exchange Online permission the app was granted (microsoft-365.md §3). */
export const EXCHANGE_DEFAULT_SCOPE = "https://outlook.office365.com/.default";
/**
 * Grants with a refresh token: `offline_access` brings it; `openid` is what a standard OpenID
 * provider demands on its authorization endpoint (Entra accepts it; fixture authcode_pkce_*).
 */
export const OFFLINE_SCOPES = ["openid", "offline_access", EXCHANGE_DEFAULT_SCOPE] as const;
export const DEVICE_GRANT_TYPE = "urn:ietf:params:oauth:grant-type:device_code";

export function callbackUrl(port: number): string {
  return `http://localhost:${port}/callback`;
}

export function defaultAuthorityUrl(tenantId: string): string {
  return `https://login.microsoftonline.com/${tenantId}/v2.0`;
}

export interface ImplicitParams {
  authorityUrl: string;
  appId: string;
  loginHint: string;
  scope?: string;
  callbackPort: number;
  /** `host:port` the callback listens on; the redirect URI stays on localhost (oauth2c >= 1.19). */
  callbackAddr?: string;
  browserTimeoutSec: number;
  /** Let oauth2c run a browser opener; off by default because we show the URL ourselves. */
  openBrowser: boolean;
}

/** The same browser sign-in, for the authorization code grant. */
export interface AuthCodeParams extends Omit<ImplicitParams, "scope"> {
  /** oauth2c >= 1.18: drop the Origin header that Entra refuses for a non-SPA client. */
  noOrigin: boolean;
}

/**
 * argv for the authorization code grant with PKCE, as a public client (`--auth-method none`): no
 * secret exists to leak, and the code is redeemed by oauth2c itself. The refresh token that comes
 * with `offline_access` is then used in-process, never on a command line.
 */
export function authCodeArgs(p: AuthCodeParams): string[] {
  return [
    p.authorityUrl,
    "--client-id",
    p.appId,
    "--scopes",
    OFFLINE_SCOPES.join(","),
    "--login-hint",
    p.loginHint,
    "--grant-type",
    "authorization_code",
    "--auth-method",
    "none",
    ...(p.noOrigin ? ["--no-origin"] : []),
    "--pkce",
    "--response-mode",
    "form_post",
    "--response-types",
    "code",
    ...callbackArgs(p),
  ];
}

/** Where the browser's form post arrives and how long oauth2c waits for it. */
function callbackArgs(p: ImplicitParams): string[] {
  return [
    "--redirect-url",
    callbackUrl(p.callbackPort),
    ...(p.callbackAddr ? ["--callback-addr", p.callbackAddr] : []),
    "--browser-timeout",
    `${p.browserTimeoutSec}s`,
    "--no-prompt",
    ...(p.openBrowser ? [] : ["--no-browser"]),
  ];
}

export interface DeviceCodeParams {
  authorityUrl: string;
  appId: string;
  noOrigin: boolean;
  openBrowser: boolean;
}

/**
 * argv for the device code grant. Not `--silent`: oauth2c shows Entra's user code only inside the
 * JSON dump of its normal-mode stderr (oauth2c.md §8), which the stderr scanner digs it out of.
 * `--auth-method none` sends the client id on the token request (without it: invalid_request).
 */
export function deviceCodeArgs(p: DeviceCodeParams): string[] {
  return [
    p.authorityUrl,
    "--client-id",
    p.appId,
    "--scopes",
    OFFLINE_SCOPES.join(","),
    "--grant-type",
    DEVICE_GRANT_TYPE,
    "--auth-method",
    "none",
    ...(p.noOrigin ? ["--no-origin"] : []),
    "--no-prompt",
    ...(p.openBrowser ? [] : ["--no-browser"]),
  ];
}

/**
 * argv for the implicit grant. Deliberately absent: `--client-secret`/`--auth-method` (implicit
 * never calls the token endpoint; oauth2c would only print the secret on stderr) and `--silent`
 * (it hides the sign-in URL). `--no-prompt` is mandatory: a missing value would otherwise make
 * oauth2c wait forever in a prompt, even with stdin closed.
 */
export function implicitArgs(p: ImplicitParams): string[] {
  return [
    p.authorityUrl,
    "--client-id",
    p.appId,
    "--scopes",
    p.scope ?? EXCHANGE_DEFAULT_SCOPE,
    "--login-hint",
    p.loginHint,
    "--grant-type",
    "implicit",
    "--response-mode",
    "form_post",
    "--response-types",
    "token",
    ...callbackArgs(p),
  ];
}

/**
 * Our secrets that oauth2c must never receive, not even in its environment: it gets its inputs as
 * arguments, and the grants that need a secret or a refresh token run in-process.
 */
const OAUTH2C_NEVER_NEEDS = /^(APP_SECRET|IMAPSYNC_PASSWORD\d)$/;

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

/** Facts the explanation of a failure needs (none of them secret). */
export interface FailureContext {
  timeoutSec?: number;
  callbackPort?: number;
  authorityUrl?: string;
}

/** One sentence for an ERROR message of oauth2c: what happened and what to do. */
export function explainOauth2cError(message: string, ctx: FailureContext = {}): string {
  const port = ctx.callbackPort ?? 9876;
  const quoted = `(oauth2c: ${message})`;
  if (message === "unsupported_response_type")
    return `Microsoft Entra refused the implicit grant ${quoted}. In the app registration (APP_ID) open Authentication, enable "Access tokens (used for implicit flows)" and add ${callbackUrl(port)} as a Web redirect URI, then run the command again.`;
  if (message === "access_denied")
    return `The sign-in was cancelled or the requested permissions were declined ${quoted}. Run the command again, sign in as the admin named in LOGIN_HINT and accept; if consent is blocked, an administrator must grant admin consent to the app.`;
  if (/^(\d+: )?invalid_request$/.test(message))
    return `Microsoft Entra refused the sign-in request ${quoted}. Check APP_ID and that ${callbackUrl(port)} is a Web redirect URI of the app registration.`;
  if (/^(\d+: )?(invalid_client|unauthorized_client)$/.test(message))
    return `Microsoft Entra does not accept this application ${quoted}. Check APP_ID (and APP_SECRET where a secret is used) against the app registration.`;
  if (/^(\d+: )?invalid_grant$/.test(message))
    return `The identity provider refused the grant ${quoted}: a refresh token that was already used, revoked or expired, or a sign-in code that was already redeemed. Sign in again with \`m365-imapsync token\`.`;
  if (/^(\d+: )?(expired_token|authorization_declined)$/.test(message))
    return `The device code sign-in was not completed ${quoted}. Run the command again, open the URL it shows and enter the code before it expires.`;
  if (message === "timeout")
    return `Nobody completed the sign-in within ${ctx.timeoutSec ?? "the allowed"} seconds ${quoted}. Run the command again and open the URL it shows in a browser that can reach localhost:${port}.`;
  if (message === "Interrupted") return `The sign-in was interrupted ${quoted}.`;
  if (/bind: address already in use/.test(message))
    return `Port ${port} for the sign-in callback is already in use ${quoted}: another sign-in or program is listening there. Stop it (find it with \`ss -ltnp 'sport = :${port}'\`) or choose another CALLBACK_PORT that is also registered as a redirect URI.`;
  if (
    /openid-configuration|dial tcp|no such host|Client\.Timeout|failed to parse error response/.test(
      message,
    )
  )
    return `oauth2c could not read the sign-in configuration of ${ctx.authorityUrl ?? "the authority"} ${quoted}. Check TENANT_ID (or AUTHORITY_URL), the network and any HTTPS_PROXY setting.`;
  if (/must be one of/.test(message))
    return `oauth2c refused an argument ${quoted}. Check that oauth2c is v1.17.2 or newer (\`oauth2c version\`).`;
  return `oauth2c could not obtain a token ${quoted}. Run the command again; if it fails the same way, check the app registration (APP_ID) and the account in LOGIN_HINT.`;
}

export interface RunOptions extends FailureContext {
  /** Our own kill timer, a little longer than oauth2c's `--browser-timeout`. */
  timeoutMs: number;
  /** Called once the URL is known; with the user code too in the device code grant. */
  onSignInUrl?: (url: string, userCode?: string) => void;
  signal?: AbortSignal;
}

/**
 * Runs oauth2c and returns the token it printed, or throws a TokenError that says what to do.
 * stderr is scanned for the sign-in URL while it streams and is never kept, shown nor logged.
 */
export async function runOauth2c(
  cmd: Command,
  args: string[],
  opts: RunOptions,
): Promise<TokenResponse> {
  const child = execa(cmd.file, [...cmd.args, ...args], {
    stdin: "ignore",
    env: childEnv(OAUTH2C_NEVER_NEEDS, { NO_COLOR: "1" }),
    extendEnv: false,
    timeout: opts.timeoutMs,
    cancelSignal: opts.signal,
    forceKillAfterDelay: 2000,
    buffer: { stdout: true, stderr: false },
    maxBuffer: { stdout: 1024 * 1024 },
    reject: false,
  });
  const scanner = new Oauth2cStderrScanner();
  const stderrDone = (async () => {
    let announced = false;
    for await (const chunk of child.stderr) {
      scanner.push(chunk as Buffer);
      if (scanner.url !== undefined && !announced) {
        announced = true;
        opts.onSignInUrl?.(scanner.url, scanner.userCode);
      }
    }
    scanner.end();
  })();
  const result = await child;
  await stderrDone;

  if (result.timedOut)
    throw new TokenError(
      `oauth2c did not finish within ${Math.round(opts.timeoutMs / 1000)} seconds and was stopped. Run the command again and complete the sign-in in time.`,
      { transient: true },
    );
  if (result.isCanceled) throw new TokenError("The sign-in was cancelled.");
  if (result.code === "ENOENT")
    throw new TokenError(
      `oauth2c was not found (${cmd.file}). Install it from https://github.com/SecureAuthCorp/oauth2c/releases and put it on PATH, or set OAUTH2C_BIN (--oauth2c-bin) to its path.`,
    );
  return interpretOauth2cRun(
    {
      exitCode: result.exitCode,
      signal: result.signal,
      stdout: String(result.stdout ?? ""),
      unknownFlag: scanner.unknownFlag,
    },
    opts,
  );
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

/**
 * Failures that can go away by themselves: nobody signed in yet, the identity provider is
 * unreachable, slow or failing. Refused credentials or grants need a person to change something.
 */
export function isTransient(message: string): boolean {
  return /^timeout$|dial tcp|no such host|Client\.Timeout|^5\d\d: |temporarily_unavailable|slow_down/.test(
    message,
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

export async function oauth2cVersion(cmd: Command): Promise<Oauth2cVersion> {
  const result = await execa(cmd.file, [...cmd.args, "version"], {
    stdin: "ignore",
    env: childEnv(OAUTH2C_NEVER_NEEDS, { NO_COLOR: "1" }),
    extendEnv: false,
    timeout: 10_000,
    reject: false,
  });
  const version = parseOauth2cVersion(String(result.stderr ?? ""));
  if (result.exitCode === 0 && version) return version;
  throw new TokenError(
    `\`${cmd.file} version\` did not answer like oauth2c. Install oauth2c from https://github.com/SecureAuthCorp/oauth2c/releases and put it on PATH, or set OAUTH2C_BIN (--oauth2c-bin) to its path.`,
  );
}

/**
 * oauth2c binds the callback only after printing the URL, and then fails at once; checking first
 * keeps a person from signing in for nothing. oauth2c listens on 127.0.0.1 for `localhost`.
 */
export async function assertCallbackPortFree(port: number): Promise<void> {
  const error = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
    const server = createServer();
    server.once("error", resolve);
    server.listen({ port, host: "127.0.0.1", exclusive: true }, () =>
      server.close(() => resolve(undefined)),
    );
  });
  if (!error) return;
  if (error.code === "EADDRINUSE")
    throw new TokenError(
      `Port ${port} on 127.0.0.1, where the sign-in callback must arrive, is already in use: another sign-in (m365-imapsync or oauth2c) or another program is listening there. Finish or stop it (find it with \`ss -ltnp 'sport = :${port}'\`), or set CALLBACK_PORT to another port registered as redirect URI.`,
    );
  throw new TokenError(
    `Cannot listen on 127.0.0.1:${port} for the sign-in callback (${error.code ?? error.message}). Choose another CALLBACK_PORT.`,
  );
}
