// `--concurrency auto` against fixed levels, with a real imapsync, by hand (imapsync is in no
// package and never in this repository): the stand-in with N equal mailboxes and a delay per IMAP
// command (a distant server), each level on a fresh stand-in, then the same with throttling that
// depends on load. Not a test; the figures go to bench/README.md.
//
//   IMAPSYNC_BIN=/path/to/imapsync node dist/bench/concurrency-bench.js
//   BENCH_MAILBOXES=16  BENCH_MESSAGES=150  BENCH_DELAY_MS=20  BENCH_LEVELS=1,2,4,8,12,auto
//   BENCH_LOAD_RATE=120 (commands/s for the throttling part; 0: skip)  BENCH_BACKOFF_MS=5000
import { mkdir, rm, writeFile } from "node:fs/promises";
import { readFileSync } from "node:fs";
import path from "node:path";
import { execa } from "execa";
import { ADMIN, startStandin } from "../scripts/standin/standin.js";
import type { LoadThrottle } from "../scripts/standin/front.js";
import { loadReport } from "../src/report/store.js";
import { cli, realImapsync, root } from "./real-imapsync.js";

const imapsync = realImapsync();
const mailboxes = Number(process.env.BENCH_MAILBOXES ?? 16);
const messages = Number(process.env.BENCH_MESSAGES ?? 150);
const delayMs = Number(process.env.BENCH_DELAY_MS ?? 20);
const levels = (process.env.BENCH_LEVELS ?? "1,2,4,8,12,auto").split(",");
const loadRate = Number(process.env.BENCH_LOAD_RATE ?? 120);
const backoffMs = Number(process.env.BENCH_BACKOFF_MS ?? 5000);
const outDir = path.join(root, "bench", "out", "concurrency");

/** Same folders for every mailbox, an accented one among them. */
const seed = {
  INBOX: Math.round(messages * 0.6),
  "Sent Items": Math.round(messages * 0.3),
  "Éléments envoyés": messages - Math.round(messages * 0.6) - Math.round(messages * 0.3),
};

async function run(level: string, load?: LoadThrottle) {
  const name = `${load ? "throttled" : "plain"}-${level}`;
  const dir = path.join(outDir, name);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const standin = await startStandin({
    dir: path.join(dir, "standin"),
    bigCount: 10,
    equal: { count: mailboxes, seed },
    commandDelayMs: delayMs,
    load,
  });
  try {
    const workDir = path.join(dir, "work");
    await mkdir(workDir, { recursive: true, mode: 0o700 });
    const token = await standin.oauth.mint({ upn: ADMIN }, 6 * 3600);
    await writeFile(path.join(workDir, "token"), `${token}\n`, { mode: 0o600 });
    const begin = performance.now();
    const result = await execa("node", [cli, "migrate", "--users", standin.equalUsersFile!], {
      env: {
        ...standin.env,
        IMAPSYNC_BIN: imapsync!,
        OAUTH2C_BIN: "/bin/false",
        WORK_DIR: workDir,
        CONCURRENCY: level,
        TOKEN_MARGIN: "0",
        NO_COLOR: "1",
      },
      reject: false,
      stdin: "ignore",
      stdout: { file: path.join(dir, "stdout.log") },
      stderr: { file: path.join(dir, "stderr.log") },
    });
    const wallMs = performance.now() - begin;
    const report = await loadReport(path.join(workDir, "report.json"));
    const attempts = report.mailboxes.flatMap((e) => e.attempts);
    const throttled = attempts.filter((a) => a.class === "throttled").length;
    const ok = report.mailboxes.filter((e) => e.status === "ok").length;
    const changes = readFileSync(path.join(dir, "stderr.log"), "utf8")
      .split("\n")
      .filter((l) => /concurrency \d+ -> \d+/.test(l))
      .map((l) => l.replace(/^\S+ concurrency /, ""));
    return {
      name,
      level,
      wallMs,
      exitCode: result.exitCode,
      ok,
      attempts: attempts.length,
      throttled,
      throttledReplies: standin.front.throttledReplies(),
      changes,
    };
  } finally {
    await standin.stop();
  }
}

const loadavg = () => readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
console.log(
  `${mailboxes} equal mailboxes of ${messages} messages, ${delayMs} ms per command, imapsync ${imapsync}; load average ${loadavg()}`,
);
const show = (r: Awaited<ReturnType<typeof run>>) =>
  console.log(
    `${r.name}: ${(r.wallMs / 1000).toFixed(1)} s, ${r.ok}/${mailboxes} ok, ${r.attempts} attempts, ${r.throttled} throttled (${r.throttledReplies} throttled replies), exit ${r.exitCode}${r.changes.length > 0 ? `; changes: ${r.changes.join(" | ")}` : ""} [load ${loadavg()}]`,
  );
const plain = [];
for (const level of levels) {
  const r = await run(level);
  plain.push(r);
  show(r);
}
const fixed = plain.filter((r) => r.level !== "auto");
const auto = plain.find((r) => r.level === "auto");
if (auto && fixed.length > 0) {
  const best = fixed.reduce((a, b) => (b.wallMs < a.wallMs ? b : a));
  console.log(
    `auto ${(auto.wallMs / 1000).toFixed(1)} s vs best fixed (${best.level}) ${(best.wallMs / 1000).toFixed(1)} s: ratio ${(auto.wallMs / best.wallMs).toFixed(2)} (goal ≤ ${(1 / 0.9).toFixed(2)})`,
  );
}
if (loadRate > 0) {
  const load = { commandsPerSecond: loadRate, backoffMs };
  const eight = await run("8", load);
  show(eight);
  const autoThrottled = await run("auto", load);
  show(autoThrottled);
  console.log(
    `with throttling above ${loadRate} commands/s: auto ${autoThrottled.throttled} throttled attempts in ${(autoThrottled.wallMs / 1000).toFixed(1)} s, fixed 8 ${eight.throttled} in ${(eight.wallMs / 1000).toFixed(1)} s`,
  );
}
