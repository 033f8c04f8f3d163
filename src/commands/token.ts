// `token`: one interactive sign-in through oauth2c's implicit grant, saved in the work directory.
import { InputError } from "../errors.js";
import {
  assertCallbackPortFree,
  callbackUrl,
  defaultAuthorityUrl,
  implicitArgs,
  runOauth2c,
} from "../oauth2c.js";
import { describeExpiry, saveToken, tokenPaths, type StoredToken } from "../token.js";
import type { Config } from "../types.js";

export interface TokenOptions {
  callbackPort: number;
  /** Let oauth2c start a browser on this machine (off: we print the URL, e.g. in a container). */
  openBrowser?: boolean;
  /** How long oauth2c waits for the sign-in. */
  timeoutSec?: number;
  signal?: AbortSignal;
}

export interface TokenIo {
  out: (line: string) => void;
}

/** Enough for a person to read the instructions, sign in and pass MFA. */
const DEFAULT_TIMEOUT_SEC = 300;
/** Our kill timer fires only if oauth2c's own `--browser-timeout` did not end it. */
const KILL_GRACE_MS = 5000;

function required(value: string | undefined, setting: string, flag: string, what: string): string {
  if (value?.trim()) return value.trim();
  throw new InputError(setting, "is not set", `Set ${setting}=<${what}> in .env or pass ${flag}.`);
}

interface SignInSettings {
  authorityUrl: string;
  appId: string;
  loginHint: string;
}

function signInSettings(config: Config): SignInSettings {
  const authorityUrl =
    config.authorityUrl ??
    defaultAuthorityUrl(
      required(config.tenantId, "TENANT_ID", "--tenant-id", "tenant ID or domain"),
    );
  return {
    authorityUrl,
    appId: required(config.appId, "APP_ID", "--app-id", "Application (client) ID"),
    loginHint: required(config.loginHint, "LOGIN_HINT", "--login-hint", "admin address"),
  };
}

function signInInstructions(url: string, s: SignInSettings, port: number, timeoutSec: number) {
  return [
    `Sign in as ${s.loginHint} in a browser on this machine. Open:`,
    "",
    `  ${url}`,
    "",
    `After the sign-in the browser posts the token to ${callbackUrl(port)}, so it must reach port ${port} of this machine:`,
    `  over SSH, connect with \`ssh -L ${port}:localhost:${port} <host>\` and open the URL on your computer;`,
    `  in a Docker container, use host networking (\`docker run --network host\`): oauth2c listens on the container's own 127.0.0.1, so \`-p 127.0.0.1:${port}:${port}\` alone does not reach it.`,
    `Waiting up to ${timeoutSec < 120 ? `${timeoutSec} s` : `${Math.round(timeoutSec / 60)} min`} for the sign-in...`,
  ];
}

/** Things in the token that predict a failure later (microsoft-365.md §3, §6 cause 1). */
function claimWarnings(t: StoredToken, s: SignInSettings): string[] {
  const warnings: string[] = [];
  const { aud, upn } = t.claims;
  if (aud !== undefined && !/^https:\/\/outlook\.office(365)?\.com\/?$/.test(aud))
    warnings.push(
      `Warning: the token is for ${aud}, not for Exchange Online (https://outlook.office365.com); IMAP will refuse it. Check the scope and the app's API permissions.`,
    );
  if (upn !== undefined && upn.toLowerCase() !== s.loginHint.toLowerCase())
    warnings.push(
      `Warning: the browser signed in as ${upn}, not as ${s.loginHint}. Mailboxes delegated to ${s.loginHint} will fail; sign out in the browser and run the command again.`,
    );
  return warnings;
}

/** Signs in, saves the token in WORK_DIR, and returns it (also used by `migrate`). */
export async function obtainToken(
  config: Config,
  opts: TokenOptions,
  io: TokenIo,
): Promise<StoredToken> {
  const settings = signInSettings(config);
  const timeoutSec = opts.timeoutSec ?? DEFAULT_TIMEOUT_SEC;
  await assertCallbackPortFree(opts.callbackPort);
  io.out(`Starting the sign-in for ${settings.loginHint} with oauth2c...`);
  const args = implicitArgs({
    ...settings,
    callbackPort: opts.callbackPort,
    callbackAddr: config.callbackAddr,
    browserTimeoutSec: timeoutSec,
    openBrowser: opts.openBrowser ?? false,
  });
  const response = await runOauth2c(config.oauth2c, args, {
    timeoutMs: timeoutSec * 1000 + KILL_GRACE_MS,
    timeoutSec,
    callbackPort: opts.callbackPort,
    authorityUrl: settings.authorityUrl,
    signal: opts.signal,
    onSignInUrl: (url) => {
      for (const line of signInInstructions(url, settings, opts.callbackPort, timeoutSec))
        io.out(line);
    },
  });
  const token = await saveToken(config.workDir, response);
  io.out(`Signed in${token.claims.upn ? ` as ${token.claims.upn}` : ""}.`);
  for (const warning of claimWarnings(token, settings)) io.out(warning);
  return token;
}

export async function tokenCommand(
  config: Config,
  opts: TokenOptions,
  io: TokenIo,
): Promise<StoredToken> {
  const token = await obtainToken(config, opts, io);
  io.out(`Access token saved to ${tokenPaths(config.workDir).token}; it ${describeExpiry(token)}.`);
  return token;
}
