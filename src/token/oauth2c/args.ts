// argv for each oauth2c grant (oauth2c.md §3-§7). No secret is ever in them.
import { callbackUrl, DEVICE_GRANT_TYPE, EXCHANGE_DEFAULT_SCOPE, offlineScopes } from "../entra.js";

export interface ImplicitParams {
  authorityUrl: string;
  appId: string;
  loginHint: string;
  /** The API the token is for (an audience's scope); Exchange Online when absent. */
  scope?: string;
  callbackPort: number;
  /** `host:port` the callback listens on; the redirect URI stays on localhost (oauth2c >= 1.19). */
  callbackAddr?: string;
  browserTimeoutSec: number;
  /** Let oauth2c run a browser opener; off by default because we show the URL ourselves. */
  openBrowser: boolean;
}

/** The same browser sign-in, for the authorization code grant. */
export interface AuthCodeParams extends ImplicitParams {
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
    ...clientArgs(p, offlineScopes(p.scope ?? EXCHANGE_DEFAULT_SCOPE).join(",")),
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

/** Every grant starts alike: the issuer, the app and the scopes it asks for. */
function clientArgs(p: { authorityUrl: string; appId: string }, scopes: string): string[] {
  return [p.authorityUrl, "--client-id", p.appId, "--scopes", scopes];
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
  /** The API the token is for (an audience's scope); Exchange Online when absent. */
  scope?: string;
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
    ...clientArgs(p, offlineScopes(p.scope ?? EXCHANGE_DEFAULT_SCOPE).join(",")),
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
    ...clientArgs(p, p.scope ?? EXCHANGE_DEFAULT_SCOPE),
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
