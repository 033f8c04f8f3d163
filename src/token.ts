// The access token on disk and in memory: file format, claims, expiry, and single-flight renewal.
import { mkdir, readFile, stat } from "node:fs/promises";
import path from "node:path";
import { decodeJwt } from "jose";
import writeFileAtomic from "write-file-atomic";
import { z } from "zod";
import type { TokenResponse } from "./oauth2c.js";

/** The claims worth showing or checking (microsoft-365.md §3); never the token itself. */
export interface TokenClaims {
  aud?: string;
  upn?: string;
  scp?: string;
  roles?: string[];
  tid?: string;
}

export interface StoredToken {
  accessToken: string;
  expiresAt: Date;
  obtainedAt: Date;
  claims: TokenClaims;
}

/** imapsync reads the first line of `token`; `token.json` holds what a person may see. */
export function tokenPaths(workDir: string): { token: string; meta: string } {
  return { token: path.join(workDir, "token"), meta: path.join(workDir, "token.json") };
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
  exp: z.number().optional(),
  iat: z.number().optional(),
});

/** Claims and `exp` of a JWT, without checking the signature; undefined for an opaque token. */
function readJwt(accessToken: string): { claims: TokenClaims; exp?: Date; iat?: Date } | undefined {
  let payload: unknown;
  try {
    payload = decodeJwt(accessToken);
  } catch {
    return undefined;
  }
  const c = claimsSchema.safeParse(payload);
  if (!c.success) return undefined;
  const { aud, upn, unique_name, preferred_username, scp, roles, tid, exp, iat } = c.data;
  const claims: TokenClaims = {
    aud: Array.isArray(aud) ? aud.join(" ") : aud,
    upn: upn ?? unique_name ?? preferred_username,
    scp,
    roles,
    tid,
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
  };
}

const metaSchema = z.object({
  obtainedAt: z.iso.datetime(),
  expiresAt: z.iso.datetime(),
  source: z.string(),
  claims: z
    .object({
      aud: z.string().optional(),
      upn: z.string().optional(),
      scp: z.string().optional(),
      roles: z.array(z.string()).optional(),
      tid: z.string().optional(),
    })
    .optional(),
});

/**
 * Writes `token` (the token + LF, mode 0600 from the moment the file exists: write-file-atomic
 * creates its temporary file with that mode and renames it) and `token.json` (expiry and claims,
 * no token). The work directory is created private if missing.
 */
export async function saveToken(
  workDir: string,
  response: TokenResponse,
  now = new Date(),
): Promise<StoredToken> {
  const token = toStoredToken(response, now);
  const paths = tokenPaths(workDir);
  await mkdir(workDir, { recursive: true, mode: 0o700 });
  await writeFileAtomic(paths.token, `${token.accessToken}\n`, { mode: 0o600 });
  const meta: z.infer<typeof metaSchema> = {
    obtainedAt: token.obtainedAt.toISOString(),
    expiresAt: token.expiresAt.toISOString(),
    source: "oauth2c implicit",
    claims: token.claims,
  };
  await writeFileAtomic(paths.meta, `${JSON.stringify(meta, null, 2)}\n`, { mode: 0o600 });
  return token;
}

async function readIfExists(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

function parseMeta(text: string | undefined): z.infer<typeof metaSchema> | undefined {
  if (text === undefined) return undefined;
  try {
    const meta = metaSchema.safeParse(JSON.parse(text));
    return meta.success ? meta.data : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The saved token, or undefined when there is none or its expiry cannot be known. A JWT's own
 * claims win over `token.json`, so a token file replaced by hand is still judged correctly.
 */
export async function loadToken(workDir: string): Promise<StoredToken | undefined> {
  const paths = tokenPaths(workDir);
  const text = await readIfExists(paths.token);
  const accessToken = text?.split("\n", 1)[0]?.trim();
  if (!accessToken) return undefined;
  const jwt = readJwt(accessToken);
  const meta = parseMeta(await readIfExists(paths.meta));
  const expiresAt = jwt?.exp ?? (meta ? new Date(meta.expiresAt) : undefined);
  if (expiresAt === undefined) return undefined;
  const obtainedAt =
    (meta ? new Date(meta.obtainedAt) : undefined) ?? jwt?.iat ?? (await stat(paths.token)).mtime;
  return { accessToken, expiresAt, obtainedAt, claims: jwt?.claims ?? meta?.claims ?? {} };
}

/** "expires at 2026-11-29T07:01:00Z (in 74 min)" or "expired at ... (3 min ago)". */
export function describeExpiry(t: StoredToken, now = new Date()): string {
  const at = t.expiresAt.toISOString().replace(/\.\d{3}Z$/, "Z");
  const ms = t.expiresAt.getTime() - now.getTime();
  return ms >= 0
    ? `expires at ${at} (in ${Math.floor(ms / 60_000)} min)`
    : `expired at ${at} (${Math.ceil(-ms / 60_000)} min ago)`;
}

export interface TokenKeeperOptions {
  /** A token living less than this is renewed before use. */
  marginMs: number;
  now?: () => Date;
  initial?: StoredToken;
}

/**
 * Hands out a token that lives long enough, renewing it at most once at a time: every caller that
 * needs a new token while a renewal runs waits for that same renewal (one sign-in, not ten). A
 * failed renewal reaches all its waiters, and the next call tries again.
 */
export class TokenKeeper {
  private token: StoredToken | undefined;
  private renewal: Promise<StoredToken> | undefined;
  private readonly now: () => Date;

  constructor(
    private readonly obtain: () => Promise<StoredToken>,
    private readonly opts: TokenKeeperOptions,
  ) {
    this.token = opts.initial;
    this.now = opts.now ?? (() => new Date());
  }

  get current(): StoredToken | undefined {
    return this.token;
  }

  async fresh(): Promise<StoredToken> {
    const t = this.token;
    if (t && t.expiresAt.getTime() - this.now().getTime() > this.opts.marginMs) return t;
    return this.renew();
  }

  /**
   * After a run saw `stale` expire (the server can end a session before `exp`): renew unless
   * another caller already replaced that token.
   */
  async renewAfterExpiry(stale: StoredToken): Promise<StoredToken> {
    if (this.token && this.token.accessToken !== stale.accessToken) return this.fresh();
    return this.renew();
  }

  private renew(): Promise<StoredToken> {
    if (this.renewal) return this.renewal;
    // Started on a later tick, so that even an obtain() that throws at once rejects the promise
    // every waiter holds instead of escaping before `renewal` is set.
    const renewal = Promise.resolve()
      .then(() => this.obtain())
      .then((token) => (this.token = token));
    this.renewal = renewal;
    const clear = () => {
      if (this.renewal === renewal) this.renewal = undefined;
    };
    renewal.then(clear, clear);
    return renewal;
  }
}
