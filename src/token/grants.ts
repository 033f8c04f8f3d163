// Where access tokens come from, per grant: oauth2c for the grants that need a person (implicit,
// auth-code, device-code sign-ins), openid-client in-process for those that need nobody (refresh
// token, client credentials). Every token is for one audience (audiences.ts), and checked as that
// audience says before it is saved or used.
import path from "node:path";
import { InputError, TokenError } from "../errors.js";
import { assertCallbackPortFree, oauth2cVersion, runOauth2c } from "./oauth2c/run.js";
import { authCodeArgs, deviceCodeArgs, implicitArgs } from "./oauth2c/args.js";
import { callbackUrl, defaultAuthorityUrl, type TokenResponse } from "./entra.js";
import { oauth2cFeatures, type Oauth2cFeatures } from "./oauth2c/output.js";
import { clientCredentialsGrant, refreshGrant } from "./oauth-client.js";
import { AUDIENCES, type Audience, type AudienceName } from "./audiences.js";
import { refusalMessage, type TokenExpectations } from "./checks.js";
import { DEFAULT_RETRY_DELAYS_MS, TokenKeeper } from "./keeper.js";
import {
  dropRefreshToken,
  loadRefreshToken,
  loadToken,
  saveRefreshToken,
  saveToken,
} from "./store.js";
import { toStoredToken, type StoredToken } from "./claims.js";
import type { Command, Config } from "../config/types.js";

export interface SignInOptions {
  /** Let oauth2c start a browser on this machine (off: we print the URL, e.g. in a container). */
  openBrowser?: boolean;
  /** How long oauth2c waits for a browser sign-in. */
  timeoutSec?: number;
  signal?: AbortSignal;
}

export interface TokenIo {
  out: (line: string) => void;
}

/** Enough for a person to read the instructions, sign in and pass MFA. */
const DEFAULT_TIMEOUT_SEC = 300;
/** Entra's device codes live 15 minutes; oauth2c polls until then (no --browser-timeout). */
const DEVICE_TIMEOUT_SEC = 900;
/** Our kill timer fires only if oauth2c's own timeout did not end it. */
const KILL_GRACE_MS = 5000;

function required(value: string | undefined, setting: string, what: string): string {
  if (value?.trim()) return value.trim();
  // Secrets have no flag: a command line is readable by every local user.
  const flag =
    setting === "APP_SECRET" ? "" : ` or pass --${setting.toLowerCase().replace("_", "-")}`;
  throw new InputError(
    setting,
    "is not set",
    `Set ${setting}=<${what}> in .env or the environment${flag}.`,
  );
}

function authority(config: Config): { authorityUrl: string; appId: string } {
  return {
    authorityUrl:
      config.authorityUrl ??
      defaultAuthorityUrl(required(config.tenantId, "TENANT_ID", "tenant ID or domain")),
    appId: required(config.appId, "APP_ID", "Application (client) ID"),
  };
}

export function expectationsOf(config: Config, now = new Date()): TokenExpectations {
  return {
    now,
    loginHint: config.loginHint,
    tenantId: config.tenantId,
    appOnly: config.grant === "client-credentials",
    marginMs: config.tokenMarginMs,
  };
}

/** A grant that needs a person, asked for where nobody may be asked. */
function needsPerson(config: Config): void {
  if (!config.nonInteractive) return;
  const grant = config.grant;
  throw new TokenError(
    `A new access token needs someone to sign in (GRANT=${grant}), and NON_INTERACTIVE is set. Run \`m365-imapsync token --grant ${grant}\` at a terminal, then \`m365-imapsync migrate --resume\`.`,
  );
}

const featuresCache = new Map<string, Promise<Oauth2cFeatures>>();

/** Asked once per program: `oauth2c version` decides which flags may be passed. */
function featuresOf(cmd: Command): Promise<Oauth2cFeatures> {
  const key = [cmd.file, ...cmd.args].join("\0");
  let found = featuresCache.get(key);
  if (!found) {
    found = oauth2cVersion(cmd).then((v) => oauth2cFeatures(v.version));
    featuresCache.set(key, found);
    found.catch(() => featuresCache.delete(key));
  }
  return found;
}

function reachability(port: number, published: boolean): string[] {
  return [
    `After the sign-in the browser posts to ${callbackUrl(port)}, so it must reach port ${port} of this machine:`,
    `  over SSH, connect with \`ssh -L ${port}:localhost:${port} <host>\` and open the URL on your computer;`,
    published
      ? `  in a Docker container, publish the port: \`docker run -p 127.0.0.1:${port}:${port} ...\`.`
      : `  in a Docker container, set CALLBACK_ADDR=0.0.0.0:${port} (oauth2c 1.19 or newer) and publish the port (\`-p 127.0.0.1:${port}:${port}\`), or use host networking: without it the callback listens on the container's own 127.0.0.1.`,
  ];
}

function waiting(timeoutSec: number): string {
  return `Waiting up to ${timeoutSec < 120 ? `${timeoutSec} s` : `${Math.round(timeoutSec / 60)} min`} for the sign-in...`;
}

/** Implicit or auth-code: a browser sign-in whose result oauth2c's callback server receives. */
async function browserSignIn(
  config: Config,
  opts: SignInOptions,
  io: TokenIo,
  scope: string,
): Promise<TokenResponse> {
  needsPerson(config);
  const grant = config.grant;
  const a = authority(config);
  const loginHint = required(config.loginHint, "LOGIN_HINT", "admin address");
  const timeoutSec = opts.timeoutSec ?? DEFAULT_TIMEOUT_SEC;
  const port = config.callbackPort;
  const features = await featuresOf(config.oauth2c);
  let callbackAddr = config.callbackAddr;
  if (callbackAddr && !features.callbackAddr) {
    io.out(
      `Warning: this oauth2c is older than v1.19.0 and cannot listen on CALLBACK_ADDR ${callbackAddr}; the callback listens on 127.0.0.1:${port} only. Install oauth2c v1.19.0 or newer to use a published container port.`,
    );
    callbackAddr = undefined;
  }
  // With a separate listen address oauth2c does not bind 127.0.0.1, so only that check is ours.
  if (!callbackAddr) await assertCallbackPortFree(port);
  io.out(`Starting the sign-in for ${loginHint} with oauth2c (${grant} grant)...`);
  const params = {
    ...a,
    scope,
    loginHint,
    callbackPort: port,
    callbackAddr,
    browserTimeoutSec: timeoutSec,
    openBrowser: opts.openBrowser ?? false,
  };
  const args =
    grant === "auth-code"
      ? authCodeArgs({ ...params, noOrigin: features.noOrigin })
      : implicitArgs(params);
  return runOauth2c(config.oauth2c, args, {
    timeoutMs: timeoutSec * 1000 + KILL_GRACE_MS,
    timeoutSec,
    callbackPort: port,
    authorityUrl: a.authorityUrl,
    signal: opts.signal,
    onSignInUrl: (url) => {
      for (const line of [
        `Sign in as ${loginHint} in a browser on this machine. Open:`,
        "",
        `  ${url}`,
        "",
        ...reachability(port, callbackAddr !== undefined),
        waiting(timeoutSec),
      ])
        io.out(line);
    },
  });
}

/** Device code: the person signs in on any device; nothing needs to reach this machine. */
async function deviceSignIn(
  config: Config,
  opts: SignInOptions,
  io: TokenIo,
  scope: string,
): Promise<TokenResponse> {
  needsPerson(config);
  const a = authority(config);
  const features = await featuresOf(config.oauth2c);
  io.out("Starting the device code sign-in with oauth2c...");
  return runOauth2c(
    config.oauth2c,
    deviceCodeArgs({
      ...a,
      scope,
      noOrigin: features.noOrigin,
      openBrowser: opts.openBrowser ?? false,
    }),
    {
      timeoutMs: DEVICE_TIMEOUT_SEC * 1000 + KILL_GRACE_MS,
      timeoutSec: DEVICE_TIMEOUT_SEC,
      authorityUrl: a.authorityUrl,
      signal: opts.signal,
      onSignInUrl: (url, userCode) => {
        const who = config.loginHint ? ` as ${config.loginHint}` : "";
        io.out(`To sign in${who}, open this page in a browser on any device:`);
        io.out("");
        io.out(`  ${url}`);
        io.out("");
        if (userCode) io.out(`and enter the code ${userCode}`);
        io.out(waiting(DEVICE_TIMEOUT_SEC));
      },
    },
  );
}

/**
 * auth-code and device-code: the stored refresh token when there is one (no person needed), a
 * sign-in otherwise or when the server refused it. A refused refresh token is dropped, so that
 * the next attempt does not spend time on it again.
 */
async function offlineGrant(
  config: Config,
  opts: SignInOptions,
  io: TokenIo,
  audience: AudienceName,
  signIn: typeof deviceSignIn,
): Promise<TokenResponse> {
  const scope = delegatedScope(audience);
  const refreshToken = await loadRefreshToken(config.workDir, audience);
  if (refreshToken) {
    try {
      return await refreshGrant(authority(config), refreshToken, scope);
    } catch (error) {
      if (!(error instanceof TokenError) || error.transient) throw error;
      await dropRefreshToken(config.workDir, audience);
      if (config.nonInteractive) throw error;
      io.out(`${error.message} Signing in again.`);
    }
  }
  return signIn(config, opts, io, scope);
}

/** What a person's grant asks for: the audience's delegated scopes where it names them. */
function delegatedScope(audience: AudienceName): string {
  const a: Audience = AUDIENCES[audience];
  return a.delegatedScope ?? a.scope;
}

/**
 * Audiences sharing one refresh token file redeem it one at a time: a refresh token is rotated
 * on use, and two redeemed at once would spend the same one twice.
 */
const refreshTurns = new Map<string, Promise<unknown>>();
function oneAtATime<T>(key: string, step: () => Promise<T>): Promise<T> {
  const previous = refreshTurns.get(key) ?? Promise.resolve();
  const turn = previous.then(step, step);
  const settled = turn.catch(() => undefined);
  refreshTurns.set(key, settled);
  void settled.then(() => {
    if (refreshTurns.get(key) === settled) refreshTurns.delete(key);
  });
  return turn;
}

function responseFor(
  config: Config,
  opts: SignInOptions,
  io: TokenIo,
  audience: AudienceName,
): Promise<TokenResponse> {
  switch (config.grant) {
    case "implicit":
      // No refresh token: each audience is its own sign-in.
      return browserSignIn(config, opts, io, delegatedScope(audience));
    case "auth-code":
      return offlineGrant(config, opts, io, audience, browserSignIn);
    case "device-code":
      return offlineGrant(config, opts, io, audience, deviceSignIn);
    case "client-credentials":
      return clientCredentialsGrant(
        authority(config),
        required(config.appSecret, "APP_SECRET", "client secret"),
        AUDIENCES[audience].scope,
      );
  }
}

/**
 * A new access token by the configured grant, checked, saved in WORK_DIR and returned. A token
 * that cannot work is refused (TokenError) and not saved; a rotated refresh token is saved first
 * whatever happens next, since the server has already spent the previous one.
 */
export async function obtainToken(
  config: Config,
  opts: SignInOptions,
  io: TokenIo,
  audience: AudienceName,
): Promise<StoredToken> {
  const grant = config.grant;
  const { check, name } = AUDIENCES[audience];
  const response = await oneAtATime(
    path.resolve(config.workDir, AUDIENCES[audience].files.refresh),
    async () => {
      const r = await responseFor(config, opts, io, audience);
      if (r.refresh_token) await saveRefreshToken(config.workDir, r.refresh_token, audience);
      return r;
    },
  );
  const now = new Date();
  const verdict = check(toStoredToken(response, now), expectationsOf(config, now));
  if (verdict.refusals.length > 0)
    throw new TokenError(refusalMessage(verdict, `obtained with the ${grant} grant`, name));
  const token = await saveToken(config.workDir, response, now, grant, audience);
  io.out(`New access token: ${verdict.summary}.`);
  for (const warning of verdict.warnings) io.out(`Warning: ${warning}`);
  return token;
}

/**
 * The saved token if it can still be used, checked like a new one: a token that cannot work
 * (wrong audience, no IMAP permission, other tenant) stops everything before any imapsync run.
 * An expired one is simply not used.
 */
export async function usableSavedToken(
  config: Config,
  io: TokenIo,
  audience: AudienceName,
): Promise<StoredToken | undefined> {
  const { check, name } = AUDIENCES[audience];
  const saved = await loadToken(config.workDir, audience);
  if (!saved || saved.expiresAt.getTime() <= Date.now()) return undefined;
  const verdict = check(saved, expectationsOf(config));
  if (verdict.refusals.length > 0)
    throw new TokenError(refusalMessage(verdict, `saved in ${config.workDir}`, name));
  for (const warning of verdict.warnings) io.out(`Warning: ${warning}`);
  return saved;
}

/**
 * The token keeper of a migration or a check: starts from the saved token, renews by the
 * configured grant, and retries transient failures (network, nobody signed in yet) with backoff,
 * saying so each time with the reason.
 */
export async function createTokenKeeper(
  config: Config,
  opts: SignInOptions,
  io: TokenIo,
  audience: AudienceName,
): Promise<TokenKeeper> {
  return new TokenKeeper(() => obtainToken(config, opts, io, audience), {
    marginMs: config.tokenMarginMs,
    initial: await usableSavedToken(config, io, audience),
    retryDelaysMs: DEFAULT_RETRY_DELAYS_MS,
    signal: opts.signal,
    onRetry: (error, delayMs) =>
      io.out(
        `Getting a new access token failed: ${error.message} Trying again in ${Math.round(delayMs / 1000)} s.`,
      ),
  });
}
