// The grants that need nobody, run in-process with openid-client: oauth2c would need the refresh
// token or the client secret on its command line, where every local user can read them.
import * as client from "openid-client";
import { TokenError } from "../errors.js";
import {
  EXCHANGE_DEFAULT_SCOPE,
  fixForRefusal,
  isTransient,
  offlineScopes,
  type TokenResponse,
} from "./entra.js";

export interface AuthorityClient {
  authorityUrl: string;
  appId: string;
}

const HTTP_TIMEOUT_MS = 60_000;
const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]"]);

/**
 * The authority's endpoints from its discovery document. Read directly rather than through
 * openid-client's discovery, which insists that the issuer equals the URL asked: Entra answers
 * `.../<tenant GUID>/v2.0` when TENANT_ID is a domain name.
 */
async function configuration(a: AuthorityClient, auth: client.ClientAuth) {
  const base = a.authorityUrl.replace(/\/$/, "");
  const url = new URL(`${base}/.well-known/openid-configuration`);
  let metadata: client.ServerMetadata;
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(HTTP_TIMEOUT_MS) });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    metadata = (await response.json()) as client.ServerMetadata;
  } catch (error) {
    throw new TokenError(
      `Could not read the sign-in configuration at ${url.href} (${reasonOf(error)}). Check TENANT_ID (or AUTHORITY_URL), the network and any HTTPS_PROXY setting.`,
      { transient: true },
    );
  }
  const config = new client.Configuration(metadata, a.appId, undefined, auth);
  // Plain HTTP only for a local test authority (AUTHORITY_URL=http://127.0.0.1:...).
  if (url.protocol === "http:" && LOOPBACK.has(url.hostname)) client.allowInsecureRequests(config);
  return config;
}

function reasonOf(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (error as Error).message ?? String(error);
}

/** The token endpoint's refusal in oauth2c's words (`400: invalid_grant`), with what to do. */
function grantError(error: unknown, what: string): TokenError {
  if (error instanceof client.ResponseBodyError) {
    const message = `${error.status}: ${error.error}`;
    return new TokenError(`${what} was refused (${message}). ${fixForRefusal(message)}`, {
      transient: isTransient(message),
    });
  }
  if (error instanceof TokenError) return error;
  return new TokenError(
    `${what} failed: the token endpoint could not be reached or answered nonsense (${reasonOf(error)}). It is tried again later.`,
    { transient: true },
  );
}

function toResponse(t: client.TokenEndpointResponse): TokenResponse {
  return {
    access_token: t.access_token,
    ...(t.expires_in === undefined ? {} : { expires_in: t.expires_in }),
    ...(t.refresh_token ? { refresh_token: t.refresh_token } : {}),
    ...(t.scope ? { scope: t.scope } : {}),
    ...(t.token_type ? { token_type: t.token_type } : {}),
  };
}

/**
 * A new access token for a refresh token, as the public client oauth2c signed in as (PKCE, no
 * secret). The answer carries the rotated refresh token, which replaces the one just spent.
 */
export async function refreshGrant(
  a: AuthorityClient,
  refreshToken: string,
  scope = EXCHANGE_DEFAULT_SCOPE,
): Promise<TokenResponse> {
  try {
    const config = await configuration(a, client.None());
    return toResponse(
      await client.refreshTokenGrant(config, refreshToken, {
        scope: offlineScopes(scope).join(" "),
      }),
    );
  } catch (error) {
    throw grantError(error, "Refreshing the access token");
  }
}

/** An app-only token (IMAP.AccessAsApp) for the app's own secret; no person, no refresh token. */
export async function clientCredentialsGrant(
  a: AuthorityClient,
  secret: string,
  scope = EXCHANGE_DEFAULT_SCOPE,
): Promise<TokenResponse> {
  try {
    const config = await configuration(a, client.ClientSecretPost(secret));
    return toResponse(await client.clientCredentialsGrant(config, { scope }));
  } catch (error) {
    throw grantError(error, "Getting an app-only token (client credentials)");
  }
}
