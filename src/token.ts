// The access token on disk and in memory: file format, claims, expiry, and single-flight renewal.
import { mkdir, readFile, rm, stat } from "node:fs/promises";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { decodeJwt } from "jose";
import writeFileAtomic from "write-file-atomic";
import { z } from "zod";
import { TokenError } from "./errors.js";
import type { TokenResponse } from "./oauth2c.js";

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
 * imapsync reads the first line of `token`; `token.json` holds what a person may see; the
 * refresh token (auth-code, device-code) lives beside them, private like the access token.
 */
export function tokenPaths(workDir: string): { token: string; meta: string; refresh: string } {
  return {
    token: path.join(workDir, "token"),
    meta: path.join(workDir, "token.json"),
    refresh: path.join(workDir, "token.refresh"),
  };
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
function readJwt(accessToken: string): { claims: TokenClaims; exp?: Date; iat?: Date } | undefined {
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
      appid: z.string().optional(),
    })
    .optional(),
});

/**
 * Writes `token` (the token + LF, mode 0600 from the moment the file exists: write-file-atomic
 * creates its temporary file with that mode, syncs it and renames it) and `token.json` (expiry
 * and claims, no token). `source` names the grant (or "import"). The work directory is created
 * private if missing.
 */
export async function saveToken(
  workDir: string,
  response: TokenResponse,
  now = new Date(),
  source = "implicit",
): Promise<StoredToken> {
  const token = toStoredToken(response, now);
  const paths = tokenPaths(workDir);
  await mkdir(workDir, { recursive: true, mode: 0o700 });
  await writeFileAtomic(paths.token, `${token.accessToken}\n`, { mode: 0o600 });
  const meta: z.infer<typeof metaSchema> = {
    obtainedAt: token.obtainedAt.toISOString(),
    expiresAt: token.expiresAt.toISOString(),
    source,
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
  return {
    accessToken,
    expiresAt,
    obtainedAt,
    claims: jwt?.claims ?? meta?.claims ?? {},
    ...(jwt ? {} : { opaque: true as const }),
  };
}

/**
 * Keeps the newest refresh token (0600, written to a synced temporary file, then renamed over the
 * old one). Called as soon as a token response arrives: the server has already invalidated the
 * refresh token it rotated, so the new one must be on disk before anything else can fail.
 */
export async function saveRefreshToken(workDir: string, refreshToken: string): Promise<void> {
  await mkdir(workDir, { recursive: true, mode: 0o700 });
  await writeFileAtomic(tokenPaths(workDir).refresh, `${refreshToken}\n`, { mode: 0o600 });
}

/** The newest refresh token saved by an auth-code or device-code sign-in, if any. */
export async function loadRefreshToken(workDir: string): Promise<string | undefined> {
  const text = await readIfExists(tokenPaths(workDir).refresh);
  return text?.split("\n", 1)[0]?.trim() || undefined;
}

/** A refresh token the server refused (used, revoked, expired) is worth nothing: drop it. */
export async function dropRefreshToken(workDir: string): Promise<void> {
  await rm(tokenPaths(workDir).refresh, { force: true });
}

/** Removes the access token, its metadata and the refresh token; returns the files that existed. */
export async function forgetToken(workDir: string): Promise<string[]> {
  const removed: string[] = [];
  for (const file of Object.values(tokenPaths(workDir))) {
    if ((await readIfExists(file)) === undefined) continue;
    await rm(file, { force: true });
    removed.push(file);
  }
  return removed;
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
  /**
   * Waits before the next try after a transient failure (TokenError.transient), one per retry;
   * when they are used up the failure stands. Empty: no retry.
   */
  retryDelaysMs?: readonly number[];
  /** Told about every transient failure that will be retried, and after how long. */
  onRetry?: (error: TokenError, delayMs: number) => void;
  /** Ends a wait between retries (the migration is being interrupted). */
  signal?: AbortSignal;
}

/** A minute of outage is survived; a wait never exceeds five minutes. */
export const DEFAULT_RETRY_DELAYS_MS = [5_000, 15_000, 45_000, 120_000, 300_000] as const;

/**
 * Hands out a token that lives long enough, renewing it at most once at a time: every caller that
 * needs a new token while a renewal runs waits for that same renewal (one sign-in, not ten). A
 * transient failure is retried after the configured waits inside that one renewal; a failed
 * renewal reaches all its waiters, and the next call tries again.
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

  /**
   * Milliseconds until the current token enters the margin (0: due now, or no token). A token
   * is always used for at least half its life, even when the margin is longer: otherwise tokens
   * shorter than the margin would be renewed again and again.
   */
  msUntilDue(): number {
    const t = this.token;
    if (!t) return 0;
    const lifetime = t.expiresAt.getTime() - t.obtainedAt.getTime();
    const margin = Math.min(this.opts.marginMs, lifetime / 2);
    return Math.max(0, t.expiresAt.getTime() - this.now().getTime() - margin);
  }

  async fresh(): Promise<StoredToken> {
    const t = this.token;
    if (t && this.msUntilDue() > 0) return t;
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

  /**
   * Renews the token whenever it enters the margin while `wanted()` says so (runs are in flight),
   * so that new runs start at once and imapsync releases that re-read the token file get a live
   * one. One timer, armed for the moment the token becomes due (never sooner than `minTickMs`
   * apart). A failure that survives its retries goes to `onFailure` and stops the timer: the
   * caller decides what happens next, and nothing spins. Returns a function that stops it.
   */
  keepFresh(opts: {
    wanted: () => boolean;
    onFailure: (error: unknown) => void;
    minTickMs?: number;
  }): () => void {
    const minTickMs = opts.minTickMs ?? 1000;
    let timer: NodeJS.Timeout | undefined;
    let stopped = false;
    const arm = () => {
      if (stopped) return;
      // Never what keeps the process alive: the runs and sign-ins it serves do that.
      timer = setTimeout(tick, Math.max(minTickMs, this.msUntilDue()));
      timer.unref();
    };
    const tick = () => {
      if (this.msUntilDue() > 0 || !opts.wanted()) return arm();
      this.fresh().then(arm, (error: unknown) => {
        stopped = true;
        opts.onFailure(error);
      });
    };
    arm();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }

  private renew(): Promise<StoredToken> {
    if (this.renewal) return this.renewal;
    // Started on a later tick, so that even an obtain() that throws at once rejects the promise
    // every waiter holds instead of escaping before `renewal` is set.
    const renewal = Promise.resolve()
      .then(() => this.obtainWithRetries())
      .then((token) => (this.token = token));
    this.renewal = renewal;
    const clear = () => {
      if (this.renewal === renewal) this.renewal = undefined;
    };
    renewal.then(clear, clear);
    return renewal;
  }

  private async obtainWithRetries(): Promise<StoredToken> {
    const delays = this.opts.retryDelaysMs ?? [];
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.obtain();
      } catch (error) {
        const delayMs = delays[attempt];
        if (!(error instanceof TokenError && error.transient) || delayMs === undefined) throw error;
        this.opts.onRetry?.(error, delayMs);
        try {
          await sleep(delayMs, undefined, { signal: this.opts.signal });
        } catch {
          throw error;
        }
      }
    }
  }
}
