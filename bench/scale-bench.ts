// The tool's own cost at thousands of mailboxes: `migrate` with a fake imapsync that prints a
// real success log (so imapsync's cost is near zero and what is left is ours), one token, then
// `migrate --plan` and the users-file parser at 100,000 mailboxes, and kill -9 trials.
// Not a test: `npm run bench:scale` builds, then runs this; the figures go to bench/README.md.
//
//   SCALE_SIZES=1000,10000   mailboxes per migrate run
//   SCALE_CONCURRENCY=8      --concurrency of those runs
//   SCALE_PLAN=100000        mailboxes for --plan and the parser (0: skip)
//   SCALE_KILL9=3            kill -9 trials at the largest size (0: skip)
//   SCALE_NODE_FLAGS         node flags instead of those of the CLI's first line ("" for none)
import { chmod, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { closeSync, openSync, readFileSync } from "node:fs";
import path from "node:path";
import { execa } from "execa";
import { mintAccessToken } from "../test/doubles/entra.js";
import { loadReport } from "../src/report/store.js";

const root = path.resolve(import.meta.dirname, "../..");
const outDir = path.join(root, "bench", "out", "scale");
const cli = path.join(root, "dist/src/cli.js");
const successLog = path.join(root, "fixtures/imapsync-2.229-m365/ok_xoauth2_delegated.log");
const sizes = (process.env.SCALE_SIZES ?? "1000,10000").split(",").map(Number);
const concurrency = Number(process.env.SCALE_CONCURRENCY ?? 8);
const planSize = Number(process.env.SCALE_PLAN ?? 100_000);
const kill9Trials = Number(process.env.SCALE_KILL9 ?? 3);
const TENANT = "11111111-2222-3333-4444-555555555555";
const ADMIN = "admin@contoso.test";
const CLOCK_TICK_MS = 10; // USER_HZ is 100 on Linux
/** The node flags of the CLI's first line (`#!/usr/bin/env -S node …`): as `m365-imapsync` runs. */
const shebangFlags =
  process.env.SCALE_NODE_FLAGS?.split(" ").filter(Boolean) ??
  readFileSync(cli, "utf8").split("\n", 1)[0]!.split(" ").slice(3);

function usersCsv(count: number): string {
  const rows = Array.from(
    { length: count },
    (_, i) => `m${String(i).padStart(6, "0")}@contoso.test,,dest-pw-${i},`,
  );
  return `source,destination,password,password_file\n${rows.join("\n")}\n`;
}

/** CPU (user + system, this process only, not its children) and peak RSS, polled. */
function watch(pid: number): { stop: () => { cpuMs: number; peakRssMb: number } } {
  let cpuMs = 0;
  let peakKb = 0;
  const poll = () => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      cpuMs = (Number(fields[11]) + Number(fields[12])) * CLOCK_TICK_MS;
      const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
      if (hwm) peakKb = Math.max(peakKb, Number(hwm[1]));
    } catch {
      // The process has ended: the last reading stands (at most one poll interval short).
    }
  };
  const timer = setInterval(poll, 50);
  poll();
  return {
    stop: () => {
      clearInterval(timer);
      return { cpuMs, peakRssMb: peakKb / 1024 };
    },
  };
}

async function scene(name: string, count: number) {
  const dir = path.join(outDir, name);
  await rm(dir, { recursive: true, force: true });
  const workDir = path.join(dir, "work");
  await mkdir(workDir, { recursive: true, mode: 0o700 });
  const usersFile = path.join(dir, "users.csv");
  await writeFile(usersFile, usersCsv(count));
  const fake = path.join(dir, "fake-imapsync");
  await writeFile(fake, `#!/bin/sh\nexec cat ${successLog}\n`);
  await chmod(fake, 0o755);
  await writeFile(
    path.join(workDir, "token"),
    `${mintAccessToken({ upn: ADMIN, ttlSec: 24 * 3600, appId: "app-ok", tid: TENANT })}\n`,
    { mode: 0o600 },
  );
  const env = {
    TENANT_ID: TENANT,
    APP_ID: "app-ok",
    LOGIN_HINT: ADMIN,
    HOST2: "127.0.0.1",
    TLS2: "none",
    IMAPSYNC_BIN: fake,
    OAUTH2C_BIN: "/bin/false",
    WORK_DIR: workDir,
    TOKEN_MARGIN: "0",
    CONCURRENCY: String(concurrency),
    NO_COLOR: "1",
  };
  return { dir, workDir, usersFile, env };
}

/**
 * The CLI with its output in `<dir>/stdout.log` and `<dir>/stderr.log`, given as plain file
 * descriptors: the CLI writes to the files itself, as with a shell redirect.
 */
function start(args: string[], env: Record<string, string>, dir: string) {
  const fds = ["stdout.log", "stderr.log"].map((name) => openSync(path.join(dir, name), "w"));
  const child = spawn("node", [...shebangFlags, cli, ...args], {
    env: { ...process.env, ...env },
    stdio: ["ignore", ...fds],
  });
  for (const fd of fds) closeSync(fd);
  const ended = once(child, "exit").then(([code]) => ({ exitCode: code as number | null }));
  return { pid: child.pid, kill: (signal: NodeJS.Signals) => child.kill(signal), ended };
}

async function migrateRun(count: number) {
  const s = await scene(`migrate-${count}`, count);
  const begin = performance.now();
  const child = start(["migrate", "--users", s.usersFile], s.env, s.dir);
  const meter = watch(child.pid!);
  const result = await child.ended;
  const wallMs = performance.now() - begin;
  const { cpuMs, peakRssMb } = meter.stop();
  const report = await loadReport(path.join(s.workDir, "report.json"));
  const ok = report.mailboxes.filter((e) => e.status === "ok").length;
  if (result.exitCode !== 0 || ok !== count)
    throw new Error(`migrate ${count}: exit ${result.exitCode}, ${ok} ok; see ${s.dir}`);
  return { count, wallMs, cpuMs, peakRssMb };
}

async function planRun(count: number) {
  const s = await scene(`plan-${count}`, count);
  const begin = performance.now();
  const child = start(["migrate", "--users", s.usersFile, "--plan", "--json"], s.env, s.dir);
  const meter = watch(child.pid!);
  const result = await child.ended;
  const wallMs = performance.now() - begin;
  const { cpuMs, peakRssMb } = meter.stop();
  const lines = (await readFile(path.join(s.dir, "stdout.log"), "utf8")).split("\n").length - 1;
  if (result.exitCode !== 0 || lines !== count)
    throw new Error(`--plan ${count}: exit ${result.exitCode}, ${lines} lines`);
  // The parser alone, in a process of its own.
  const parser = await execa(
    "node",
    [
      "--input-type=module",
      "-e",
      `const { readUsersFile } = await import(${JSON.stringify(path.join(root, "dist/src/users/read.js"))});
       const t = performance.now(); const u = await readUsersFile(process.argv[1]);
       console.log(JSON.stringify({ ms: performance.now() - t, n: u.mailboxes.length, rssMb: process.memoryUsage().rss / 2 ** 20 }));`,
      s.usersFile,
    ],
    { reject: false },
  );
  const parsed = JSON.parse(parser.stdout) as { ms: number; n: number; rssMb: number };
  if (parsed.n !== count) throw new Error(`parser: ${parsed.n} mailboxes of ${count}`);
  return { count, wallMs, cpuMs, peakRssMb, parserMs: parsed.ms, parserRssMb: parsed.rssMb };
}

/** kill -9 mid-run; every mailbox the tool announced finished must be ok in the report. */
async function kill9Trial(count: number, afterMs: number) {
  const s = await scene(`kill9-${count}`, count);
  const stderrFile = path.join(s.dir, "stderr.log");
  const child = start(["migrate", "--users", s.usersFile], s.env, s.dir);
  await new Promise((resolve) => setTimeout(resolve, afterMs));
  child.kill("SIGKILL");
  await child.ended;
  const announced = [
    ...(await readFile(stderrFile, "utf8")).matchAll(/^\S+ (m\d+@contoso\.test): ok\b/gm),
  ].map((m) => m[1]!);
  // Killed before the first report was written: then nothing may have been announced either.
  const report = await loadReport(path.join(s.workDir, "report.json")).catch(() => undefined);
  const ok = new Set(report?.mailboxes.filter((e) => e.status === "ok").map((e) => e.source));
  const lost = announced.filter((m) => !ok.has(m));
  return { afterMs, announced: announced.length, inReport: ok.size, lost: lost.length };
}

const f = (n: number, digits = 1) => n.toFixed(digits);
await mkdir(outDir, { recursive: true });
console.log(
  `concurrency ${concurrency}, load average ${readFileSync("/proc/loadavg", "utf8").trim()}`,
);
const runs = [];
for (const count of sizes) {
  const r = await migrateRun(count);
  runs.push(r);
  console.log(
    `migrate ${count}: wall ${f(r.wallMs / 1000)} s (${f(r.wallMs / count)} ms/mailbox), tool CPU ${f(r.cpuMs / 1000)} s (${f(r.cpuMs / count, 2)} ms/mailbox), peak RSS ${f(r.peakRssMb)} MB`,
  );
}
if (runs.length >= 2) {
  const [small, large] = [runs[0]!, runs.at(-1)!];
  console.log(
    `per-mailbox CPU ${large.count} vs ${small.count}: ${f(large.cpuMs / large.count / (small.cpuMs / small.count), 2)}x; wall ${f(large.wallMs / large.count / (small.wallMs / small.count), 2)}x`,
  );
}
if (planSize > 0) {
  const p = await planRun(planSize);
  console.log(
    `migrate --plan --json ${planSize}: wall ${f(p.wallMs / 1000, 2)} s, CPU ${f(p.cpuMs / 1000, 2)} s, peak RSS ${f(p.peakRssMb)} MB; users-file parser alone ${f(p.parserMs / 1000, 2)} s (RSS ${f(p.parserRssMb)} MB)`,
  );
}
const largest = Math.max(...sizes);
for (let i = 0; i < kill9Trials; i++) {
  // Spread over the first part of a run of the largest size.
  const afterMs = Math.round(2000 + Math.random() * 20_000);
  const t = await kill9Trial(largest, afterMs);
  console.log(
    `kill -9 at ${largest} mailboxes after ${t.afterMs} ms: ${t.announced} announced ok, ${t.inReport} ok in the report, ${t.lost} lost`,
  );
  if (t.lost > 0) process.exitCode = 1;
}
