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
import { readLines } from "../lines.js";
import type { Command } from "../types.js";
import { abortFilePath, buildEnv, type RunPaths } from "./args.js";
import type { ExitStatus as ProcessExit } from "./classify.js";

/** How the process ended (exit code, or the signal that killed it), as the classifier reads it. */
export interface ExitStatus extends ProcessExit {
  /** Set when the program could not be started at all (not found, not executable...). */
  error?: string;
}

export interface ImapsyncProcess {
  pid: number | undefined;
  /** stdout and stderr merged, line by line. Must be consumed, or imapsync blocks on a full pipe. */
  lines: AsyncIterable<string>;
  /** Settles once the process has ended and its passfile is gone. */
  exited: Promise<ExitStatus>;
  /**
   * "abort": the abort file first (imapsync prints its statistics and exits 7), SIGTERM after
   * graceMs, SIGKILL after another graceMs. "term" starts at SIGTERM. Resolves when it has ended.
   * Never SIGINT: on a plain host one SIGINT only makes imapsync reconnect.
   */
  stop(reason: "abort" | "term", graceMs?: number): Promise<void>;
}

const DEFAULT_GRACE_MS = 8000;

/** Names of inherited variables that may hold one of our secrets; the child needs none of them. */
const SECRET_NAME = /PASS|SECRET|TOKEN|KEY/i;

function childEnv(extra: Record<string, string> | undefined): Record<string, string> {
  const inherited = Object.entries(process.env).filter(
    (entry): entry is [string, string] => entry[1] !== undefined && !SECRET_NAME.test(entry[0]),
  );
  return { ...Object.fromEntries(inherited), ...buildEnv(), ...extra };
}

/** The destination password, readable by us only, created with its final mode (no window). */
function writePassFile(files: RunPaths, password: string): void {
  mkdirSync(files.secretsDir, { recursive: true, mode: 0o700 });
  chmodSync(files.secretsDir, 0o700);
  // A passfile left by a run that was killed is stale; `wx` then guarantees we created this one.
  rmSync(files.passFile, { force: true });
  writeFileSync(files.passFile, `${password}\n`, { mode: 0o600, flag: "wx" });
}

/** Copies every chunk into the log before passing it on, so the log is exactly the output. */
function teeToLog(logFile: string): Transform {
  const log = createWriteStream(logFile, { flags: "a" });
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
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

export function startImapsync(p: {
  command: Command;
  args: string[];
  files: RunPaths;
  password?: string;
  env?: Record<string, string>;
  cwd: string;
}): ImapsyncProcess {
  const { files } = p;
  mkdirSync(path.dirname(files.logFile), { recursive: true });
  mkdirSync(files.dir, { recursive: true });
  // imapsync would happily overwrite it, but a leftover must not be mistaken for this run's.
  rmSync(files.pidFile, { force: true });
  if (p.password !== undefined) writePassFile(files, p.password);

  const child = execa(p.command.file, [...p.command.args, ...p.args], {
    cwd: p.cwd,
    env: childEnv(p.env),
    extendEnv: false,
    // A closed stdin: imapsync must never sit at a password prompt.
    stdin: "ignore",
    all: true,
    buffer: false,
    reject: false,
    forceKillAfterDelay: false,
  });
  const pid = child.pid;
  const abortFile = pid !== undefined ? abortFilePath(files.pidFile, pid) : undefined;
  let ended = false;

  const exited = (async (): Promise<ExitStatus> => {
    try {
      const result = await child;
      const signal = result.signal ?? null;
      const status: ExitStatus = { code: signal ? null : (result.exitCode ?? null), signal };
      if (result.failed && result.exitCode === undefined && !signal) {
        status.error = result.originalMessage || result.shortMessage;
      }
      return status;
    } finally {
      ended = true;
      for (const file of [files.passFile, files.pidFile, abortFile]) {
        if (file) rmSync(file, { force: true });
      }
    }
  })();

  const output: Readable = pipeline(child.all, teeToLog(files.logFile), () => {
    // A failure (the log cannot be written...) is thrown to whoever reads `lines`.
  });

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

  const stop = async (reason: "abort" | "term", graceMs = DEFAULT_GRACE_MS): Promise<void> => {
    if (!ended && pid !== undefined) await escalate(reason, graceMs);
    await exited;
    // The process may have ended just as we touched the file; then nobody else removes it.
    if (abortFile) rmSync(abortFile, { force: true });
  };

  const escalate = async (reason: "abort" | "term", graceMs: number): Promise<void> => {
    if (reason === "abort" && abortFile) {
      touch(abortFile);
      if (await endedWithin(graceMs)) return;
    }
    child.kill("SIGTERM");
    if (await endedWithin(graceMs)) return;
    child.kill("SIGKILL");
  };

  return { pid, lines: readLines(output), exited, stop };
}
