// How much CPU the tool may use and how much of it is in use, for `--concurrency auto`. In a
// container that is the cgroup's limit (Docker --cpus, a Kubernetes limit), not the host's cores or
// its load average, which counts other tenants' work and runnable-but-waiting tasks. Reads cgroup
// v2 (`cpu.max`, `cpu.stat`) or v1 (`cpu.cfs_quota_us`/`cpu.cfs_period_us`, `cpuacct.usage`); the
// usage covers every process of the cgroup, so the imapsync runs are counted with the tool.
// Without a limit the CPU available is the machine's, which other work may keep busy: then what is
// measured is the tool's own processes (itself and the imapsync runs it waited for), never the
// machine's load.
import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import path from "node:path";

export interface CpuReader {
  /** CPUs the tool may use (may be fractional: `--cpus 1.5`). */
  limit: number;
  /** Where the limit comes from, for the log line. */
  source: string;
  /** CPU time used so far by the tool's cgroup (or the machine), in ms; undefined if unreadable. */
  usageMs(): number | undefined;
}

function read(file: string): string | undefined {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
}

/** `/proc/self/cgroup` → controller name → path ("" for the unified v2 hierarchy). */
function cgroupPaths(root: string): Map<string, string> {
  const paths = new Map<string, string>();
  for (const line of (read(path.join(root, "proc/self/cgroup")) ?? "").split("\n")) {
    const m = /^\d+:([^:]*):(.*)$/.exec(line);
    if (!m) continue;
    for (const controller of m[1]!.split(",")) paths.set(controller, m[2]!);
  }
  return paths;
}

/**
 * The directory of our cgroup under `mount`, walking up to the mount itself: inside a container
 * the path in /proc/self/cgroup is often the host's, and the container sees its cgroup at the root.
 */
function cgroupDirs(mount: string, own: string): string[] {
  const dirs: string[] = [];
  for (let p = own; ; p = path.posix.dirname(p)) {
    dirs.push(path.join(mount, p));
    if (p === "/" || p === "." || p === "") break;
  }
  return dirs;
}

function firstNumber(text: string | undefined, pattern: RegExp): number | undefined {
  const m = text === undefined ? undefined : pattern.exec(text);
  return m ? Number(m[1]) : undefined;
}

/** CPU time of this process and of the children it has waited for (/proc/self/stat), in ms. */
function ownTreeMs(root: string): number | undefined {
  const stat = read(path.join(root, "proc/self/stat"));
  if (stat === undefined) return undefined;
  // Fields after the command name in parentheses: utime stime cutime cstime are 14–17.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = [11, 12, 13, 14].reduce((sum, i) => sum + Number(fields[i] ?? NaN), 0);
  return Number.isFinite(ticks) ? ticks * CLOCK_TICK_MS : undefined;
}

/** USER_HZ, 100 on every Linux the image and CI run. */
const CLOCK_TICK_MS = 10;

function machineReader(root: string, machine: number): CpuReader {
  return {
    limit: machine,
    source: `${machine} CPUs of the machine, no cgroup limit (the tool's own processes are measured)`,
    usageMs: () => ownTreeMs(root),
  };
}

/** `root` is "/" except in tests, which lay out a fake /proc and /sys under a folder. */
export function cpuReader(root = "/"): CpuReader {
  const machine = availableParallelism();
  const paths = cgroupPaths(root);
  const sys = path.join(root, "sys/fs/cgroup");

  const v2 = paths.get("");
  if (v2 !== undefined && read(path.join(sys, "cgroup.controllers")) !== undefined) {
    const dirs = cgroupDirs(sys, v2);
    let limit = machine;
    let source = "";
    for (const dir of dirs) {
      const m = /^(\d+) (\d+)/.exec(read(path.join(dir, "cpu.max")) ?? "");
      if (m && Number(m[1]) / Number(m[2]) < limit) {
        limit = Number(m[1]) / Number(m[2]);
        source = `cgroup v2 cpu.max (${limit} CPUs)`;
      }
    }
    if (source === "") return machineReader(root, machine);
    const stat = dirs.find((dir) => read(path.join(dir, "cpu.stat")) !== undefined);
    return {
      limit,
      source,
      usageMs: () =>
        stat === undefined
          ? undefined
          : mapDefined(
              firstNumber(read(path.join(stat, "cpu.stat")), /^usage_usec (\d+)/m),
              (us) => us / 1000,
            ),
    };
  }

  const cpu = paths.get("cpu");
  const acct = paths.get("cpuacct");
  let limit = machine;
  let source = "";
  if (cpu !== undefined) {
    for (const dir of cgroupDirs(path.join(sys, "cpu"), cpu)) {
      const quota = firstNumber(read(path.join(dir, "cpu.cfs_quota_us")), /^(-?\d+)/);
      const period = firstNumber(read(path.join(dir, "cpu.cfs_period_us")), /^(\d+)/);
      if (quota !== undefined && quota > 0 && period && quota / period < limit) {
        limit = quota / period;
        source = `cgroup v1 cpu.cfs_quota_us (${limit} CPUs)`;
      }
    }
  }
  if (source === "") return machineReader(root, machine);
  const usageFile =
    acct === undefined
      ? undefined
      : cgroupDirs(path.join(sys, "cpuacct"), acct)
          .map((dir) => path.join(dir, "cpuacct.usage"))
          .find((file) => read(file) !== undefined);
  return {
    limit,
    source,
    usageMs: () =>
      usageFile === undefined
        ? undefined
        : mapDefined(firstNumber(read(usageFile), /^(\d+)/), (ns) => ns / 1e6),
  };
}

function mapDefined<T, U>(value: T | undefined, f: (v: T) => U): U | undefined {
  return value === undefined ? undefined : f(value);
}

/** The share of the limit in use between two calls: 1 means every allowed CPU was busy. */
export class CpuMeter {
  private last?: { at: number; usage: number };

  constructor(
    private readonly reader: CpuReader,
    private readonly now: () => number = Date.now,
  ) {}

  busy(): number | undefined {
    const usage = this.reader.usageMs();
    const at = this.now();
    if (usage === undefined) return undefined;
    const last = this.last;
    this.last = { at, usage };
    if (!last || at <= last.at) return undefined;
    return (usage - last.usage) / (at - last.at) / this.reader.limit;
  }
}
