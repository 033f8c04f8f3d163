import { buildImapsyncArgs, runPaths } from "./imapsync/args.js";
import { RunClassifier } from "./imapsync/classify.js";
import { startImapsync, stopOnInterrupt, type ExitStatus } from "./imapsync/run.js";
import type { ReportStore } from "./report.js";
import { remedyFor } from "./remedies.js";
import { decideRetry, schedule, type AttemptOutcome } from "./scheduler.js";
import { limitFor, type ConcurrencyLimit } from "./engine/limit.js";
import { TokenError } from "./errors.js";
import type { StoredToken, TokenKeeper } from "./token.js";
import type { Attempt, Classification, Config, Mailbox, ReportEntry } from "./types.js";
import { formatDuration, type Ui } from "./ui.js";
import { readDestinationAdminPassword } from "./users.js";
import { isRunning, type Leftover } from "./workdir.js";

export const WAITING_FOR_TOKEN =
  "Waiting for an access token: run `m365-imapsync token`, then `migrate --resume`.";

export interface MigrationContext {
  config: Config;
  store: ReportStore;
  tokens: TokenKeeper;
  tokenFile: string;
  ui: Ui;
  signal: AbortSignal;
  /** A second interruption: runs are ended at once instead of through their abort file. */
  forceSignal?: AbortSignal;
  /** imapsync runs a crashed earlier run left behind: their mailboxes wait until they end. */
  leftovers?: Leftover[];
}

/** How often a mailbox held by a leftover imapsync looks again whether it has ended. */
const LEFTOVER_POLL_MS = 1000;

/**
 * Runs every mailbox to a final state: the scheduler decides when, `attemptMailbox` runs one
 * imapsync, `decideRetry` reads the outcome, the report is saved after every change.
 */
export async function migrate(mailboxes: Mailbox[], ctx: MigrationContext): Promise<void> {
  const destPassword = await readDestinationAdminPassword(ctx.config);
  // Stops new starts only; runs in flight are stopped by ctx.signal alone.
  const starting = new AbortController();
  const stopStarting = () => starting.abort();
  ctx.signal.addEventListener("abort", stopStarting, { once: true });
  let tokenFailure: TokenError | undefined;
  /** Mailboxes whose last run saw this token expire: they need a newer one, whatever its `exp`. */
  const expiredToken = new Map<string, StoredToken>();
  const history = new Map<string, { total: number; unproductive: number }>();
  for (const mailbox of mailboxes) {
    history.set(mailbox.source, { total: 0, unproductive: 0 });
    const entry = ctx.store.entry(mailbox.source);
    entry.status = "pending";
  }
  await ctx.store.save();

  const stopTokenFailure = (error: TokenError) => {
    tokenFailure ??= error;
    starting.abort();
  };
  let inFlight = 0;
  // While runs are in flight, the token is renewed when it enters the margin (for a grant that
  // needs a person: the sign-in is asked for then, and the runs keep going), so that waiting
  // mailboxes start at once and an imapsync that re-reads the token file finds a live one.
  const stopRefreshing = ctx.tokens.keepFresh({
    wanted: () => inFlight > 0,
    onFailure: (error) => {
      const failure =
        error instanceof TokenError
          ? error
          : new TokenError(`Getting a new access token failed unexpectedly: ${String(error)}.`);
      ctx.ui.warn(`${failure.message} Running mailboxes go on; no new mailbox starts.`);
      stopTokenFailure(failure);
    },
  });

  const limit = limitFor(ctx.config, {
    mailboxes: mailboxes.length,
    info: (line) => ctx.ui.info(line),
    log: (change) => ctx.ui.concurrency(change),
  });
  const unfinished = await schedule(
    mailboxes,
    { concurrency: limit, signal: starting.signal },
    async (mailbox) => {
      const entry = ctx.store.entry(mailbox.source);
      const counts = history.get(mailbox.source)!;
      // Two imapsync on one mailbox would copy messages twice.
      const leftover = ctx.leftovers?.find((l) => sameAddress(l.mailbox, mailbox.source));
      if (leftover && isRunning(leftover)) {
        entry.remedy = `An imapsync left by an earlier run (PID ${leftover.pid}) is still copying this mailbox; it starts when that one ends (--stop-leftovers stops it).`;
        return { againInMs: LEFTOVER_POLL_MS };
      }
      let token: StoredToken;
      try {
        const stale = expiredToken.get(mailbox.source);
        token = stale ? await ctx.tokens.renewAfterExpiry(stale) : await ctx.tokens.fresh();
        expiredToken.delete(mailbox.source);
      } catch (error) {
        if (!(error instanceof TokenError)) throw error;
        stopTokenFailure(error);
        return { againInMs: 0 };
      }
      inFlight++;
      limit.attemptStarted(mailbox.source);
      const { outcome, classification } = await attemptMailbox(
        mailbox,
        entry,
        destPassword ?? mailbox.password,
        ctx,
        limit,
      ).finally(() => inFlight--);
      limit.attemptEnded(mailbox.source, {
        copied: outcome.copied,
        bytes: entry.attempts.at(-1)?.bytesTransferred ?? 0,
        throttled: classification.class === "throttled",
      });
      counts.total++;
      if (outcome.copied === 0) counts.unproductive++;
      entry.class = classification.class;
      const decision = ctx.signal.aborted
        ? { retry: false as const }
        : decideRetry(outcome, counts, ctx.config);
      entry.remedy = remedyFor(classification.class, {
        // What the tool will really wait (capped by MAX_BACKOFF), not only what was suggested.
        backoffMs: decision.retry ? decision.delayMs : classification.backoffMs,
        mailbox: mailbox.source,
        admin: ctx.config.loginHint,
      });
      const stalled = entry.attempts.at(-1)?.reason === "stalled";
      if (stalled) {
        entry.remedy = `The run printed nothing for ${formatDuration(ctx.config.stallTimeoutMs ?? 0)} and was stopped (STALL_TIMEOUT): the server stopped answering. It is retried like a lost connection; if it keeps happening, check the network to both servers.`;
      }
      entry.folders ??= classification.folders.length > 0 ? classification.folders : undefined;

      if (decision.retry) {
        entry.status = "pending";
        await ctx.store.saveEntry(entry);
        ctx.ui.waiting(
          entry,
          stalled ? "the run went silent (STALL_TIMEOUT)" : decision.reason,
          decision.delayMs,
        );
        if (decision.renewToken) expiredToken.set(mailbox.source, token);
        return { againInMs: decision.delayMs };
      }
      entry.status = statusOf(classification);
      if (decision.reason) entry.remedy = `${entry.remedy} (${decision.reason})`;
      await ctx.store.saveEntry(entry);
      limit.mailboxDone(mailbox.source);
      ctx.ui.finished(entry);
      return {};
    },
  );
  limit.stop();
  stopRefreshing();
  ctx.signal.removeEventListener("abort", stopStarting);
  // Mailboxes that never started, or were waiting for their next attempt, stay pending:
  // `migrate --resume` or `retry` picks them up.
  for (const mailbox of unfinished) {
    const entry = ctx.store.entry(mailbox.source);
    entry.status = "pending";
    if (tokenFailure) {
      entry.remedy = WAITING_FOR_TOKEN;
    }
    ctx.ui.finished(entry);
  }
  await ctx.store.save();
  if (tokenFailure) throw tokenFailure;
}

function sameAddress(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

function statusOf(classification: Classification): ReportEntry["status"] {
  if (classification.class === "ok") return "ok";
  if (classification.class === "interrupted") return "interrupted";
  return "failed";
}

/** One imapsync run for one mailbox, recorded in the report as it goes. */
async function attemptMailbox(
  mailbox: Mailbox,
  entry: ReportEntry,
  password: string | undefined,
  ctx: MigrationContext,
  limit: ConcurrencyLimit,
): Promise<{ outcome: AttemptOutcome; classification: Classification }> {
  const number = entry.attempts.length + 1;
  const files = runPaths(ctx.config.workDir, mailbox.source, number);
  const attempt: Attempt = {
    start: new Date().toISOString(),
    exitCode: null,
    logFile: files.logFile,
  };
  entry.attempts.push(attempt);
  entry.status = "running";
  await ctx.store.saveEntry(entry);
  ctx.ui.attemptStarted(mailbox.source, number);

  const args = buildImapsyncArgs({
    mailbox,
    config: ctx.config,
    tokenFile: ctx.tokenFile,
    files,
    folders: entry.folders,
  });
  const classifier = new RunClassifier();
  let exit: ExitStatus;
  const child = startImapsync({
    command: ctx.config.imapsync,
    args,
    files,
    password,
    cwd: ctx.config.workDir,
    stallTimeoutMs: ctx.config.stallTimeoutMs,
    graceMs: ctx.config.stopGraceMs,
  });
  const untie = stopOnInterrupt(child, { ...ctx, graceMs: ctx.config.stopGraceMs });
  try {
    let lastDone = -1;
    for await (const line of child.lines) {
      classifier.push(line);
      const progress = classifier.progress;
      if (progress && progress.done !== lastDone) {
        lastDone = progress.done;
        limit.progress(mailbox.source, progress.done);
        ctx.ui.progress(mailbox.source, progress);
      }
    }
    exit = await child.exited;
  } finally {
    untie();
  }
  // Nothing in the log says why a program that never started failed: say it here.
  if (exit.error) ctx.ui.warn(`${mailbox.source}: imapsync could not be started: ${exit.error}`);

  const classification = classifier.finish(exit);
  const { messagesTransferred, messagesCopied } = classification.stats;
  const copied = messagesTransferred ?? messagesCopied ?? 0;
  Object.assign(attempt, {
    end: new Date().toISOString(),
    exitCode: exit.code,
    signal: exit.signal,
    class: classification.class,
    reason: exit.stalled ? "stalled" : undefined,
    messagesTransferred: copied,
    bytesTransferred: classification.stats.bytesTransferred,
  });
  return {
    classification,
    outcome: {
      // A run that hung is a connection that died without saying so.
      class: exit.stalled ? "other" : classification.class,
      backoffMs: classification.backoffMs,
      lostConnection: classification.lostConnection || Boolean(exit.stalled),
      copied,
    },
  };
}
