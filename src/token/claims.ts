// A token's claims and expiry, read from the JWT itself (the signature is the server's business).
import { decodeJwt } from "jose";
import { z } from "zod";
import type { TokenResponse } from "./entra.js";

/** The claims worth showing or checking (microsoft-365.md §3); never the token itself. */
export interface TokenClaims {
  aud?: string;
  upn?: string;
  scp?: string;
  roles?: string[];
  tid?: string;
  /** The application the token was issued to (`appid`, or `azp` in v2 tokens). */
  appid?: string;
}

export interface StoredToken {
  accessToken: string;
  expiresAt: Date;
  obtainedAt: Date;
  claims: TokenClaims;
  /** Not a JWT: nothing but its expiry (from `expires_in`) is known about it. */
  opaque?: true;
}

/**
 * Microsoft always sends `expires_in`; should a token come with neither `exp` nor `expires_in`,
 * assume the shortest default lifetime (60-90 min, microsoft-365.md §2).
 */
const FALLBACK_LIFETIME_MS = 60 * 60 * 1000;

const claimsSchema = z.object({
  aud: z.union([z.string(), z.array(z.string())]).optional(),
  upn: z.string().optional(),
  unique_name: z.string().optional(),
  preferred_username: z.string().optional(),
  scp: z.string().optional(),
  roles: z.array(z.string()).optional(),
  tid: z.string().optional(),
  appid: z.string().optional(),
  azp: z.string().optional(),
  exp: z.number().optional(),
  iat: z.number().optional(),
});

/** Claims and `exp` of a JWT, without checking the signature; undefined for an opaque token. */
export function readJwt(
  accessToken: string,
): { claims: TokenClaims; exp?: Date; iat?: Date } | undefined {
  let payload: unknown;
  try {
    payload = decodeJwt(accessToken);
  } catch {
    return undefined;
  }
  const c = claimsSchema.safeParse(payload);
  if (!c.success) return undefined;
  const { aud, upn, unique_name, preferred_username, scp, roles, tid, appid, azp, exp, iat } =
    c.data;
  const claims: TokenClaims = {
    aud: Array.isArray(aud) ? aud.join(" ") : aud,
    upn: upn ?? unique_name ?? preferred_username,
    scp,
    roles,
    tid,
    appid: appid ?? azp,
  };
  return {
    claims: dropUndefined(claims),
    exp: exp === undefined ? undefined : new Date(exp * 1000),
    iat: iat === undefined ? undefined : new Date(iat * 1000),
  };
}

function dropUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

/** What a token response means at the moment it was received. */
export function toStoredToken(response: TokenResponse, now: Date): StoredToken {
  const jwt = readJwt(response.access_token);
  const lifetimeMs =
    response.expires_in === undefined ? FALLBACK_LIFETIME_MS : response.expires_in * 1000;
  return {
    accessToken: response.access_token,
    expiresAt: jwt?.exp ?? new Date(now.getTime() + lifetimeMs),
    obtainedAt: now,
    claims: jwt?.claims ?? {},
    ...(jwt ? {} : { opaque: true as const }),
  };
}

/** "expires at 2026-11-29T07:01:00Z (in 74 min)" or "expired at ... (3 min ago)". */
export function describeExpiry(t: StoredToken, now = new Date()): string {
  const at = t.expiresAt.toISOString().replace(/\.\d{3}Z$/, "Z");
  const ms = t.expiresAt.getTime() - now.getTime();
  return ms >= 0
    ? `expires at ${at} (in ${Math.floor(ms / 60_000)} min)`
    : `expired at ${at} (${Math.ceil(-ms / 60_000)} min ago)`;
}
