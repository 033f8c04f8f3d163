// A big mailbox's slices under Exchange Online's throttling: how many run at once, until when they
// all wait, and what an episode of throttling taught for the next. The engine asks; this decides.
import type { ThrottleWait } from "../outcomes/classes.js";
import type { MailboxPlan } from "../plan/plan.js";
import type { AttemptResult } from "./attempt.js";

/**
 * Once a sliced mailbox has been refused, its slices run at once only while it has copied less
 * than this share of what it was allowed between its last two refusals; then one alone.
 * Exchange Online budgets the mailbox itself: every slice running when the budget runs out is
 * refused, each a throttled attempt, so only one should be running then. Well before it, slices
 * at once spend the same budget sooner. The margin leaves room for the slices still copying
 * while their stop reaches them, and for a budget a little smaller than the last.
 */
export const AT_ONCE_SHARE = 0.75;

/**
 * How many of a sliced mailbox's slices may run at once: all `most` until it is first refused.
 * Then one while it is refused after a wait not known to be enough (the slice that tries whether
 * it was: the others would only be refused with it) and while what it is allowed between two
 * refusals is unknown; once it got through, or after the wait that got its last episode through,
 * all while it has copied under AT_ONCE_SHARE of that since its last refusal, one after.
 */
export function slicesAtOnce(
  most: number,
  mailbox: {
    refused: boolean;
    /** Its last refusal has not been followed by a copy yet. */
    stillRefused: boolean;
    /**
     * The wait since that refusal is the one that got its last episode through: one slice alone
     * would spend it learning what is known (its login and listing while the others wait).
     */
    waitedEnough: boolean;
    allowance?: number;
    copiedSinceRefusal: number;
  },
): number {
  if (!mailbox.refused) return most;
  if (mailbox.stillRefused && !mailbox.waitedEnough) return 1;
  if (mailbox.allowance === undefined || mailbox.allowance <= 0) return 1;
  return mailbox.copiedSinceRefusal < mailbox.allowance * AT_ONCE_SHARE ? most : 1;
}

/**
 * The remembered wait is used with this margin (a tenth more, at least a second). It is the
 * first wait that got the mailbox through, so it may end just after the server took it again;
 * the next episode's is measured from a refusal the stop may see a moment sooner. A run that
 * starts just before the server takes the mailbox again can copy mail twice (retry-policy.ts).
 */
export function withMargin(rememberedMs: number): number {
  return rememberedMs + Math.max(1000, Math.round(rememberedMs / 10));
}

/** Why a running slice is stopped (its pause signal's reason): a sibling was refused. */
export const REFUSED = "refused";
/** Why: its mailbox is near its budget, and another slice goes on alone. */
export const NEAR_BUDGET = "near-budget";

/** What a slice's retry counts share with its siblings (the engine's AttemptCounts). */
export interface SharedThrottling {
  throttled: boolean;
  throttledAgain: number;
  rememberedMs?: number;
}

/** Per sliced mailbox: how many of its slices may run at once, and until when they all wait. */
export interface SlicedMailboxes {
  groups: {
    of: (plan: MailboxPlan) => string | undefined;
    cap: (source: string) => number;
    /** Told when a cap rises while no run ends (a slice got through after a refusal). */
    subscribe: (wake: () => void) => () => void;
  };
  /** Milliseconds a slice of this plan's mailbox must still wait (0: it may run). */
  pausedFor: (plan: MailboxPlan) => number;
  /**
   * For a slice about to run: aborted when its mailbox's throttling stops it (a sibling refused,
   * or the mailbox near its budget while it runs beside others). Each is followed by `ended`.
   */
  pauseSignal: (plan: MailboxPlan) => AbortSignal | undefined;
  /** A running slice's attempt has copied this many messages so far (its copy lines). */
  copying: (plan: MailboxPlan, copied: number) => void;
  /** A slice's attempt is over, having copied this many (imapsync's own count when it has one). */
  ended: (plan: MailboxPlan, copied: number) => void;
  /** Refused: every slice of the mailbox waits `ms`, and those running stop now. */
  throttled: (source: string, ms: number) => void;
  /** It was throttled while sliced in an earlier run: one at a time until refused again. */
  refusedBefore: (source: string) => void;
  /**
   * The mailbox's throttling so far, with what this slice's attempt taught, into the slice's
   * counts before the retry policy reads them.
   */
  share: (source: string, history: SharedThrottling, result: AttemptResult) => void;
  /** What the policy made of a slice's attempt (`throttle`: it waits so), for its next slice. */
  learn: (
    source: string,
    history: SharedThrottling,
    result: AttemptResult,
    throttle: ThrottleWait | undefined,
  ) => void;
}

/**
 * A mailbox's throttling, whichever of its slices met it: Exchange Online budgets the mailbox, so
 * a slice refused right after another's wait is refused again (its wait doubles), and the wait an
 * episode needed is where the next starts (retry-policy.ts says why, and why not shorter).
 */
interface MailboxThrottling {
  /** Refused at least once while sliced (in this run, or an earlier one: `refusedBefore`). */
  refused: boolean;
  throttled: boolean;
  throttledAgain: number;
  /** When the current episode's first refusal ended its attempt; undefined between episodes. */
  episodeStart?: number;
  /** Its current wait is the one that got its last episode through (`slicesAtOnce`). */
  waitedEnough: boolean;
  /**
   * When its last refusal was settled, and the counts before it: a slice that was running then
   * and is refused too met the same refusal.
   */
  lastRefusal?: { at: number; before: Pick<SharedThrottling, "throttled" | "throttledAgain"> };
  /** The wait after an episode's first refusal that last got it through. */
  rememberedMs?: number;
  /** Messages its slices copied in this run, those still running included. */
  copied: number;
  /** `copied` when its last episode began. */
  copiedAtRefusal: number;
  /** What they copied between its last two refusals: the budget the server last allowed. */
  allowance?: number;
  /** Its slices running now: when each started, what it has copied so far, how to stop it. */
  running: Map<string, { start: number; copied: number; stop: AbortController }>;
}

/** The wait its next episode starts at, margin included. */
function remembered(state: MailboxThrottling): number | undefined {
  return state.rememberedMs === undefined ? undefined : withMargin(state.rememberedMs);
}

/** The attempt ran when its mailbox's last refusal was settled: it met that refusal. */
function besideLastRefusal(state: MailboxThrottling, attempt: { start: string }): boolean {
  return state.lastRefusal !== undefined && Date.parse(attempt.start) < state.lastRefusal.at;
}

export function slicedMailboxes(most: number, now: () => number): SlicedMailboxes {
  const pausedUntil = new Map<string, number>();
  const mailboxes = new Map<string, MailboxThrottling>();
  const stateOf = (source: string) => {
    let state = mailboxes.get(source);
    if (!state) {
      state = {
        refused: false,
        throttled: false,
        throttledAgain: 0,
        waitedEnough: false,
        copied: 0,
        copiedAtRefusal: 0,
        running: new Map(),
      };
      mailboxes.set(source, state);
    }
    return state;
  };
  const wakers = new Set<() => void>();
  const cap = (source: string) => {
    const state = mailboxes.get(source);
    if (!state) return most;
    return slicesAtOnce(most, {
      ...state,
      stillRefused: state.episodeStart !== undefined,
      waitedEnough: state.waitedEnough,
      copiedSinceRefusal: state.copied - state.copiedAtRefusal,
    });
  };
  /** A run started after the episode's first refusal copied: the wait was enough. */
  const gotThrough = (source: string, state: MailboxThrottling, started: number) => {
    if (state.episodeStart === undefined || started < state.episodeStart) return;
    // The episode refused it from its first refusal until its last wait ended; after the
    // remembered wait (and its margin) that is what it knew already.
    if (!state.waitedEnough)
      state.rememberedMs =
        Math.min(pausedUntil.get(source) ?? started, started) - state.episodeStart;
    state.episodeStart = undefined;
    for (const wake of wakers) wake();
  };
  /** Near its budget with slices beside each other: all but the one that started first stop. */
  const keepOne = (state: MailboxThrottling) => {
    let kept = false;
    for (const run of state.running.values()) {
      if (run.stop.signal.aborted) continue;
      if (kept) run.stop.abort(NEAR_BUDGET);
      kept = true;
    }
  };
  return {
    groups: {
      of: (plan) => (plan.slice ? plan.mailbox.source : undefined),
      cap,
      subscribe: (wake) => {
        wakers.add(wake);
        return () => wakers.delete(wake);
      },
    },
    pausedFor: (plan) =>
      plan.slice ? Math.max(0, (pausedUntil.get(plan.mailbox.source) ?? 0) - now()) : 0,
    pauseSignal: (plan) => {
      if (!plan.slice) return undefined;
      const stop = new AbortController();
      stateOf(plan.mailbox.source).running.set(plan.slice.id, { start: now(), copied: 0, stop });
      return stop.signal;
    },
    copying: (plan, copied) => {
      if (!plan.slice) return;
      const state = stateOf(plan.mailbox.source);
      const run = state.running.get(plan.slice.id);
      if (!run || copied <= run.copied) return;
      state.copied += copied - run.copied;
      run.copied = copied;
      gotThrough(plan.mailbox.source, state, run.start);
      if (cap(plan.mailbox.source) === 1) keepOne(state);
    },
    ended: (plan, copied) => {
      if (!plan.slice) return;
      const state = stateOf(plan.mailbox.source);
      const run = state.running.get(plan.slice.id);
      state.running.delete(plan.slice.id);
      // The statistics may count a copy whose line was not read yet.
      state.copied += Math.max(0, copied - (run?.copied ?? 0));
    },
    throttled: (source, ms) => {
      const state = stateOf(source);
      state.refused = true;
      pausedUntil.set(source, Math.max(pausedUntil.get(source) ?? 0, now() + ms));
      // Its running siblings would only be refused in turn, each an attempt throttled: they stop
      // now and wait with it.
      for (const run of state.running.values()) run.stop.abort(REFUSED);
    },
    refusedBefore: (source) => {
      stateOf(source).refused = true;
    },
    share: (source, history, { copied, attempt, classification }) => {
      const state = stateOf(source);
      // A runner whose progress does not count copies tells it only now.
      if (copied > 0) gotThrough(source, state, Date.parse(attempt.start));
      const refused = classification.class === "throttled";
      // Refused while running beside the slice whose refusal set the mailbox's wait (slices that
      // all started after a wait that was enough last time, and was not): the same refusal, whose
      // wait doubles once, not once per slice.
      if (refused && besideLastRefusal(state, attempt)) {
        Object.assign(history, state.lastRefusal!.before, { rememberedMs: remembered(state) });
        return;
      }
      if (refused && state.episodeStart === undefined) {
        // A new episode. Its slices copied much less than the server allowed last time: the
        // budget is not the one the remembered wait was for (others' load, a smaller allowance);
        // the suggestion again.
        const since = state.copied - state.copiedAtRefusal;
        if (since < (state.allowance ?? 0) / 2) state.rememberedMs = undefined;
        state.allowance = since;
        state.copiedAtRefusal = state.copied;
      }
      Object.assign(history, {
        throttled: state.throttled,
        throttledAgain: state.throttledAgain,
        rememberedMs: remembered(state),
      });
    },
    learn: (source, history, { attempt }, throttle) => {
      const state = stateOf(source);
      if (throttle && !besideLastRefusal(state, attempt)) {
        state.lastRefusal = {
          at: now(),
          before: { throttled: state.throttled, throttledAgain: state.throttledAgain },
        };
        state.episodeStart ??= now();
        // The remembered wait, not doubled: it got the last episode through.
        state.waitedEnough = throttle.remembered === true && throttle.doublings === 0;
      }
      Object.assign(state, {
        throttled: history.throttled,
        throttledAgain: history.throttledAgain,
      });
    },
  };
}
