// Whether, when and why a mailbox runs again after an attempt: the one place retries are decided.
import { DEFAULT_BACKOFF_MS, RETRY_POLICY, type RunClass, type ThrottleWait } from "./classes.js";
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
  /** Attempts that copied nothing, after which a mailbox is given up (throttled ones aside). */
  maxAttempts: number;
  maxBackoffMs: number;
  /** A throttled mailbox is given up once this long has passed without a copied message; 0: never. */
  throttleGiveUpMs: number;
}

/** This mailbox's attempts so far in this run, the one that just ended included. */
export interface RetryHistory {
  /** Attempts that were not throttled: the safety net counts these. */
  total: number;
  /** Of those, the attempts that copied nothing: --max-attempts counts these. */
  unproductive: number;
  /**
   * Throttled attempts in a row that copied nothing and came right after a throttling wait: the
   * suggested wait was not enough, so the next one doubles this many times.
   */
  throttledAgain: number;
  /** Since the mailbox last copied a message (or since its first attempt in this run). */
  quietMs: number;
  /**
   * A sliced mailbox only: how long its last throttling episode kept refusing it (from the first
   * refusal to the end of the wait that got it through), with engine/sliced.ts's margin. Its next
   * episode starts there.
   */
  rememberedMs?: number;
}

export type RetryDecision =
  | { retry: false; reason?: string }
  | {
      retry: true;
      delayMs: number;
      renewToken: boolean;
      reason: string;
      throttle?: ThrottleWait;
    };

/** However productive each attempt is, a mailbox stops after this many (a safety net). */
export const MAX_TOTAL_ATTEMPTS = 50;
const BASE_DELAY_MS = 15_000;
/** A grown throttling wait is shortened by up to this share, at random (never below the suggestion). */
export const THROTTLE_JITTER = 0.2;

/**
 * Whether and when to run a mailbox again. A throttled attempt counts toward neither
 * --max-attempts nor the safety net: Exchange Online asked to wait, and a wait is what it gets,
 * until THROTTLE_GIVE_UP passes without a copied message.
 */
export function decideRetry(
  outcome: AttemptOutcome,
  history: RetryHistory,
  limits: RetryLimits,
  /** The tool is being interrupted: nothing runs again. */
  stopping = false,
  /** In [0, 1): spreads grown throttling waits, so that mailboxes throttled together part. */
  random: () => number = Math.random,
): RetryDecision {
  if (stopping) return { retry: false };
  const policy = RETRY_POLICY[outcome.class];
  if (policy === "never") return { retry: false };
  if (outcome.class === "other" && !outcome.lostConnection) return { retry: false };
  if (policy === "backoff") return throttledRetry(outcome, history, limits, random);
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

/**
 * The wait Office 365 suggested; when the mailbox was throttled again on the first commands after
 * such a wait, that wait doubles for each time in a row (the figure is a hint: the server may still
 * refuse when it is over), less up to THROTTLE_JITTER at random, never below the suggestion and
 * never above --max-backoff. An attempt that copied mail brings it back to the suggestion (for a
 * sliced mailbox, to `rememberedMs` when that is longer).
 */
function throttledRetry(
  outcome: AttemptOutcome,
  history: RetryHistory,
  limits: RetryLimits,
  random: () => number,
): RetryDecision {
  const giveUpMs = limits.throttleGiveUpMs;
  if (giveUpMs > 0 && history.quietMs >= giveUpMs)
    return { retry: false, reason: gaveUpReason({ quietMs: history.quietMs, giveUpMs }) };
  const suggestedMs = outcome.backoffMs ?? DEFAULT_BACKOFF_MS;
  // Issue 17's rule, for a whole mailbox: each episode starts again from the suggestion (one run
  // learns the window by doubling, and a copy may mean the budget is back). A sliced mailbox is
  // several runs on one budget: every refused try after a wait that was too short is a slice's
  // attempt thrown away with its login and listing, so its episodes start, and double, from the
  // wait its last one needed, with a margin (engine/sliced.ts). Never shorter, tried halfway towards a wait
  // that was refused: a run that starts just before the server takes it again has its header
  // fetch refused and its next command not, and imapsync then copies what it could not identify
  // under an added Message-Id, a second time (seen with bisected waits: 54 duplicates).
  const remembered = (history.rememberedMs ?? 0) > suggestedMs;
  const baseMs = remembered ? history.rememberedMs! : suggestedMs;
  const doublings = history.throttledAgain;
  const least = Math.min(baseMs, limits.maxBackoffMs);
  // 2 ** 30 times any suggestion is past any cap: the exponent stops growing there.
  const grown = baseMs * 2 ** Math.min(doublings, 30);
  const capped = grown > limits.maxBackoffMs;
  const delayMs =
    doublings === 0
      ? least
      : Math.max(
          least,
          Math.round(Math.min(grown, limits.maxBackoffMs) * (1 - THROTTLE_JITTER * random())),
        );
  return {
    retry: true,
    delayMs,
    renewToken: false,
    reason: RETRY_REASONS.throttled,
    throttle: { suggestedMs, doublings, capped, ...(remembered && { remembered }) },
  };
}
