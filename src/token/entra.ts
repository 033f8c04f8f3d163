// Facts of Microsoft Entra ID and OAuth 2.0 that oauth2c and the in-process client share
// (microsoft-365.md §2-§3, oauth2c.md §11): scopes, URLs, and one table from an error to its fix.

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
 * Microsoft Graph, for calendars and contacts (microsoft-graph.md §2-§3): a resource of its own,
 * whose token IMAP refuses and the other way round. App-only: every application permission
 * granted (Calendars.Read, Contacts.Read, MailboxSettings.Read); delegated: the shared-folder
 * permissions a migrating admin needs on other users' mailboxes.
 */
export const GRAPH_RESOURCE = "https://graph.microsoft.com";
export const GRAPH_DEFAULT_SCOPE = `${GRAPH_RESOURCE}/.default`;
export const GRAPH_DELEGATED_PERMISSIONS = [
  "Calendars.Read.Shared",
  "Contacts.Read.Shared",
  "MailboxSettings.Read",
] as const;
export const GRAPH_APP_PERMISSIONS = [
  "Calendars.Read",
  "Contacts.Read",
  "MailboxSettings.Read",
] as const;
export const GRAPH_DELEGATED_SCOPE = GRAPH_DELEGATED_PERMISSIONS.map(
  (p) => `${GRAPH_RESOURCE}/${p}`,
).join(" ");

/**
 * Grants with a refresh token ask for `scope` and these: `offline_access` brings the refresh
 * token; `openid` is what a standard OpenID provider demands on its authorization endpoint (Entra
 * accepts it; fixture authcode_pkce_*).
 */
export function offlineScopes(scope: string): string[] {
  return ["openid", "offline_access", scope];
}
export const DEVICE_GRANT_TYPE = "urn:ietf:params:oauth:grant-type:device_code";

export function callbackUrl(port: number): string {
  return `http://localhost:${port}/callback`;
}

export function defaultAuthorityUrl(tenantId: string): string {
  return `https://login.microsoftonline.com/${tenantId}/v2.0`;
}

/** Facts the explanation of a failure needs (none of them secret). */
export interface FailureContext {
  timeoutSec?: number;
  callbackPort?: number;
  authorityUrl?: string;
}

interface OAuthError {
  /** Matched against oauth2c's ERROR text or the token endpoint's `<status>: <error>`. */
  match: RegExp;
  /** What happened, for an oauth2c run; `quoted` is oauth2c's own words. */
  happened: (quoted: string, ctx: FailureContext) => string;
  /** What to do; the in-process client says it after its own "was refused (...)". */
  fix: (ctx: FailureContext) => string;
}

const port = (ctx: FailureContext) => ctx.callbackPort ?? 9876;

/**
 * Every OAuth failure the tool knows, from oauth2c (oauth2c.md §11, fixtures/oauth2c) or from the
 * token endpoint in-process, with the fix an admin can apply. The first match wins.
 */
const OAUTH_ERRORS: readonly OAuthError[] = [
  {
    match: /^unsupported_response_type$/,
    happened: (q) => `Microsoft Entra refused the implicit grant ${q}.`,
    fix: (ctx) =>
      `In the app registration (APP_ID) open Authentication, enable "Access tokens (used for implicit flows)" and add ${callbackUrl(port(ctx))} as a Web redirect URI, then run the command again.`,
  },
  {
    match: /^access_denied$/,
    happened: (q) => `The sign-in was cancelled or the requested permissions were declined ${q}.`,
    fix: () =>
      "Run the command again, sign in as the admin named in LOGIN_HINT and accept; if consent is blocked, an administrator must grant admin consent to the app.",
  },
  {
    match: /^(\d+: )?invalid_request$/,
    happened: (q) => `Microsoft Entra refused the sign-in request ${q}.`,
    fix: (ctx) =>
      `Check APP_ID and that ${callbackUrl(port(ctx))} is a Web redirect URI of the app registration.`,
  },
  {
    match: /^(\d+: )?(invalid_client|unauthorized_client)$/,
    happened: (q) => `Microsoft Entra does not accept this application ${q}.`,
    fix: () =>
      "Check APP_ID and APP_SECRET (an expired client secret must be replaced in the app registration) and that the app allows this grant.",
  },
  {
    match: /^(\d+: )?invalid_grant$/,
    happened: (q) => `The identity provider refused the grant ${q}.`,
    fix: () =>
      `The refresh token was already used, revoked (password change, admin action) or has expired, or the sign-in code was already redeemed: sign in again with \`m365-imapsync token\`.`,
  },
  {
    match: /^(\d+: )?invalid_scope$/,
    happened: (q) => `Microsoft Entra refused the requested scope ${q}.`,
    fix: () =>
      "The app registration lacks the Office 365 Exchange Online permission; add it and grant admin consent.",
  },
  {
    match: /^(\d+: )?(expired_token|authorization_declined)$/,
    happened: (q) => `The device code sign-in was not completed ${q}.`,
    fix: () => "Run the command again, open the URL it shows and enter the code before it expires.",
  },
  {
    match: /^timeout$/,
    happened: (q, ctx) =>
      `Nobody completed the sign-in within ${ctx.timeoutSec ?? "the allowed"} seconds ${q}.`,
    fix: (ctx) =>
      `Run the command again and open the URL it shows in a browser that can reach localhost:${port(ctx)}.`,
  },
  {
    match: /^Interrupted$/,
    happened: (q) => `The sign-in was interrupted ${q}.`,
    fix: () => "",
  },
  {
    match: /bind: address already in use/,
    happened: (q, ctx) =>
      `Port ${port(ctx)} for the sign-in callback is already in use ${q}: another sign-in or program is listening there.`,
    fix: (ctx) =>
      `Stop it (find it with \`ss -ltnp 'sport = :${port(ctx)}'\`) or choose another CALLBACK_PORT that is also registered as a redirect URI.`,
  },
  {
    match:
      /openid-configuration|dial tcp|no such host|Client\.Timeout|failed to parse error response/,
    happened: (q, ctx) =>
      `oauth2c could not read the sign-in configuration of ${ctx.authorityUrl ?? "the authority"} ${q}.`,
    fix: () => "Check TENANT_ID (or AUTHORITY_URL), the network and any HTTPS_PROXY setting.",
  },
  {
    match: /must be one of/,
    happened: (q) => `oauth2c refused an argument ${q}.`,
    fix: () => "Check that oauth2c is v1.17.2 or newer (`oauth2c version`).",
  },
];

const UNKNOWN: OAuthError = {
  match: /.*/,
  happened: (q) => `oauth2c could not obtain a token ${q}.`,
  fix: () =>
    "Run the command again; if it fails the same way, check the app registration (APP_ID) and the account in LOGIN_HINT.",
};

function errorFor(message: string): OAuthError {
  return OAUTH_ERRORS.find((e) => e.match.test(message)) ?? UNKNOWN;
}

/** One sentence for an ERROR message of oauth2c: what happened and what to do. */
export function explainOauth2cError(message: string, ctx: FailureContext = {}): string {
  const e = errorFor(message);
  return [e.happened(`(oauth2c: ${message})`, ctx), e.fix(ctx)].filter(Boolean).join(" ");
}

/** What to do about the token endpoint's refusal `<status>: <code>` seen in-process. */
export function fixForRefusal(message: string): string {
  const e = errorFor(message);
  return e === UNKNOWN ? "Check the app registration (APP_ID) and try again." : e.fix({});
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
