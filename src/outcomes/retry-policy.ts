// Whether, when and why a mailbox runs again after an attempt: the one place retries are decided.
import { DEFAULT_BACKOFF_MS, RETRY_POLICY, type RunClass } from "./classes.js";
import { gaveUpReason, RETRY_REASONS } from "./remedies.js";

/** What the scheduler needs to know about one finished attempt; it never sees log lines. */
export interface AttemptOutcome {
  class: RunClass;
  backoffMs?: number;
  lostConnection: boolean;
  /** Messages this attempt copied; an attempt that copied something is progress, not a failure. */
  copied: number;
}

/** What the policy reads of a finished attempt. A run that hung is a connection that died without saying so. */
export function outcomeOf(
  c: { class: RunClass; backoffMs?: number; lostConnection: boolean },
  exit: { stalled?: boolean },
  copied: number,
): AttemptOutcome {
  return {
    class: exit.stalled ? "other" : c.class,
    backoffMs: c.backoffMs,
    lostConnection: c.lostConnection || Boolean(exit.stalled),
    copied,
  };
}

export interface RetryLimits {
  /** Attempts that copied nothing, after which a mailbox is given up. */
  maxAttempts: number;
  maxBackoffMs: number;
}

export type RetryDecision =
  | { retry: false; reason?: string }
  | { retry: true; delayMs: number; renewToken: boolean; reason: string };

/** However productive each attempt is, a mailbox stops after this many (a safety net). */
export const MAX_TOTAL_ATTEMPTS = 50;
const BASE_DELAY_MS = 15_000;

/**
 * Whether and when to run a mailbox again. `history` counts this mailbox's attempts so far,
 * including the one that just ended.
 */
export function decideRetry(
  outcome: AttemptOutcome,
  history: { total: number; unproductive: number },
  limits: RetryLimits,
  /** The tool is being interrupted: nothing runs again. */
  stopping = false,
): RetryDecision {
  if (stopping) return { retry: false };
  const policy = RETRY_POLICY[outcome.class];
  if (policy === "never") return { retry: false };
  if (outcome.class === "other" && !outcome.lostConnection) return { retry: false };
  if (history.unproductive >= limits.maxAttempts) {
    return {
      retry: false,
      reason: gaveUpReason({ unproductive: history.unproductive, maxAttempts: limits.maxAttempts }),
    };
  }
  if (history.total >= MAX_TOTAL_ATTEMPTS) {
    return { retry: false, reason: gaveUpReason({ total: history.total }) };
  }
  switch (policy) {
    case "refresh_token":
      return { retry: true, delayMs: 0, renewToken: true, reason: RETRY_REASONS.tokenExpired };
    case "backoff": {
      const delayMs = Math.min(outcome.backoffMs ?? DEFAULT_BACKOFF_MS, limits.maxBackoffMs);
      return {
        retry: true,
        delayMs,
        renewToken: false,
        reason: RETRY_REASONS.throttled,
      };
    }
    case "exponential": {
      const exponent = Math.max(0, history.unproductive - 1);
      const delayMs = Math.min(BASE_DELAY_MS * 2 ** exponent, limits.maxBackoffMs);
      return {
        retry: true,
        delayMs,
        renewToken: false,
        reason: RETRY_REASONS.ended(outcome.class),
      };
    }
  }
}
