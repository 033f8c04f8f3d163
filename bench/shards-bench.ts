// `npm run bench:shards`: the stand-in's list migrated by a real imapsync (IMAPSYNC_BIN) on one
// machine, as one process and as 3 shards running side by side (each in its own work
// directory, merged afterwards), each on a freshly seeded stand-in. Prints wall times, the
// classes of the (merged) report, and every folder's message count on both sides.
import { chmod, mkdir, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { execa } from "execa";
import { openerDir } from "../scripts/standin/browser.js";
import { freePort } from "../scripts/standin/ports.js";
import { ADMIN, startStandin, type Standin } from "../scripts/standin/standin.js";
import type { Report } from "../src/report/schema.js";
import { CLI, DOUBLES, tempDir } from "../test/helpers/env.js";
import { folderCounts, withImap } from "../test/helpers/imap-counts.js";

const IMAPSYNC = process.env.IMAPSYNC_BIN;
const BIG_COUNT = Number(process.env.BENCH_BIG_COUNT ?? 2000);
/**
 * imapsync's own rate limit per run (messages a second), standing in for Office 365's throttling,
 * which caps each mailbox's rate: then the wall time is the servers', not this machine's CPU.
 */
const MAX_MPS = process.env.BENCH_MAX_MPS;
const PASSTHROUGH = MAX_MPS ? ["--", "--maxmessagespersecond", MAX_MPS] : [];

interface Setup {
  name: string;
  shards: number;
  concurrency: number;
}
const SETUPS: Setup[] = [
  { name: "1 process, CONCURRENCY=1", shards: 1, concurrency: 1 },
  { name: "3 shards, CONCURRENCY=1 each", shards: 3, concurrency: 1 },
  { name: "1 process, CONCURRENCY=3", shards: 1, concurrency: 3 },
];

async function cli(args: string[], env: Record<string, string>, cwd: string) {
  return execa("node", [CLI, ...args], {
    cwd,
    env: { NO_COLOR: "1", ...env },
    reject: false,
    stdin: "ignore",
    timeout: 1_800_000,
  });
}

async function runSetup(setup: Setup, root: string): Promise<void> {
  const dir = path.join(root, setup.name.replace(/\W+/g, "-"));
  await mkdir(dir, { recursive: true });
  await chmod(dir, 0o755);
  const standin: Standin = await startStandin({
    dir: path.join(dir, "standin"),
    bigCount: BIG_COUNT,
  });
  try {
    const env = {
      ...standin.env,
      IMAPSYNC_BIN: IMAPSYNC ?? "",
      OAUTH2C_BIN: `node ${path.join(DOUBLES, "oauth2c.js")}`,
      PATH: `${await openerDir(path.join(dir, "bin"))}:${process.env.PATH ?? ""}`,
      CONCURRENCY: String(setup.concurrency),
    };
    const workDir = (i: number) =>
      setup.shards === 1 ? path.join(dir, "work") : path.join(dir, "work", `shard-${i}`);
    const started = performance.now();
    const runs = await Promise.all(
      Array.from({ length: setup.shards }, async (_, i) =>
        cli(
          [
            "migrate",
            "--users",
            standin.usersFile,
            ...(setup.shards > 1 ? ["--shard", `${i}/${setup.shards}`] : []),
            ...PASSTHROUGH,
          ],
          { ...env, WORK_DIR: workDir(i), CALLBACK_PORT: String(await freePort()) },
          dir,
        ),
      ),
    );
    const seconds = (performance.now() - started) / 1000;
    let reportFile = path.join(workDir(0), "report.json");
    if (setup.shards > 1) {
      reportFile = path.join(dir, "work", "merged.json");
      const reports = Array.from({ length: setup.shards }, (_, i) =>
        path.join(workDir(i), "report.json"),
      );
      const merged = await cli(["report", "merge", ...reports, "--out", reportFile], env, dir);
      if (merged.exitCode !== 0) throw new Error(merged.stderr);
    }
    const report = JSON.parse(await readFile(reportFile, "utf8")) as Report;
    console.log(
      `\n## ${setup.name}: ${seconds.toFixed(1)} s wall, exit codes ${runs.map((r) => r.exitCode).join(",")}`,
    );
    for (const entry of report.mailboxes) {
      const last = entry.attempts.at(-1);
      const took = last?.end ? (Date.parse(last.end) - Date.parse(last.start)) / 1000 : NaN;
      console.log(
        `${entry.source.padEnd(20)} ${entry.status.padEnd(7)} ${(entry.class ?? "").padEnd(15)} attempts ${entry.attempts.length}  last ${took.toFixed(1)} s`,
      );
      if (entry.status !== "ok") continue;
      const token = await standin.oauth.mint({ upn: ADMIN }, 600);
      const source = await withImap(
        { port: standin.ports.front, user: entry.source, accessToken: token },
        folderCounts,
      );
      const destination = await withImap(
        {
          port: standin.ports.destination,
          user: entry.source,
          pass: standin.destinationPassword(entry.source),
        },
        folderCounts,
      );
      for (const [folder, count] of Object.entries(source)) {
        const mark = destination[folder] === count ? "=" : "MISMATCH";
        console.log(
          `    ${folder.padEnd(24)} source ${String(count).padStart(5)}  destination ${String(destination[folder] ?? "-").padStart(5)}  ${mark}`,
        );
      }
    }
  } finally {
    await standin.stop();
  }
}

if (!IMAPSYNC) {
  console.error(
    "Set IMAPSYNC_BIN to a real imapsync (this benchmark copies real mail); it is in no package.",
  );
  process.exit(2);
}
const root = await tempDir("shards-bench-");
await chmod(root, 0o755);
console.log(
  `# stand-in list (alice, bob, carol, big with ${BIG_COUNT} messages), imapsync ${IMAPSYNC}, ${MAX_MPS ? `--maxmessagespersecond ${MAX_MPS}` : "no rate limit"}; load average ${os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(" ")} on ${os.cpus().length} CPUs`,
);
for (const setup of SETUPS) await runSetup(setup, root);
await rm(root, { recursive: true, force: true });
