// Big mailboxes: the tool (largest first, the big one sliced) against `xargs -P 4` running one
// imapsync per mailbox with the big one first, with a real imapsync (never in this repository:
// IMAPSYNC_BIN) against the stand-in at BENCH_DELAY_MS per IMAP command. Each run on a fresh
// stand-in. Not a test; the figures go to bench/README.md.
//
//   IMAPSYNC_BIN=/path/to/imapsync npm run bench:slices
//   BENCH_RUNS=3  BENCH_DELAY_MS=20  BENCH_BIG_INBOX=2600  BENCH_BIG_OTHER=1400  BENCH_SMALL=8,150
//   BENCH_PARTS=all | a list of: tool,xargs,equal,throttled
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { readFileSync } from "node:fs";
import path from "node:path";
import { execa } from "execa";
import { ADMIN, startStandin, type Standin } from "../scripts/standin/standin.js";
import type { ThrottleSettings } from "../scripts/standin/front.js";
import { loadReport } from "../src/report/store.js";
import { parseFolderSizes } from "../src/verify/foldersizes.js";
import type { PrintedPlan } from "../src/plan/schema.js";
import { cli, realImapsync, root } from "./real-imapsync.js";

const imapsync = realImapsync();
const runs = Number(process.env.BENCH_RUNS ?? 3);
const delayMs = Number(process.env.BENCH_DELAY_MS ?? 20);
const bigInbox = Number(process.env.BENCH_BIG_INBOX ?? 2600);
const bigOther = Number(process.env.BENCH_BIG_OTHER ?? 1400);
const [smallCount, smallSize] = (process.env.BENCH_SMALL ?? "8,150").split(",").map(Number) as [
  number,
  number,
];
const parts = (process.env.BENCH_PARTS ?? "all").split(",");
const wanted = (part: string) => parts.includes("all") || parts.includes(part);
const outDir = path.join(root, "bench", "out", "slices");
const BIG = "big@contoso.test";

/** The big one: INBOX and five other folders (one accented) holding the rest. */
const bigSeed = {
  INBOX: bigInbox,
  "Sent Items": Math.round(bigOther * 0.4),
  "Éléments envoyés": Math.round(bigOther * 0.2),
  Archive: Math.round(bigOther * 0.2),
  "Archive/2023": bigOther - 3 * Math.round(bigOther * 0.2) - Math.round(bigOther * 0.4),
  Drafts: Math.round(bigOther * 0.2),
};
const smallSeed = {
  INBOX: Math.round(smallSize * 0.6),
  "Sent Items": Math.round(smallSize * 0.3),
  "Éléments envoyés": smallSize - Math.round(smallSize * 0.6) - Math.round(smallSize * 0.3),
};
const loadavg = () => readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

interface Scene {
  standin: Standin;
  dir: string;
  workDir: string;
  users: string;
  env: Record<string, string>;
}

async function scene(
  name: string,
  opts: { small: number; big: boolean; throttle?: ThrottleSettings },
): Promise<Scene> {
  const dir = path.join(outDir, name);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const standin = await startStandin({
    dir: path.join(dir, "standin"),
    bigSeed: opts.big ? bigSeed : { INBOX: 1 },
    equal: { count: opts.small, seed: smallSeed },
    commandDelayMs: delayMs,
    throttle: opts.throttle,
  });
  const workDir = path.join(dir, "work");
  await mkdir(workDir, { recursive: true, mode: 0o700 });
  const token = await standin.oauth.mint({ upn: ADMIN }, 6 * 3600);
  await writeFile(path.join(workDir, "token"), `${token}\n`, { mode: 0o600 });
  // The big one (when there is one) and the small ones, in the stand-in's users-file format.
  const [header, ...rows] = (await readFile(standin.usersFile, "utf8")).trim().split("\n");
  const mine = rows.filter((row) => row.startsWith("equal") || (opts.big && row.startsWith(BIG)));
  // Listed last: the tool must find the big one by its size, not by its place. Beside the
  // stand-in's own users file: its password files are relative to it.
  const users = path.join(standin.dir, "users-bench.csv");
  await writeFile(
    users,
    [header, ...mine.sort((a, b) => (a.startsWith(BIG) ? 1 : b.startsWith(BIG) ? -1 : 0)), ""].join(
      "\n",
    ),
  );
  const env = {
    ...standin.env,
    IMAPSYNC_BIN: imapsync!,
    // check only asks its version (the token is already there): the double answers it.
    OAUTH2C_BIN: `node ${path.join(root, "dist/test/doubles/oauth2c.js")}`,
    WORK_DIR: workDir,
    TOKEN_MARGIN: "0",
    NO_COLOR: "1",
    CONCURRENCY: "4",
    MAX_BACKOFF: "20s",
  };
  return { standin, dir, workDir, users, env };
}

async function cli_(s: Scene, args: string[], log: string, env: Record<string, string> = {}) {
  return execa("node", [cli, ...args], {
    env: { ...s.env, ...env },
    reject: false,
    stdin: "ignore",
    stdout: { file: path.join(s.dir, `${log}.stdout.log`) },
    stderr: { file: path.join(s.dir, `${log}.stderr.log`) },
  });
}

/**
 * Every folder's count equal on both sides, by imapsync's own listing (`--justfoldersizes`, each
 * source folder against the folder of its name: the stand-in's destination was empty before).
 */
async function countsEqual(s: Scene): Promise<string> {
  const plan = await cli_(s, ["migrate", "--users", s.users, "--plan", "--json"], "counts-plan", {
    SLICE_ABOVE: "100000",
  });
  if (plan.exitCode !== 0) throw new Error(`plan exit ${plan.exitCode}`);
  const plans = (await readFile(path.join(s.dir, "counts-plan.stdout.log"), "utf8"))
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line) as PrintedPlan);
  const rows = (await readFile(s.users, "utf8")).trim().split("\n").slice(1);
  let equal = 0;
  let folders = 0;
  for (const p of plans) {
    const [file, ...args] = argvFor(p, rows, s);
    const listing = await execa(file!, [...args, "--justfoldersizes", "--noautomap"], {
      env: { IMAPSYNC_PASSWORD1: "unused" },
      reject: false,
      stdin: "ignore",
    });
    const sizes = parseFolderSizes(listing.stdout.split("\n"));
    folders += sizes.rows.length;
    const same = sizes.rows.every(
      (row) => row.source.count?.messages === row.destination.count?.messages,
    );
    if (same && sizes.rows.length > 0) equal++;
  }
  return `${equal}/${plans.length} mailboxes with every folder's count equal (${folders} folders)`;
}

/** A plan's argv with the stand-in's password file of its mailbox, and the pidfile's folder. */
function argvFor(p: PrintedPlan, usersRows: string[], s: Scene): string[] {
  const row = usersRows.find((line) => line.startsWith(`${p.source},`))!;
  const passFile = path.resolve(s.standin.dir, row.split(",").at(-1)!);
  return p.argv.map((word, i) => (p.argv[i - 1] === "--passfile2" ? passFile : word));
}

/** Messages copied by the runs of the last migrate (attempts that started after `since`). */
async function copiedSince(s: Scene, since: string): Promise<number> {
  const report = await loadReport(path.join(s.workDir, "report.json"));
  return report.mailboxes
    .flatMap((e) => [...e.attempts, ...(e.slices ?? []).flatMap((slice) => slice.attempts)])
    .filter((a) => a.start >= since)
    .reduce((sum, a) => sum + (a.messagesTransferred ?? 0), 0);
}

/**
 * What the server saw: `refused`, every attempt whose own log shows its refusal (`NO Request is
 * throttled`), whatever the report made of it; `throttled`, the attempts the report records as
 * throttled; `paused`, the slices stopped by their mailbox's throttling before any refusal.
 */
async function throttledAttempts(s: Scene) {
  const report = await loadReport(path.join(s.workDir, "report.json"));
  const attempts = report.mailboxes.flatMap((e) => [
    ...e.attempts,
    ...(e.slices ?? []).flatMap((slice) => slice.attempts),
  ]);
  let refused = 0;
  for (const a of attempts) {
    const log = await readFile(path.resolve(s.workDir, a.logFile), "utf8").catch(() => "");
    if (log.includes("NO Request is throttled")) refused++;
  }
  return {
    refused,
    throttled: attempts.filter((a) => a.class === "throttled").length,
    paused: attempts.filter((a) => a.reason === "paused").length,
  };
}

/** check (sizes, date cuts: before the weekend), then the timed migrate. */
async function toolRun(
  name: string,
  throttle?: ThrottleSettings,
  env: Record<string, string> = {},
) {
  const s = await scene(name, { small: smallCount, big: true, throttle });
  try {
    const check = await cli_(s, ["check", "--users", s.users], "check", env);
    const begin = performance.now();
    const migrate = await cli_(s, ["migrate", "--users", s.users], "migrate", env);
    const wallMs = performance.now() - begin;
    const report = await loadReport(path.join(s.workDir, "report.json"));
    const big = report.mailboxes.find((e) => e.source === BIG);
    const { refused, throttled, paused } = await throttledAttempts(s);
    const counts = await countsEqual(s);
    const since = new Date().toISOString();
    const again = throttle ? undefined : await cli_(s, ["migrate", "--users", s.users], "again");
    const second = again
      ? `second migrate copied ${await copiedSince(s, since)} (exit ${again.exitCode})`
      : "";
    return {
      wallMs,
      refused,
      throttled,
      paused,
      line: `${name}: ${(wallMs / 1000).toFixed(1)} s, check exit ${check.exitCode}, migrate exit ${migrate.exitCode}, big in ${big?.slices?.length ?? 0} slices ${JSON.stringify(big?.slices?.map((x) => [x.folders.length, x.since ?? "", x.before ?? ""]))}, ${refused} attempts refused by the server (their logs), ${throttled} recorded throttled, ${paused} paused before any refusal, ${counts}; ${second} [load ${loadavg()}]`,
    };
  } finally {
    await s.standin.stop();
  }
}

/** xargs -P 4: one imapsync per mailbox, the big one first, the tool's own argv for each. */
async function xargsRun(name: string) {
  const s = await scene(name, { small: smallCount, big: true });
  try {
    // Without sizes, the tool plans exactly one whole run per mailbox, in the users file's order.
    const plan = await cli_(s, ["migrate", "--users", s.users, "--plan", "--json"], "plan");
    if (plan.exitCode !== 0) throw new Error(`plan exit ${plan.exitCode}`);
    const plans = (await readFile(path.join(s.dir, "plan.stdout.log"), "utf8"))
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as PrintedPlan);
    const usersRows = (await readFile(s.users, "utf8")).trim().split("\n").slice(1);
    const scripts: string[] = [];
    for (const p of [...plans].sort((a, b) => (a.source === BIG ? -1 : b.source === BIG ? 1 : 0))) {
      const argv = argvFor(p, usersRows, s);
      const script = path.join(s.dir, `${p.source}.sh`);
      const quoted = argv.map((w) => `'${w.replace(/'/g, `'\\''`)}'`).join(" ");
      await writeFile(
        script,
        `#!/bin/sh\nIMAPSYNC_PASSWORD1=unused exec ${quoted} > '${script}.log' 2>&1\n`,
        { mode: 0o755 },
      );
      scripts.push(script);
    }
    await mkdir(path.join(s.workDir, "run"), { recursive: true });
    const begin = performance.now();
    const xargs = await execa("xargs", ["-P", "4", "-n", "1", "sh"], {
      input: scripts.join("\n"),
      reject: false,
    });
    const wallMs = performance.now() - begin;
    const counts = await countsEqual(s);
    return {
      wallMs,
      line: `${name}: ${(wallMs / 1000).toFixed(1)} s, xargs exit ${xargs.exitCode}, ${counts} [load ${loadavg()}]`,
    };
  } finally {
    await s.standin.stop();
  }
}

console.log(
  `big: ${bigInbox + bigOther} messages (INBOX ${bigInbox}), ${smallCount} of ${smallSize}; ${delayMs} ms per command; concurrency 4; imapsync ${imapsync}; load ${loadavg()}`,
);
const tool: number[] = [];
const xargs: number[] = [];
for (let i = 1; i <= runs; i++) {
  if (wanted("tool")) {
    const r = await toolRun(`tool-${i}`);
    tool.push(r.wallMs);
    console.log(r.line);
  }
  if (wanted("xargs")) {
    const r = await xargsRun(`xargs-${i}`);
    xargs.push(r.wallMs);
    console.log(r.line);
  }
}
if (tool.length > 0 && xargs.length > 0) {
  console.log(
    `median tool ${(median(tool) / 1000).toFixed(1)} s, xargs -P 4 ${(median(xargs) / 1000).toFixed(1)} s: ratio ${(median(tool) / median(xargs)).toFixed(2)} (goal ≤ 0.5)`,
  );
}

if (wanted("equal")) {
  // 16 equal mailboxes: check's sizes change nothing, the plan is the one without sizes.
  const s = await scene("equal", { small: 16, big: false });
  try {
    const users = (await readFile(s.users, "utf8")).split("\n").filter((l) => !l.startsWith(BIG));
    await writeFile(s.users, users.join("\n"));
    const before = await cli_(
      s,
      ["migrate", "--users", s.users, "--plan", "--json"],
      "plan-before",
    );
    await cli_(s, ["check", "--users", s.users], "check");
    const after = await cli_(s, ["migrate", "--users", s.users, "--plan", "--json"], "plan-after");
    const a = await readFile(path.join(s.dir, "plan-before.stdout.log"), "utf8");
    const b = await readFile(path.join(s.dir, "plan-after.stdout.log"), "utf8");
    const sliced = b.split("\n").filter((l) => l.includes('"slices"')).length;
    console.log(
      `16 equal mailboxes: --plan --json identical with and without check's sizes: ${a === b} (${a.split("\n").length - 1} lines, ${sliced} sliced; exits ${before.exitCode}, ${after.exitCode})`,
    );
  } finally {
    await s.standin.stop();
  }
}

if (wanted("throttled")) {
  // Exchange Online's budget per mailbox: after 300 FETCH/APPEND, the big one is refused for 10 s.
  const throttle: ThrottleSettings = {
    afterCommands: 300,
    windowMs: 10_000,
    backoffMs: 3000,
    mailboxes: [BIG],
  };
  const whole = await toolRun("throttled-whole", throttle, { SLICE_ABOVE: "100000" });
  console.log(whole.line);
  const sliced = await toolRun("throttled-sliced", throttle);
  console.log(sliced.line);
  console.log(
    `throttled: sliced ${sliced.refused} attempts refused (${sliced.paused} paused before any refusal) in ${(sliced.wallMs / 1000).toFixed(1)} s, whole ${whole.refused} refused in ${(whole.wallMs / 1000).toFixed(1)} s`,
  );
}
