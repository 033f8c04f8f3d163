// Throughput and memory of `diagnose` on gigabyte logs, next to grep over the same patterns.
// Not a test: `npm run bench` builds, then runs this; the figures go to bench/README.md.
import { createWriteStream, existsSync, readFileSync } from "node:fs";
import { mkdir, readFile, rm, stat } from "node:fs/promises";
import { once } from "node:events";
import path from "node:path";
import { execa } from "execa";
import type { RunClass } from "../src/outcomes/classes.js";

const root = path.resolve(import.meta.dirname, "../..");
const outDir = path.join(root, "bench", "out");
const fixtures = path.join(root, "fixtures");
const totalMb = Number(process.env.BENCH_MB ?? 1100);

/**
 * One generated log per class: many copies of a real copy phase (the progress lines that make up
 * nearly all of a big log), then one complete real run of that class, whose deciding lines end
 * the file. `share` is the size as a fraction of BENCH_MB: the token-expiry log alone is BENCH_MB
 * (1.1 GB by default), the others are smaller but go through the same path.
 */
const CASES: { expected: RunClass; tail: string; share: number }[] = [
  { expected: "token_expired", tail: "imapsync-2.229-m365/token_expired_midrun.log", share: 1 },
  { expected: "ok", tail: "imapsync-2.229-m365/ok_xoauth2_delegated.log", share: 0.025 },
  { expected: "throttled", tail: "imapsync-2.229-m365/throttled_fetch.log", share: 0.025 },
  { expected: "not_delegated", tail: "imapsync-2.229-m365/not_delegated_select.log", share: 0.025 },
  { expected: "quota_exceeded", tail: "imapsync-2.229-m365/quota_exceeded.log", share: 0.025 },
  {
    expected: "auth_failed_destination",
    tail: "imapsync-2.229-m365/auth_failed_destination.log",
    share: 0.025,
  },
  { expected: "auth_failed_source", tail: "imapsync-2.229/p3_oauth_token_bad.log", share: 0.025 },
  { expected: "partial", tail: "imapsync-2.229/m1_stop_source.log", share: 0.025 },
  { expected: "interrupted", tail: "imapsync-2.229/k1_sigterm.log", share: 0.025 },
  { expected: "tls_failed", tail: "imapsync-2.229/u2_ssl1_on_plain_port.log", share: 0.025 },
  { expected: "connect_failed_source", tail: "imapsync-2.229/h_refused_host1.log", share: 0.025 },
  {
    expected: "connect_failed_destination",
    tail: "imapsync-2.229/i_refused_host2.log",
    share: 0.025,
  },
  { expected: "other", tail: "imapsync-2.229/y3_pidfilelocking.log", share: 0.025 },
];

/**
 * The classifier's text rules written for grep -E, most decisive first. grep's verdict for a file is
 * the first class with a hit; with none, the `Exiting with return value` code (0 = ok).
 */
const GREP_RULES: { cls: RunClass; pattern: string }[] = [
  {
    cls: "interrupted",
    pattern:
      "^Killing myself with signal |^Got two signals INT within|^Asked to terminate by file ",
  },
  {
    cls: "token_expired",
    pattern:
      "AccessTokenExpired|(could not be fetched|Could not select|could not append).*(AUTHENTICATE failed|AUTHENTICATIONFAILED)",
  },
  { cls: "not_delegated", pattern: "User is authenticated but not connected" },
  { cls: "throttled", pattern: "Request is throttled" },
  { cls: "auth_failed_source", pattern: "Host1 failure: Error login on" },
  { cls: "auth_failed_destination", pattern: "Host2 failure: Error login on" },
  {
    cls: "tls_failed",
    pattern: "Can not go to tls encryption|SSL connect attempt failed|SSL read error",
  },
  { cls: "connect_failed_source", pattern: "can not open imap connection on host1" },
  { cls: "connect_failed_destination", pattern: "can not open imap connection on host2" },
  { cls: "quota_exceeded", pattern: "OVERQUOTA|Quota limit will be exceeded" },
  {
    cls: "partial",
    pattern:
      "could not append|could not be fetched|^Failure: lost connection|^The sync is not finished|^Messages found in host1 not in host2 +: [1-9]",
  },
];

/** The copy phase of two real runs: Folder, msg ... copied, ETA and per-folder lines. */
async function copyPhase(): Promise<Buffer> {
  const parts = await Promise.all(
    [
      "imapsync-2.229-m365/ok_rerun_after_expiry.log",
      "imapsync-2.229/t2_resume_after_expiry.log",
    ].map(async (f) => {
      const text = await readFile(path.join(fixtures, f), "utf8");
      return text.slice(text.indexOf("++++ Looping on each one"), text.indexOf("++++ Statistics"));
    }),
  );
  return Buffer.from(parts.join(""), "utf8");
}

async function generate(file: string, body: Buffer, tail: Buffer, bytes: number): Promise<void> {
  const out = createWriteStream(file);
  for (let written = 0; written + tail.length < bytes; written += body.length) {
    if (!out.write(body)) await once(out, "drain");
  }
  out.end(tail);
  await once(out, "finish");
}

/** Peak resident set size of a running process, from Linux's high-water mark. */
function peakRssKb(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    return Number(/^VmHWM:\s+(\d+) kB/m.exec(status)?.[1] ?? 0);
  } catch {
    return 0; // the process already ended
  }
}

interface DiagnoseRun {
  how: string;
  seconds: number;
  rssMb: number;
  classes: Map<string, string>;
}

/**
 * Runs diagnose in a child process: through the real CLI, or (`direct`) by importing the command
 * module alone, which shows what the CLI's own module loading adds to time and memory.
 */
async function runDiagnose(files: string[], direct: boolean): Promise<DiagnoseRun> {
  const cli = path.join(root, "dist", "src", "cli.js");
  const module = path.join(root, "dist", "src", "commands", "diagnose.js");
  const how = direct ? "diagnose() imported alone" : "node dist/src/cli.js diagnose --json";
  const args = direct
    ? [
        "--input-type=module",
        "-e",
        `const { diagnose } = await import(${JSON.stringify(module)});` +
          "process.exitCode = await diagnose(process.argv.slice(1), { json: true }, { stdout: process.stdout, stdin: process.stdin });",
        ...files,
      ]
    : [cli, "diagnose", "--json", ...files];
  const started = performance.now();
  const child = execa("node", args, { reject: false, stdin: "ignore" });
  let peak = 0;
  const timer = setInterval(() => (peak = Math.max(peak, peakRssKb(child.pid ?? 0))), 20);
  const result = await child;
  clearInterval(timer);
  const seconds = (performance.now() - started) / 1000;
  if (result.exitCode !== 0 && result.exitCode !== 1) {
    throw new Error(`${how} failed (exit ${result.exitCode}): ${result.stderr}`);
  }
  const classes = new Map<string, string>();
  for (const line of result.stdout.split("\n").filter(Boolean)) {
    const parsed = JSON.parse(line) as { file: string; class: string };
    classes.set(parsed.file, parsed.class);
  }
  return { how, seconds, rssMb: peak / 1024, classes };
}

async function grepCount(pattern: string, file: string): Promise<number> {
  // grep exits 1 when nothing matches, which is an answer here, not a failure.
  const result = await execa("grep", ["-E", "-c", pattern, file], { reject: false });
  if (result.exitCode === 2) throw new Error(`grep failed: ${result.stderr}`);
  return Number(result.stdout.trim());
}

async function grepClass(file: string): Promise<{ cls: string; passes: number }> {
  let passes = 0;
  for (const rule of GREP_RULES) {
    passes++;
    if ((await grepCount(rule.pattern, file)) > 0) return { cls: rule.cls, passes };
  }
  passes++;
  return {
    cls: (await grepCount("^Exiting with return value 0 ", file)) > 0 ? "ok" : "other",
    passes,
  };
}

function row(cells: string[], widths: number[]): string {
  return cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join("  ");
}

async function main(): Promise<void> {
  await rm(outDir, { recursive: true, force: true });
  await mkdir(outDir, { recursive: true });
  const body = await copyPhase();
  const files: string[] = [];
  for (const c of CASES) {
    const file = path.join(outDir, `${c.expected}.log`);
    await generate(
      file,
      body,
      await readFile(path.join(fixtures, c.tail)),
      c.share * totalMb * 1e6,
    );
    files.push(file);
  }
  const sizes = await Promise.all(files.map(async (f) => (await stat(f)).size));
  const totalBytes = sizes.reduce((a, b) => a + b, 0);

  const hasCli = existsSync(path.join(root, "dist", "src", "cli.js"));
  if (!hasCli) console.log("dist/src/cli.js is missing: measuring diagnose() imported alone only.");
  const runs = hasCli
    ? [await runDiagnose(files, false), await runDiagnose(files, true)]
    : [await runDiagnose(files, true)];
  const d = runs[0]!;

  const grepStarted = performance.now();
  const grepped: { cls: string; passes: number }[] = [];
  for (const f of files) grepped.push(await grepClass(f));
  const grepSeconds = (performance.now() - grepStarted) / 1000;
  const grepPassBytes = grepped.reduce((sum, g, i) => sum + g.passes * (sizes[i] ?? 0), 0);

  const widths = [32, 8, 26, 26, 26, 5];
  console.log(row(["file", "MB", "expected", "diagnose", "grep -E -c", "agree"], widths));
  let disagreements = 0;
  CASES.forEach((c, i) => {
    const file = files[i]!;
    const byDiagnose = runs.every((run) => run.classes.get(file) === d.classes.get(file))
      ? (d.classes.get(file) ?? "(missing)")
      : "(runs differ)";
    const byGrep = grepped[i]?.cls ?? "(missing)";
    const agree = byDiagnose === c.expected && byGrep === c.expected;
    if (!agree) disagreements++;
    const mb = ((sizes[i] ?? 0) / 1e6).toFixed(1);
    console.log(
      row([path.basename(file), mb, c.expected, byDiagnose, byGrep, agree ? "yes" : "NO"], widths),
    );
  });

  console.log("");
  for (const run of runs) {
    const rate = totalBytes / 1e6 / run.seconds;
    console.log(
      `${run.how}: ${(totalBytes / 1e6).toFixed(0)} MB in ${run.seconds.toFixed(2)} s = ${rate.toFixed(0)} MB/s, peak RSS ${run.rssMb.toFixed(1)} MB`,
    );
  }
  console.log(
    `grep -E -c: ${grepped.reduce((a, g) => a + g.passes, 0)} passes over ${(grepPassBytes / 1e6).toFixed(0)} MB in ${grepSeconds.toFixed(2)} s = ` +
      `${(grepPassBytes / 1e6 / grepSeconds).toFixed(0)} MB/s per pass, ${(totalBytes / 1e6 / grepSeconds).toFixed(0)} MB/s for one verdict per file`,
  );
  const mbps = totalBytes / 1e6 / d.seconds;
  console.log(
    `targets (${d.how}): >= 150 MB/s ${mbps >= 150 ? "met" : "MISSED"}; < 100 MB RSS ${d.rssMb < 100 ? "met" : "MISSED"}`,
  );
  if (disagreements > 0) {
    console.error(`${disagreements} file(s) where diagnose, grep and the expected class disagree.`);
    process.exitCode = 1;
  }
}

await main();
