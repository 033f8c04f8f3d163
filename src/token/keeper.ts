// The token in memory: handed out while it lives long enough, renewed at most once at a time.
import { setTimeout as sleep } from "node:timers/promises";
import { TokenError } from "../errors.js";
import type { StoredToken } from "./claims.js";

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

  /**
   * A dozen lines rather than p-retry: the waits are an explicit list (not a factor), only a
   * transient TokenError is retried, and an interruption ends the wait with the failure itself.
   */
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
