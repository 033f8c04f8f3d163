import {
  createWriteStream,
  mkdirSync,
  chmodSync,
  rmSync,
  writeFileSync,
  closeSync,
  openSync,
} from "node:fs";
import path from "node:path";
import { Transform, pipeline, type Readable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { execa } from "execa";
import { readLineBatches } from "../lines.js";
import { childEnv } from "../secrets.js";
import type { Command } from "../config/types.js";
import { abortFilePath, buildEnv, type RunPaths } from "./args.js";
import type { ExitStatus as ProcessExit } from "./classify.js";

/** How the process ended (exit code, or the signal that killed it), as the classifier reads it. */
export interface ExitStatus extends ProcessExit {
  /** Set when the program could not be started at all (not found, not executable...). */
  error?: string;
  /** The run printed nothing for the stall limit and was stopped by us. */
  stalled?: boolean;
}

export interface ImapsyncProcess {
  pid: number | undefined;
  /** stdout and stderr merged, in lines a chunk at a time. Must be consumed, or imapsync blocks on a full pipe. */
  lines: AsyncIterable<string[]>;
  /** Settles once the process has ended and its passfile is gone. */
  exited: Promise<ExitStatus>;
  /**
   * "abort": the abort file first (imapsync prints its statistics and exits 7), SIGTERM after
   * graceMs, SIGKILL TERM_GRACE_MS later. "term" starts at SIGTERM. Resolves when it has ended.
   * Never SIGINT: on a plain host one SIGINT only makes imapsync reconnect.
   */
  stop(reason: "abort" | "term", graceMs?: number): Promise<void>;
}

/** Default of STOP_GRACE: with TERM_GRACE_MS and the report write, well inside docker stop's 10 s. */
export const DEFAULT_GRACE_MS = 5000;
/** imapsync dies of SIGTERM right after printing its statistics: 2 s is plenty. */
export const TERM_GRACE_MS = 2000;

/** The longest stop() can take before the process is certainly gone (SIGKILL is immediate). */
export function stopBudgetMs(graceMs = DEFAULT_GRACE_MS): number {
  return graceMs + TERM_GRACE_MS;
}

/**
 * Runs that have not ended. imapsync runs in its own process group (so a terminal's Ctrl-C
 * reaches only us), which also means nothing kills it when we die: on any exit we can still
 * run code at, they get SIGTERM and their password files go. After a `kill -9`, the next start
 * finds them through their pidfiles (workdir/lock.ts).
 */
const live = new Map<number, { kill: () => void; secret?: string }>();
process.once("exit", () => {
  for (const run of live.values()) {
    run.kill();
    if (run.secret) rmSync(run.secret, { force: true });
  }
});

/** Names of inherited variables that may hold one of our secrets; the child needs none of them. */
const SECRET_NAME = /PASS|SECRET|TOKEN|KEY/i;

/** The destination password, readable by us only, created with its final mode (no window). */
function writePassFile(files: RunPaths, password: string): void {
  mkdirSync(files.secretsDir, { recursive: true, mode: 0o700 });
  chmodSync(files.secretsDir, 0o700);
  // A passfile left by a run that was killed is stale; `wx` then guarantees we created this one.
  rmSync(files.passFile, { force: true });
  writeFileSync(files.passFile, `${password}\n`, { mode: 0o600, flag: "wx" });
}

/** Copies every chunk into the log before passing it on, so the log is exactly the output. */
function teeToLog(logFile: string, onChunk: () => void): Transform {
  const log = createWriteStream(logFile, { flags: "a" });
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      onChunk();
      log.write(chunk, (error) => done(error, chunk));
    },
    flush(done) {
      log.end(() => done());
    },
  });
}

function touch(file: string): void {
  closeSync(openSync(file, "a"));
}

export interface StartOptions {
  command: Command;
  args: string[];
  files: RunPaths;
  password?: string;
  env?: Record<string, string>;
  cwd: string;
  /** Stop the run (abort file, then SIGTERM) when it prints nothing for this long; 0: never. */
  stallTimeoutMs?: number;
  /** Grace between the abort file and SIGTERM for a stalled run. */
  graceMs?: number;
}

type Child = ReturnType<typeof spawn>;

/** What the pieces of one run share: whether it has ended, and whether we stopped it as stalled. */
interface RunState {
  ended: boolean;
  stalled: boolean;
  lastOutput: number;
}

function spawn(p: StartOptions) {
  const { files } = p;
  mkdirSync(path.dirname(files.logFile), { recursive: true });
  mkdirSync(files.dir, { recursive: true });
  // imapsync would happily overwrite it, but a leftover must not be mistaken for this run's.
  rmSync(files.pidFile, { force: true });
  if (p.password !== undefined) writePassFile(files, p.password);
  return execa(p.command.file, [...p.command.args, ...p.args], {
    cwd: p.cwd,
    env: childEnv(SECRET_NAME, { ...buildEnv(), ...p.env }),
    extendEnv: false,
    // A closed stdin: imapsync must never sit at a password prompt.
    stdin: "ignore",
    all: true,
    buffer: false,
    reject: false,
    forceKillAfterDelay: false,
    // Its own process group: a Ctrl-C on the terminal would send it SIGINT, which only makes
    // imapsync reconnect; what it receives is decided by stop() alone.
    detached: true,
  });
}

/** How the process ended; its passfile, pidfile and abort file are gone once this settles. */
async function exitStatus(
  child: Child,
  files: RunPaths,
  abortFile: string | undefined,
  state: RunState,
): Promise<ExitStatus> {
  try {
    const result = await child;
    const signal = result.signal ?? null;
    const status: ExitStatus = { code: signal ? null : (result.exitCode ?? null), signal };
    if (result.failed && result.exitCode === undefined && !signal) {
      status.error = result.originalMessage || result.shortMessage;
    }
    if (state.stalled) status.stalled = true;
    return status;
  } finally {
    state.ended = true;
    if (child.pid !== undefined) live.delete(child.pid);
    for (const file of [files.passFile, files.pidFile, abortFile]) {
      if (file) rmSync(file, { force: true });
    }
  }
}

/** Checking a few times per period finds a stall within 1.25 × the limit, with one timer. */
function watchForStall(
  limit: number,
  state: RunState,
  exited: Promise<unknown>,
  stop: () => void,
): void {
  const watchdog = setInterval(
    () => {
      if (Date.now() - state.lastOutput < limit) return;
      clearInterval(watchdog);
      state.stalled = true;
      stop();
    },
    Math.max(50, Math.floor(limit / 4)),
  );
  void exited.finally(() => clearInterval(watchdog));
}

/** Abort file, then SIGTERM, then SIGKILL, each after its grace, until the process is gone. */
function stopper(
  child: Child,
  exited: Promise<unknown>,
  abortFile: string | undefined,
  state: RunState,
): ImapsyncProcess["stop"] {
  /** Waits up to ms for the end; true if the process is gone. */
  const endedWithin = async (ms: number): Promise<boolean> => {
    const timer = new AbortController();
    const done = await Promise.race([
      exited.then(() => true),
      sleep(ms, false, { signal: timer.signal }).catch(() => false),
    ]);
    timer.abort();
    return done;
  };
  const escalate = async (reason: "abort" | "term", graceMs: number): Promise<void> => {
    if (reason === "abort" && abortFile) {
      touch(abortFile);
      if (await endedWithin(graceMs)) return;
    }
    child.kill("SIGTERM");
    if (await endedWithin(reason === "term" ? graceMs : TERM_GRACE_MS)) return;
    child.kill("SIGKILL");
  };
  return async (reason, graceMs = DEFAULT_GRACE_MS) => {
    if (!state.ended && child.pid !== undefined) await escalate(reason, graceMs);
    await exited;
    // The process may have ended just as we touched the file; then nobody else removes it.
    if (abortFile) rmSync(abortFile, { force: true });
  };
}

export function startImapsync(p: StartOptions): ImapsyncProcess {
  const child = spawn(p);
  const pid = child.pid;
  const abortFile = pid !== undefined ? abortFilePath(p.files.pidFile, pid) : undefined;
  const state: RunState = { ended: false, stalled: false, lastOutput: Date.now() };
  if (pid !== undefined) {
    live.set(pid, {
      kill: () => child.kill("SIGTERM"),
      secret: p.password !== undefined ? p.files.passFile : undefined,
    });
  }
  const exited = exitStatus(child, p.files, abortFile, state);
  const output: Readable = pipeline(
    child.all,
    teeToLog(p.files.logFile, () => (state.lastOutput = Date.now())),
    () => {
      // A failure (the log cannot be written...) is thrown to whoever reads `lines`.
    },
  );
  const stop = stopper(child, exited, abortFile, state);
  if (p.stallTimeoutMs) {
    watchForStall(p.stallTimeoutMs, state, exited, () => void stop("abort", p.graceMs));
  }
  return { pid, lines: readLineBatches(output), exited, stop };
}

/**
 * Ties a run to the tool's interruptions: the first signal stops it through its abort file, a
 * second one at once. Returns what undoes the tie once the run has ended.
 */
export function stopOnInterrupt(
  child: ImapsyncProcess,
  interrupts: { signal: AbortSignal; forceSignal?: AbortSignal; graceMs?: number },
): () => void {
  const stop = () => void child.stop("abort", interrupts.graceMs);
  const kill = () => void child.stop("term", TERM_GRACE_MS);
  interrupts.signal.addEventListener("abort", stop, { once: true });
  interrupts.forceSignal?.addEventListener("abort", kill, { once: true });
  if (interrupts.signal.aborted) stop();
  return () => {
    interrupts.signal.removeEventListener("abort", stop);
    interrupts.forceSignal?.removeEventListener("abort", kill);
  };
}

/** `imapsync --version`, for `check`; a sentence when it does not answer. */
export async function imapsyncVersion(cmd: Command): Promise<string> {
  const result = await execa(cmd.file, [...cmd.args, "--version"], {
    stdin: "ignore",
    timeout: 30_000,
    reject: false,
  });
  const version = /^\s*(\d+\.\d+\S*)\s*$/m.exec(String(result.stdout ?? ""))?.[1];
  return result.exitCode === 0 && version ? version : "version unknown (`--version` failed)";
}
