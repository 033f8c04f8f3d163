// What a crashed run (kill -9, power cut, OOM killer) leaves in the work directory, and how the
// next start deals with it: the lock, the imapsync processes still running, the password files.
import { existsSync, readFileSync, readlinkSync } from "node:fs";
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import lockfile from "proper-lockfile";
import { UserError } from "../errors.js";
import { abortFilePath } from "../imapsync/args.js";
import { TERM_GRACE_MS } from "../imapsync/run.js";

/** proper-lockfile's fallback when the holder cannot be checked (another host, another container). */
export const LOCK_STALE_MS = 30_000;

/**
 * Who holds the lock: a process is the same one only if its PID namespace, its boot and its start
 * time (in clock ticks since boot) match, so a reused PID or another container is never mistaken
 * for the holder.
 */
interface Owner {
  pid: number;
  pidNamespace: string;
  bootId: string;
  startTicks: string;
}

function readOr(read: () => string, fallback: string): string {
  try {
    return read();
  } catch {
    return fallback;
  }
}

/** Field 22 of /proc/<pid>/stat; the command name (field 2) may hold spaces and parentheses. */
function startTicks(pid: number): string | undefined {
  const stat = readOr(() => readFileSync(`/proc/${pid}/stat`, "utf8"), "");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return fields[19];
}

function currentOwner(): Owner {
  return {
    pid: process.pid,
    pidNamespace: readOr(() => readlinkSync("/proc/self/ns/pid"), "unknown"),
    bootId: readOr(() => readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim(), "unknown"),
    startTicks: startTicks(process.pid) ?? "unknown",
  };
}

/** True only when the owner certainly no longer runs; anything uncertain counts as alive. */
function ownerIsGone(owner: Owner, me: Owner): boolean {
  if (me.pidNamespace === "unknown" || me.bootId === "unknown") return false;
  if (owner.pidNamespace !== me.pidNamespace || owner.bootId !== me.bootId) return false;
  return startTicks(owner.pid) !== owner.startTicks;
}

async function readOwner(file: string): Promise<Owner | undefined> {
  try {
    const owner = JSON.parse(await readFile(file, "utf8")) as Partial<Owner>;
    return typeof owner.pid === "number" && typeof owner.startTicks === "string"
      ? (owner as Owner)
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Runs `work` holding the work directory's lock. A second instance is refused with a sentence
 * naming the holder. A lock whose holder died (kill -9) is taken over at once when the holder is
 * known to be gone, otherwise once proper-lockfile deems it stale (LOCK_STALE_MS without update).
 */
export async function withWorkDirLock(
  workDir: string,
  work: () => Promise<number>,
): Promise<number> {
  await mkdir(workDir, { recursive: true, mode: 0o700 });
  const lockPath = path.join(workDir, ".lock");
  const ownerFile = path.join(workDir, ".lock.owner");
  const me = currentOwner();
  const lock = () =>
    lockfile.lock(workDir, { lockfilePath: lockPath, stale: LOCK_STALE_MS, update: 10_000 });
  let release: () => Promise<void>;
  try {
    release = await lock();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ELOCKED") throw error;
    const owner = await readOwner(ownerFile);
    if (!owner || !ownerIsGone(owner, me)) throw lockedError(workDir, lockPath, owner);
    // The holder is dead: its lock is ours to remove. Another instance doing the same at this
    // very moment makes one of the two lock() calls fail, as it should.
    await rm(lockPath, { recursive: true, force: true });
    release = await lock().catch((again: NodeJS.ErrnoException) => {
      throw again.code === "ELOCKED" ? lockedError(workDir, lockPath, undefined) : again;
    });
  }
  await writeFile(ownerFile, `${JSON.stringify(me)}\n`, { mode: 0o600 });
  try {
    return await work();
  } finally {
    await rm(ownerFile, { force: true });
    await release().catch(() => undefined);
  }
}

function lockedError(workDir: string, lockPath: string, owner: Owner | undefined): UserError {
  const who = owner ? ` (process ${owner.pid})` : "";
  return new UserError(
    `Another m365-imapsync${who} is already working in ${workDir} (lock ${lockPath}). ` +
      `Wait for it to finish, or use another WORK_DIR. A lock left by a run that crashed is taken over at the next start, or after ${LOCK_STALE_MS / 1000} seconds when that run was on another machine or container.`,
  );
}

/** An imapsync started by an earlier run of the tool that is still running. */
export interface Leftover {
  pid: number;
  pidFile: string;
  /** Its --user1: the mailbox it is copying. */
  mailbox: string;
}

function commandLine(pid: number): string[] | undefined {
  const text = readOr(() => readFileSync(`/proc/${pid}/cmdline`, "utf8"), "");
  return text === "" ? undefined : text.split("\0").slice(0, -1);
}

/** The process is an imapsync that writes this very pidfile (not a reused PID), and runs. */
function runsWith(pid: number, pidFile: string): string[] | undefined {
  const argv = commandLine(pid);
  if (!argv) return undefined;
  const at = argv.findIndex((word, i) => word === "--pidfile" && argv[i + 1] === pidFile);
  return at === -1 ? undefined : argv;
}

export function isRunning(leftover: Leftover): boolean {
  return runsWith(leftover.pid, leftover.pidFile) !== undefined;
}

/**
 * The imapsync processes an earlier run left behind, from their pidfiles in WORK_DIR/run (PID on
 * the first line). Pidfiles and abort files of processes that are gone are removed.
 */
export async function findLeftovers(workDir: string): Promise<Leftover[]> {
  const dir = path.join(workDir, "run");
  const names = await readdir(dir).catch(() => [] as string[]);
  const leftovers: Leftover[] = [];
  for (const name of names.filter((n) => n.endsWith(".pid"))) {
    const pidFile = path.join(dir, name);
    const text = await readFile(pidFile, "utf8").catch(() => "");
    const pid = Number(/^\d+/.exec(text)?.[0]);
    const argv = pid > 0 ? runsWith(pid, pidFile) : undefined;
    const user1 = argv?.[argv.indexOf("--user1") + 1];
    if (argv && user1 !== undefined) {
      leftovers.push({ pid, pidFile, mailbox: user1 });
      continue;
    }
    await rm(pidFile, { force: true });
    for (const abort of names.filter((n) => n.startsWith(`${name}abort`))) {
      await rm(path.join(dir, abort), { force: true });
    }
  }
  return leftovers;
}

async function goneWithin(leftover: Leftover, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (isRunning(leftover)) {
    if (Date.now() >= deadline) return false;
    await sleep(100);
  }
  return true;
}

/** Stops a leftover the way the tool stops its own runs: abort file, SIGTERM, SIGKILL. */
export async function stopLeftover(leftover: Leftover, graceMs: number): Promise<void> {
  const abortFile = abortFilePath(leftover.pidFile, leftover.pid);
  await writeFile(abortFile, "");
  try {
    if (await goneWithin(leftover, graceMs)) return;
    for (const [signal, wait] of [
      ["SIGTERM", TERM_GRACE_MS],
      ["SIGKILL", TERM_GRACE_MS],
    ] as const) {
      if (!isRunning(leftover)) return;
      process.kill(leftover.pid, signal);
      if (await goneWithin(leftover, wait)) return;
    }
  } finally {
    await rm(abortFile, { force: true });
  }
}

/**
 * Password files of runs that ended without cleaning up (the tool was killed). Called under the
 * lock, before any run starts, so none of them belongs to a live run of ours; a leftover imapsync
 * read its password file when it started.
 */
export async function removeLeftoverSecrets(workDir: string): Promise<number> {
  const dir = path.join(workDir, "secrets");
  if (!existsSync(dir)) return 0;
  const names = await readdir(dir);
  for (const name of names) await rm(path.join(dir, name), { recursive: true, force: true });
  return names.length;
}
