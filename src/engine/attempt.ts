// One planned imapsync attempt, the same for migrate, retry and check: spawn, stream the output
// through the classifier, stop on an interruption or a stall, and return what it recorded.
import { rm } from "node:fs/promises";
import { RunClassifier } from "../imapsync/classify.js";
import { startImapsync, stopOnInterrupt, type ExitStatus } from "../imapsync/run.js";
import type { MailboxPlan } from "../plan/plan.js";
import type { Attempt } from "../report/schema.js";
import type { Classification, Progress } from "../imapsync/classification.js";
import type { Config } from "../config/types.js";
import { destinationBefore } from "../verify/compare.js";
import { FolderSizesParser, type FolderSizes } from "../verify/foldersizes.js";

export interface AttemptIo {
  /** The destination password, read from the plan's source just before the run. */
  password: string | undefined;
  /** First interruption: the run stops through its abort file. */
  signal: AbortSignal;
  /** Second interruption: the run ends at once. */
  forceSignal?: AbortSignal;
  /** The attempt has started (its record exists, not yet ended). */
  started?: (attempt: Attempt) => void | Promise<void>;
  progress?: (progress: Progress) => void;
  /** imapsync could not be started; `reason` is the system's (not found, not executable...). */
  spawnFailed?: (reason: string) => void;
  now?: () => Date;
}

export interface AttemptResult {
  /** The record for the report, ended. */
  attempt: Attempt;
  classification: Classification;
  exit: ExitStatus;
  /** Messages this attempt copied, from the statistics or, for a run that died, its copy lines. */
  copied: number;
  /** The run's folder-size listing (a preflight's, a verification's, a sync's before copying). */
  folderSizes?: FolderSizes;
}

/** Runs one attempt; only the engine's tests replace it (with a fake that needs no imapsync). */
export type AttemptRunner = (plan: MailboxPlan, io: AttemptIo) => Promise<AttemptResult>;

/** The real runner, for the settings a run needs. */
export function imapsyncRunner(
  config: Pick<Config, "workDir" | "stallTimeoutMs" | "stopGraceMs">,
): AttemptRunner {
  return (plan, io) => runAttempt(plan, io, config);
}

/** Every line through the classifier; progress is told when it moved, once per chunk of lines. */
async function classifyLines(
  batches: AsyncIterable<string[]>,
  classifier: RunClassifier,
  sizes: FolderSizesParser,
  progress?: (progress: Progress) => void,
): Promise<void> {
  let lastDone = -1;
  for await (const lines of batches) {
    for (const line of lines) {
      classifier.push(line);
      sizes.push(line);
    }
    const now = classifier.progress;
    if (now && now.done !== lastDone) {
      lastDone = now.done;
      progress?.(now);
    }
  }
}

async function runAttempt(
  plan: MailboxPlan,
  io: AttemptIo,
  config: Pick<Config, "workDir" | "stallTimeoutMs" | "stopGraceMs">,
): Promise<AttemptResult> {
  const now = io.now ?? (() => new Date());
  // A preflight's or verification's log is rewritten each time; a sync attempt has its own.
  if (plan.mode !== "sync") await rm(plan.files.logFile, { force: true });
  const attempt: Attempt = {
    start: now().toISOString(),
    exitCode: null,
    logFile: plan.files.logFile,
  };
  await io.started?.(attempt);
  const [file = "", ...args] = plan.argv;
  const child = startImapsync({
    command: { file, args: [] },
    args,
    files: plan.files,
    password: io.password,
    cwd: config.workDir,
    stallTimeoutMs: config.stallTimeoutMs,
    graceMs: config.stopGraceMs,
  });
  const untie = stopOnInterrupt(child, { ...io, graceMs: config.stopGraceMs });
  const classifier = new RunClassifier();
  // A sync's listing says what the destination held before it (duplicates or older mail, later);
  // a preflight's, how big each folder is (what a big mailbox is sliced by).
  const sizes = new FolderSizesParser();
  let exit: ExitStatus;
  try {
    await classifyLines(child.lines, classifier, sizes, io.progress);
    exit = await child.exited;
  } finally {
    untie();
  }
  // Nothing in the log says why a program that never started failed: say it here.
  if (exit.error) io.spawnFailed?.(exit.error);
  const classification = classifier.finish(exit);
  const { messagesTransferred, messagesCopied } = classification.stats;
  const copied = messagesTransferred ?? messagesCopied ?? 0;
  Object.assign(attempt, {
    end: now().toISOString(),
    exitCode: exit.code,
    signal: exit.signal,
    class: classification.class,
    reason: exit.stalled ? "stalled" : undefined,
    messagesTransferred: copied,
    bytesTransferred: classification.stats.bytesTransferred,
  });
  const folderSizes = sizes.finish();
  if (plan.mode === "sync") {
    attempt.destinationBefore = destinationBefore(folderSizes);
  }
  return { attempt, classification, exit, copied, folderSizes };
}
