// The engine: every planned mailbox to a final state. It receives all it works with (attempt
// runner, token keeper, report store, clock, UI), so a test drives it without imapsync or time.
import { TokenError } from "../errors.js";
import type { MailboxPlan } from "../plan/plan.js";
import type { PlanMode } from "../plan/schema.js";
import type { ReportStore } from "../report/store.js";
import type { StoredToken, TokenKeeper } from "../token/index.js";
import type { Classification } from "../imapsync/classification.js";
import type { Attempt, FolderPair, ReportEntry, Slice } from "../report/schema.js";
import type { SliceSpec } from "../plan/slicing.js";
import type { RunClass } from "../outcomes/classes.js";
import type { Ui } from "../view/ui.js";
import type { Leftover } from "../workdir/lock.js";
import type { AttemptResult, AttemptRunner } from "./attempt.js";
import { systemClock, type Clock } from "./clock.js";
import { verificationOf } from "../verify/verification.js";
import { parseFolderSizes } from "../verify/foldersizes.js";
import {
  leftoverRemedy,
  MISSING_REMEDY,
  PAUSED_BY_THROTTLING,
  PAUSED_NEAR_BUDGET,
  remedyFor,
  STALLED_WAITING,
  stalledRemedy,
  UNREADABLE_LISTING_REMEDY,
  WAITING_FOR_TOKEN,
} from "../outcomes/remedies.js";
import {
  decideRetry,
  outcomeOf,
  type RetryDecision,
  type RetryLimits,
} from "../outcomes/retry-policy.js";
import { fixedLimit, type ConcurrencyLimit } from "./limit.js";
import { schedule } from "./scheduler.js";
import { NEAR_BUDGET, slicedMailboxes, type SlicedMailboxes } from "./sliced.js";

export interface EngineDeps {
  runAttempt: AttemptRunner;
  tokens: Pick<TokenKeeper, "fresh" | "renewAfterExpiry" | "keepFresh">;
  store: ReportStore;
  ui: Ui;
  clock?: Clock;
  /** The next run of a mailbox in `mode` (a sync numbered after the report's attempts). */
  replan: (mode: PlanMode, plan: MailboxPlan, entry: ReportEntry) => MailboxPlan;
  /** `migrate --verify`: a mailbox whose copy ended ok is verified at once. */
  verifyAfterCopy?: boolean;
  /** Reads the plan's destination password (a file is read only now, for a mailbox that runs). */
  password: (plan: MailboxPlan) => Promise<string | undefined>;
  /**
   * `concurrency`: a number, or a limit that changes while it runs (`--concurrency auto`);
   * `maxSlices`: the most runs on one mailbox at a time (its slices).
   */
  limits: RetryLimits & { concurrency: number | ConcurrencyLimit; maxSlices?: number };
  /** In [0, 1), for the jitter of throttling waits (tests make it predictable). */
  random?: () => number;
  /** For remedies: the admin who signs in, and the stall limit. */
  loginHint?: string;
  stallTimeoutMs: number;
  signal: AbortSignal;
  /** A second interruption: runs are ended at once instead of through their abort file. */
  forceSignal?: AbortSignal;
  /** imapsync runs a crashed earlier run left behind: their mailboxes wait until they end. */
  leftovers?: Leftover[];
  isRunning?: (leftover: Leftover) => boolean;
}

/** How often a mailbox held by a leftover imapsync looks again whether it has ended. */
const LEFTOVER_POLL_MS = 1000;

/** Attempts of one mailbox in this run, for the retry policy (see RetryHistory). */
interface History extends AttemptCounts {
  plan: MailboxPlan;
  /** Its last run saw this token expire: it needs a newer one, whatever the token's `exp`. */
  expiredToken?: StoredToken;
}

/**
 * Runs every plan to a final state: the scheduler decides when, the runner runs one attempt, the
 * retry policy reads the outcome, the report is saved after every change. Mailboxes that never
 * started, or were waiting for their next attempt, stay pending for `--resume` or `retry`.
 */
export async function runEngine(plans: MailboxPlan[], deps: EngineDeps): Promise<void> {
  const starting = new AbortController();
  const stopStarting = () => starting.abort();
  deps.signal.addEventListener("abort", stopStarting, { once: true });
  let tokenFailure: TokenError | undefined;
  const stopOnTokenFailure = (error: TokenError) => {
    tokenFailure ??= error;
    starting.abort();
  };
  const histories = new Map<string, History>();
  const sliced = slicedMailboxes(deps.limits.maxSlices ?? Number.POSITIVE_INFINITY, () =>
    clockOf(deps).now(),
  );
  for (const plan of plans) {
    histories.set(runKey(plan), freshHistory(plan));
    const entry = deps.store.entry(plan.mailbox.source);
    // A verification leaves the status alone: it says how the last copy ended.
    if (plan.mode !== "verify") entry.status = "pending";
    if (plan.slices) recordSlices(entry, plan.slices);
    if (plan.slices && entry.throttledWhileSliced) sliced.refusedBefore(entry.source);
  }
  await deps.store.save();

  const clock = clockOf(deps);
  const inFlight = { count: 0 };
  const stopRefreshing = keepTokenFresh(deps, inFlight, stopOnTokenFailure);
  const { concurrency } = deps.limits;
  const limit = typeof concurrency === "number" ? fixedLimit(concurrency) : concurrency;
  const unfinished = await schedule(
    plans,
    { concurrency: limit, signal: starting.signal, clock: deps.clock, groups: sliced.groups },
    async (first) => {
      const key = runKey(first);
      const entry = deps.store.entry(first.mailbox.source);
      // A big mailbox whose folders all exist already: its slices start at once.
      if (first.slices && !first.justFolders)
        return { then: sliceRuns(first, entry, histories, deps) };
      const history = histories.get(key)!;
      if (leftoverHolds(first, entry, deps)) return { againInMs: LEFTOVER_POLL_MS };
      const wait = sliced.pausedFor(first);
      if (wait > 0) return { againInMs: wait };
      // Taken with the look at the wait: a sibling throttled from now on stops this one too.
      const pause = sliced.pauseSignal(first);
      let token: StoredToken;
      try {
        token = await tokenFor(history, deps);
      } catch (error) {
        if (!(error instanceof TokenError)) throw error;
        stopOnTokenFailure(error);
        sliced.ended(first, 0);
        return { againInMs: 0 };
      }
      history.quietSince ??= clock.now();
      inFlight.count++;
      const copying = (copied: number) => sliced.copying(first, copied);
      const result = await attempt(history.plan, entry, deps, limit, key, pause, copying).finally(
        () => inFlight.count--,
      );
      sliced.ended(first, result.copied);
      const paused = first.slice !== undefined && pausedBy(pause, result, deps);
      const ended = paused
        ? { history, entry, token, result }
        : refusedWhenStopped({ history, entry, token, result }, pause);
      // A slice stopped just after its own refusal was throttled too: the auto limit hears it.
      limit.attemptEnded(key, {
        copied: result.copied,
        bytes: attemptsOf(entry, first).at(-1)?.bytesTransferred ?? 0,
        throttled: ended.result.classification.class === "throttled",
      });
      const next = !first.slice
        ? await settle(ended, deps)
        : paused
          ? await settlePausedSlice(ended, first, pause!.reason, deps, sliced)
          : await settleSlice(ended, first.slice.id, deps, sliced);
      if (next.againInMs === undefined) {
        limit.mailboxDone(key);
        // Its plan (argv, paths) is not needed again: memory stays with the mailboxes to come.
        histories.delete(key);
      }
      // A big mailbox's folders exist: its slices go. Its last slice ended it ok: its verification.
      if (next.slicesNext) return { then: sliceRuns(first, entry, histories, deps) };
      if (next.verifyNext) {
        const whole = { ...first, slice: undefined, slices: undefined, justFolders: undefined };
        const verify = deps.replan("verify", whole, entry);
        histories.set(runKey(verify), freshHistory(verify));
        return { then: [verify] };
      }
      return next;
    },
  );
  stopRefreshing();
  deps.signal.removeEventListener("abort", stopStarting);
  for (const plan of unfinished) {
    const entry = deps.store.entry(plan.mailbox.source);
    const slice = plan.slice && entry.slices?.find((s) => s.id === plan.slice!.id);
    if (slice) slice.status = "pending";
    if (plan.mode !== "verify") entry.status = slice ? worstOf(entry.slices!).status : "pending";
    // Its next try is now whenever the migration is resumed.
    delete entry.nextAttemptAt;
    if (tokenFailure) entry.remedy = WAITING_FOR_TOKEN;
    deps.ui.finished(entry);
  }
  // report.json and report.csv whole again; the journal is closed (a later change reopens it).
  await deps.store.close();
  if (tokenFailure) throw tokenFailure;
}

/**
 * While runs are in flight, the token is renewed when it enters the margin (for a grant that
 * needs a person: the sign-in is asked for then, and the runs keep going), so that waiting
 * mailboxes start at once and an imapsync that re-reads the token file finds a live one.
 */
function keepTokenFresh(
  deps: EngineDeps,
  inFlight: { count: number },
  stop: (error: TokenError) => void,
): () => void {
  return deps.tokens.keepFresh({
    wanted: () => inFlight.count > 0,
    onFailure: (error) => {
      const failure =
        error instanceof TokenError
          ? error
          : new TokenError(`Getting a new access token failed unexpectedly: ${String(error)}.`);
      deps.ui.warn(`${failure.message} Running mailboxes go on; no new mailbox starts.`);
      stop(failure);
    },
  });
}

/** Two imapsync on one mailbox would copy messages twice: wait for a leftover to end. */
function leftoverHolds(plan: MailboxPlan, entry: ReportEntry, deps: EngineDeps): boolean {
  const source = plan.mailbox.source.toLowerCase();
  const leftover = deps.leftovers?.find((l) => l.mailbox.toLowerCase() === source);
  if (!leftover || !(deps.isRunning ?? (() => false))(leftover)) return false;
  entry.remedy = leftoverRemedy(leftover.pid);
  return true;
}

async function tokenFor(history: History, deps: EngineDeps): Promise<StoredToken> {
  const stale = history.expiredToken;
  const token = stale ? await deps.tokens.renewAfterExpiry(stale) : await deps.tokens.fresh();
  history.expiredToken = undefined;
  return token;
}

/** One attempt, recorded in the report as it goes. */
async function attempt(
  plan: MailboxPlan,
  entry: ReportEntry,
  deps: EngineDeps,
  limit: ConcurrencyLimit,
  key: string,
  pause?: AbortSignal,
  copying?: (copied: number) => void,
): Promise<AttemptResult> {
  const source = plan.mailbox.source;
  return deps.runAttempt(plan, {
    password: await deps.password(plan),
    // A slice also stops, as an interruption does, when its mailbox's throttling says so.
    signal: pause ? AbortSignal.any([deps.signal, pause]) : deps.signal,
    forceSignal: deps.forceSignal,
    now: () => new Date(clockOf(deps).now()),
    started: async (record) => {
      delete entry.nextAttemptAt;
      // A copy makes an earlier verification stale; a verification is not a copy attempt.
      if (plan.mode !== "verify") {
        attemptsOf(entry, plan).push(record);
        const slice = sliceOf(entry, plan);
        if (slice) slice.status = "running";
        entry.status = "running";
        entry.verification = undefined;
      }
      await deps.store.saveEntry(entry);
      limit.attemptStarted(key);
      deps.ui.attemptStarted(source, plan.attempt);
    },
    progress: (progress) => {
      limit.progress(key, progress.done);
      if (progress.copiedMessages !== undefined) copying?.(progress.copiedMessages);
      deps.ui.progress(source, progress);
    },
    spawnFailed: (reason) => deps.ui.warn(`${source}: imapsync could not be started: ${reason}`),
  });
}

/** A mailbox's attempt that has just ended, with what it ran on. */
interface Ended {
  history: History;
  entry: ReportEntry;
  token: StoredToken;
  result: AttemptResult;
}

/** After an attempt: the remedy, then either the next attempt's wait or the final status. */
async function settle(ended: Ended, deps: EngineDeps): Promise<Next> {
  const { history, entry, result } = ended;
  if (history.plan.mode === "verify") return settleVerification(ended, deps);
  const { classification } = result;
  entry.class = classification.class;
  const { decision, remedy } = decide(history, classification, result, deps);
  entry.remedy = remedy;
  entry.folders = withMapping(entry.folders, firstMapping(result));
  if (history.plan.justFolders && classification.class === "ok") {
    // Only the folders exist yet: the mailbox is what its slices make of it.
    entry.status = worstOf(entry.slices ?? []).status;
    await deps.store.saveEntry(entry);
    return { slicesNext: true };
  }
  if (decision.retry) {
    entry.status = "pending";
    setNextAttempt(entry, decision, deps);
    await deps.store.saveEntry(entry);
    return runAgain(ended, decision, deps);
  }
  entry.status = statusOf(classification.class);
  if (decision.reason) entry.remedy = `${entry.remedy} (${decision.reason})`;
  await deps.store.saveEntry(entry);
  if (entry.status === "ok" && deps.verifyAfterCopy && !deps.signal.aborted) {
    // Its own retry count: the copy's attempts do not use up the verification's.
    Object.assign(history, freshHistory(history.plan));
    history.plan = deps.replan("verify", history.plan, entry);
    return { againInMs: 0 };
  }
  deps.ui.finished(entry);
  return {};
}

/**
 * After a verify run: what it proves (or the class of a run that could not tell), retried like
 * any run when a rerun can help; the copy's status stays as it was.
 */
async function settleVerification(ended: Ended, deps: EngineDeps): Promise<Next> {
  const { history, entry, result } = ended;
  const { exit } = result;
  const plan = history.plan;
  const { classification, verification } = verificationOf({
    classification: result.classification,
    sizes: result.folderSizes ?? parseFolderSizes([]),
    at: result.attempt.end ?? result.attempt.start,
    logFile: plan.files.logFile,
    mapping: plan.folders,
    destinationBefore: entry.attempts[0]?.destinationBefore,
  });
  const { decision, remedy } = decide(history, classification, { ...result, copied: 0 }, deps);
  if (verification.verdict === "failed") {
    // imapsync said EX_OK: only the listing shows the session died.
    verification.remedy =
      result.classification.class === "ok" && !exit.stalled ? UNREADABLE_LISTING_REMEDY : remedy;
    if (!decision.retry && decision.reason) verification.remedy += ` (${decision.reason})`;
  }
  entry.verification = verification;
  if (verification.verdict === "missing") {
    // Copying the rest will not fit: the quota comes first.
    entry.remedy =
      verification.class === "quota_exceeded"
        ? `${remedy} Then ${MISSING_REMEDY}.`
        : MISSING_REMEDY;
  }
  if (decision.retry) setNextAttempt(entry, decision, deps);
  await deps.store.saveEntry(entry);
  if (decision.retry) return runAgain(ended, decision, deps);
  deps.ui.finished(entry);
  return {};
}

/** Counts the attempt, decides whether it runs again, and says what the admin should know. */
function decide(
  history: History,
  classification: Classification,
  result: Pick<AttemptResult, "exit" | "copied">,
  deps: EngineDeps,
): { decision: RetryDecision; remedy: string } {
  const { exit, copied } = result;
  const outcome = outcomeOf(classification, exit, copied);
  const decision = countAndDecide(history, outcome, clockOf(deps).now(), deps);
  const remedy = exit.stalled
    ? stalledRemedy(deps.stallTimeoutMs)
    : remedyFor(classification.class, {
        // What the tool will really wait (grown, capped by MAX_BACKOFF), not only what was suggested.
        wait:
          decision.retry && decision.throttle
            ? { delayMs: decision.delayMs, throttle: decision.throttle }
            : undefined,
        backoffMs: classification.backoffMs,
        mailbox: history.plan.mailbox.source,
        admin: deps.loginHint,
        // Our own stop ends in SIGKILL when imapsync ignores SIGTERM: that kill is not from outside.
        killedFromOutside: classification.killedFromOutside === true && !deps.signal.aborted,
        logEndsEarly: classification.logEndsEarly,
      });
  return { decision, remedy };
}

/** What a mailbox's or a part's attempts in this run were, as the retry policy counts them. */
export interface AttemptCounts {
  total: number;
  unproductive: number;
  throttledAgain: number;
  /** Its last attempt ended throttled. */
  throttled: boolean;
  /** When it last copied something, or its first attempt here started (engine clock, ms). */
  quietSince?: number;
  /** A sliced mailbox: how long its last throttling episode refused it (RetryHistory). */
  rememberedMs?: number;
}

/**
 * Counts an attempt that has just ended into `history`, then asks the retry policy: the one path
 * for a mailbox's mail and for its calendar and contacts parts (engine/parts.ts).
 */
export function countAndDecide(
  history: AttemptCounts,
  outcome: { class: RunClass; backoffMs?: number; lostConnection: boolean; copied: number },
  now: number,
  deps: { limits: RetryLimits; signal: AbortSignal; random?: () => number },
): RetryDecision {
  const { copied } = outcome;
  const throttled = outcome.class === "throttled";
  // A throttled attempt is a wait Exchange Online asked for, not a failure: it counts toward
  // neither --max-attempts nor the safety net, only toward THROTTLE_GIVE_UP's time.
  if (!throttled) {
    history.total++;
    if (copied === 0) history.unproductive++;
  }
  history.throttledAgain =
    throttled && copied === 0 && history.throttled ? history.throttledAgain + 1 : 0;
  history.throttled = throttled;
  if (copied > 0) history.quietSince = now;
  return decideRetry(
    outcome,
    { ...history, quietMs: now - (history.quietSince ?? now) },
    deps.limits,
    deps.signal.aborted,
    deps.random,
  );
}

/** The same mailbox again, in the same mode, after the decided wait (and a new token if due). */
function runAgain(
  { history, entry, token, result }: Ended,
  decision: Extract<RetryDecision, { retry: true }>,
  deps: EngineDeps,
): { againInMs: number } {
  const stalled = result.exit.stalled;
  deps.ui.waiting(entry, stalled ? STALLED_WAITING : decision.reason, decision.delayMs);
  if (decision.renewToken) history.expiredToken = token;
  history.plan = deps.replan(history.plan.mode, history.plan, entry);
  return { againInMs: decision.delayMs };
}

/**
 * The folder mapping a first run decided, pinned on every rerun: its `Folder i/n` lines and, for
 * the folders it never reached (a run cut short by throttling), the destination its folder-size
 * listing names for them. imapsync decides the whole mapping before it copies; left to automap
 * on a rerun, an unreached `Sent Items` would follow the `Éléments envoyés` the first run created.
 */
function firstMapping(result: AttemptResult): FolderPair[] | undefined {
  const pairs = new Map(result.classification.folders.map((p) => [p.source, p.destination]));
  for (const row of result.folderSizes?.rows ?? [])
    if (!pairs.has(row.source.name)) pairs.set(row.source.name, row.destination.name);
  if (pairs.size === 0) return undefined;
  return [...pairs].map(([source, destination]) => ({ source, destination }));
}

function clockOf(deps: EngineDeps): Clock {
  return deps.clock ?? systemClock;
}

function freshHistory(plan: MailboxPlan): History {
  return {
    total: 0,
    unproductive: 0,
    throttledAgain: 0,
    throttled: false,
    quietSince: undefined,
    rememberedMs: undefined,
    plan,
  };
}

/** When a mailbox that waits runs again, for the report and the views (none for a rerun at once). */
function setNextAttempt(
  entry: ReportEntry,
  decision: Extract<RetryDecision, { retry: true }>,
  deps: EngineDeps,
): void {
  if (decision.delayMs <= 0) return;
  const at = clockOf(deps).now() + decision.delayMs;
  entry.nextAttemptAt = new Date(at).toISOString();
}

function statusOf(cls: RunClass): ReportEntry["status"] {
  if (cls === "ok") return "ok";
  if (cls === "interrupted") return "interrupted";
  return "failed";
}

/** What the scheduler hears after an attempt: a wait before the next, or the slices to start. */
interface Next {
  againInMs?: number;
  slicesNext?: boolean;
  verifyNext?: boolean;
}

/** The scheduler's and the auto limit's name for a run: a slice's carries its id. */
function runKey(plan: MailboxPlan): string {
  return plan.slice ? `${plan.mailbox.source}#${plan.slice.id}` : plan.mailbox.source;
}

function sliceOf(entry: ReportEntry, plan: MailboxPlan): Slice | undefined {
  return plan.slice && entry.slices?.find((s) => s.id === plan.slice!.id);
}

/** Where a run's attempts are recorded: its slice's, or the mailbox's. */
function attemptsOf(entry: ReportEntry, plan: MailboxPlan): Attempt[] {
  return sliceOf(entry, plan)?.attempts ?? entry.attempts;
}

/**
 * The slices this run makes of a mailbox, in its entry before anything starts: those of an
 * earlier slicing that are rerun keep their attempts; a new slicing replaces the earlier one.
 */
function recordSlices(entry: ReportEntry, specs: SliceSpec[]): void {
  const before = new Map(entry.slices?.map((s) => [s.id, s]));
  const rerun = specs.every((spec) => before.has(spec.id));
  const pending = (spec: SliceSpec): Slice => ({
    ...spec,
    status: "pending",
    attempts: before.get(spec.id)?.attempts ?? [],
  });
  if (!rerun) {
    entry.slices = specs.map(pending);
    return;
  }
  for (const spec of specs) Object.assign(before.get(spec.id)!, { status: "pending" });
}

/** The slices' plans, numbered and pinned by what the entry now records. */
function sliceRuns(
  plan: MailboxPlan,
  entry: ReportEntry,
  histories: Map<string, History>,
  deps: EngineDeps,
): MailboxPlan[] {
  return (plan.slices ?? []).map((slice) => {
    const run = deps.replan(
      "sync",
      { ...plan, slice, slices: undefined, justFolders: undefined },
      entry,
    );
    histories.set(runKey(run), freshHistory(run));
    return run;
  });
}

const SEVERITY: Record<Slice["status"], number> = {
  ok: 0,
  running: 1,
  pending: 2,
  interrupted: 3,
  failed: 4,
};

/** A sliced mailbox is as its worst slice: its status, class and remedy (a running one counts as running). */
function worstOf(slices: readonly Slice[]): Pick<Slice, "status" | "class" | "remedy"> {
  const settled = slices.filter((s) => s.status !== "running");
  const worst = settled.reduce<Slice | undefined>(
    (w, s) => (!w || SEVERITY[s.status] > SEVERITY[w.status] ? s : w),
    undefined,
  );
  if (slices.some((s) => s.status === "running")) return { status: "running" };
  if (!worst) return { status: "pending" };
  const remedy =
    worst.remedy && (worst.status === "ok" ? worst.remedy : `slice ${worst.id}: ${worst.remedy}`);
  return { status: worst.status, class: worst.class, remedy };
}

/** The mapping an entry records, with the folders a later run met for the first time. */
function withMapping(
  recorded: FolderPair[] | undefined,
  found: FolderPair[] | undefined,
): FolderPair[] | undefined {
  if (!recorded || !found) return recorded ?? found;
  const known = new Set(recorded.map((pair) => pair.source));
  const added = found.filter((pair) => !known.has(pair.source));
  return added.length > 0 ? [...recorded, ...added] : recorded;
}

/**
 * After a slice's attempt: its own class, remedy and retry (as a whole mailbox's), the mailbox
 * then as its worst slice; a throttled slice holds back every slice of the mailbox.
 */
async function settleSlice(
  ended: Ended,
  id: string,
  deps: EngineDeps,
  sliced: SlicedMailboxes,
): Promise<Next> {
  const { history, entry, result } = ended;
  const slice = entry.slices!.find((s) => s.id === id)!;
  const { classification } = result;
  slice.class = classification.class;
  sliced.share(entry.source, history, result);
  const { decision, remedy } = decide(history, classification, result, deps);
  const retry = decision.retry ? decision : undefined;
  sliced.learn(entry.source, history, result, retry?.throttle);
  slice.remedy = remedy;
  entry.folders = withMapping(entry.folders, firstMapping(result));
  if (retry?.throttle) {
    sliced.throttled(entry.source, retry.delayMs);
    // retry, --resume and the next migrate run its slices one at a time too (plan.ts).
    entry.throttledWhileSliced ??= new Date(clockOf(deps).now()).toISOString();
  }
  slice.status = retry ? "pending" : statusOf(classification.class);
  if (!retry && decision.reason) slice.remedy = `${slice.remedy} (${decision.reason})`;
  Object.assign(entry, { class: undefined, remedy: undefined }, worstOf(entry.slices!));
  if (retry) {
    setNextAttempt(entry, retry, deps);
    await deps.store.saveEntry(entry);
    return runAgain(ended, retry, deps);
  }
  // Decided before the save: two slices ending together would otherwise both find, after their
  // saves, that none is left, and both verify the mailbox.
  const last = !entry.slices!.some((s) => s.status === "running" || s.status === "pending");
  await deps.store.saveEntry(entry);
  if (!last) return {};
  if (entry.status === "ok" && deps.verifyAfterCopy && !deps.signal.aborted) {
    return { verifyNext: true };
  }
  deps.ui.finished(entry);
  return {};
}

/**
 * A slice stopped because its mailbox was throttled (a sibling's refusal), not by an interruption,
 * before the server refused it too: only then is its attempt "paused" rather than throttled.
 */
function pausedBy(
  pause: AbortSignal | undefined,
  result: AttemptResult,
  deps: EngineDeps,
): boolean {
  const { classification } = result;
  return (
    pause?.aborted === true &&
    !deps.signal.aborted &&
    !result.exit.stalled &&
    classification.class === "interrupted" &&
    !classification.refused
  );
}

/**
 * A slice the stop reached just after the server had refused it too (its log shows the refusal,
 * its exit the stop): the server saw a throttled attempt, and it is counted as one.
 */
function refusedWhenStopped(ended: Ended, pause: AbortSignal | undefined): Ended {
  const { result } = ended;
  const { classification } = result;
  if (!pause?.aborted || classification.class !== "interrupted" || !classification.refused)
    return ended;
  result.attempt.class = "throttled";
  return {
    ...ended,
    result: { ...result, classification: { ...classification, class: "throttled" } },
  };
}

/**
 * A slice its mailbox's throttling stopped (`why`: a sibling refused, or the mailbox near its
 * budget): neither a throttled attempt nor a failure, so the retry policy does not count it. It
 * goes on after its mailbox's wait, or after the slice left running (imapsync is incremental: what
 * it copied stays, and is not copied again).
 */
async function settlePausedSlice(
  { history, entry, result }: Ended,
  plan: MailboxPlan,
  why: unknown,
  deps: EngineDeps,
  sliced: SlicedMailboxes,
): Promise<Next> {
  const slice = sliceOf(entry, plan)!;
  result.attempt.reason = "paused";
  if (result.copied > 0) history.quietSince = clockOf(deps).now();
  const remedy = why === NEAR_BUDGET ? PAUSED_NEAR_BUDGET : PAUSED_BY_THROTTLING;
  Object.assign(slice, { status: "pending", remedy });
  Object.assign(entry, { class: undefined, remedy: undefined }, worstOf(entry.slices!));
  const delayMs = sliced.pausedFor(plan);
  if (delayMs > 0) entry.nextAttemptAt = new Date(clockOf(deps).now() + delayMs).toISOString();
  await deps.store.saveEntry(entry);
  deps.ui.waiting(entry, remedy, delayMs);
  history.plan = deps.replan(history.plan.mode, history.plan, entry);
  return { againInMs: delayMs };
}
