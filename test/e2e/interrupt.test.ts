// Interruptions and stuck runs: Ctrl-C on a terminal, docker stop's 10 s, a second Ctrl-C, a run
// that goes silent.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import {
  DEFAULT_GRACE_MS,
  startImapsync,
  stopBudgetMs,
  TERM_GRACE_MS,
} from "../../src/imapsync/run.js";
import { runPaths } from "../../src/imapsync/args.js";
import type { Report } from "../../src/report/schema.js";
import { tempDir, waitFor } from "../helpers/env.js";
import { makeScene, runSpans, usersAndWorld, type Scene } from "../helpers/cli-scene.js";

/** The line at which the "hung" mailbox stops printing and reading its abort file. */
const STALL_AT = 40;

function lineCount(file: string): number {
  try {
    return readFileSync(file, "utf8").split("\n").length - 1;
  } catch {
    return 0;
  }
}

/** docker stop sends SIGTERM, then SIGKILL 10 s later. */
const DOCKER_STOP_MS = 10_000;

function until(s: Scene, check: (report: Report) => boolean, ms = 60_000): Promise<void> {
  return waitFor(
    async () => {
      const report = await s.report().catch(() => undefined);
      return report !== undefined && check(report);
    },
    ms,
    "the expected state of the report",
  );
}

/**
 * Once "hung" has stalled, the abort file is lost on it (on a loaded machine its replay can start
 * late): its log then holds the lines up to the stall, and a little more time puts it there.
 */
async function hungStalled(s: Scene): Promise<void> {
  await until(s, (report) => {
    const log = report.mailboxes.find((e) => e.source.startsWith("hung"))?.attempts[0]?.logFile;
    // A few replayed lines are dropped (--nolog): near the stall is enough, it is milliseconds away.
    return log !== undefined && lineCount(log) >= STALL_AT - 10;
  });
  await sleep(200);
}

const running = (n: number) => (report: Report) =>
  report.mailboxes.filter((entry) => entry.status === "running").length === n;

describe("stopping a run", () => {
  it("fits docker stop: grace, SIGTERM fallback and the report write stay under 10 s", () => {
    // 1 s is left for the report and the exit, which take milliseconds.
    assert.ok(stopBudgetMs(DEFAULT_GRACE_MS) <= DOCKER_STOP_MS - 1000, String(stopBudgetMs()));
  });

  it("escalates abort file → SIGTERM → SIGKILL within the budget, and never sends SIGINT", async () => {
    const dir = await tempDir();
    const signals = path.join(dir, "signals");
    // A program that ignores the abort file and every catchable signal, noting what it gets.
    const stubborn = `const fs = require("node:fs");
      for (const s of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(s, () => fs.appendFileSync(${JSON.stringify(signals)}, s + "\\n"));
      console.log("started"); setInterval(() => {}, 1000);`;
    const files = runPaths(dir, "alice@contoso.test", 1);
    const child = startImapsync({
      command: { file: process.execPath, args: ["-e", stubborn] },
      args: [],
      files,
      cwd: dir,
    });
    for await (const lines of child.lines) if (lines.includes("started")) break;
    const began = Date.now();
    await child.stop("abort", 300);
    const took = Date.now() - began;
    const exit = await child.exited;
    assert.equal(exit.signal, "SIGKILL");
    assert.equal(await readFile(signals, "utf8"), "SIGTERM\n");
    // Late timers of a loaded machine only add to the upper bound, still well within docker stop's.
    assert.ok(took >= 300 + TERM_GRACE_MS - 50 && took < 300 + TERM_GRACE_MS + 3000, `${took} ms`);
  });
});

describe("interruptions of migrate", { timeout: 300_000 }, () => {
  const passwords = { slow: "pw-slow-1", hung: "pw-hung-2", later: "pw-later-3" };
  const world = usersAndWorld(passwords, {
    seconds: { "slow@contoso.test": 60 },
    // Hangs after its header and no longer reads the abort file: SIGTERM has to end it.
    stall: { "hung@contoso.test": STALL_AT },
  });

  it("Ctrl-C on a terminal reaches only the tool; imapsync stops through its abort file, all within docker stop's 10 s", async () => {
    // Two slots: "later" waits for one, so the signal finds it never started.
    const s = await makeScene({ ...world, env: { STALL_TIMEOUT: "0", CONCURRENCY: "2" } });
    const bg = s.start(["migrate", "--users", s.usersFile]);
    await until(s, running(2));
    await hungStalled(s);
    const began = Date.now();
    // What a terminal does on Ctrl-C: SIGINT to the whole foreground process group.
    process.kill(-bg.child.pid!, "SIGINT");
    const result = await bg.child;
    const took = Date.now() - began;
    assert.equal(result.exitCode, 130, bg.stderr());
    assert.ok(took < DOCKER_STOP_MS, `stopped in ${took} ms`);
    const report = await s.report();
    const entry = (name: string) => report.mailboxes.find((e) => e.source.startsWith(name))!;
    assert.equal(entry("slow").status, "interrupted");
    assert.equal(entry("slow").attempts[0]?.exitCode, 7, "abort file");
    assert.equal(entry("hung").status, "interrupted");
    assert.equal(entry("hung").attempts[0]?.signal, "SIGTERM", "SIGTERM after the grace");
    assert.equal(entry("later").attempts.length, 0);
    for (const name of ["slow", "hung"]) {
      const log = await readFile(entry(name).attempts[0]!.logFile, "utf8");
      // imapsync answers a single SIGINT by reconnecting: it must never have received one.
      assert.doesNotMatch(log, /Got a signal INT/, name);
    }
  });

  it("a second signal ends everything at once, without waiting for the grace", async () => {
    const s = await makeScene({
      ...world,
      env: { STALL_TIMEOUT: "0", STOP_GRACE: "30s", CONCURRENCY: "2" },
    });
    const bg = s.start(["migrate", "--users", s.usersFile]);
    await until(s, running(2));
    // "hung" no longer reads its abort file: only the second signal can end the stop early.
    await hungStalled(s);
    const began = Date.now();
    bg.child.kill("SIGTERM");
    await waitFor(
      async () => bg.stderr().includes("SIGTERM received: stopping."),
      DOCKER_STOP_MS,
      "the first signal taken",
    );
    bg.child.kill("SIGTERM");
    const result = await bg.child;
    const took = Date.now() - began;
    assert.equal(result.exitCode, 143, bg.stderr());
    assert.ok(took < DOCKER_STOP_MS, `stopped in ${took} ms despite STOP_GRACE=30s`);
    const report = await s.report();
    assert.deepEqual(
      report.mailboxes.map((e) => e.status),
      ["interrupted", "interrupted", "pending"],
    );
  });
});

// STALL_TIMEOUT counts from the start of imapsync: 5 s, not 1 s, so that a double that a loaded
// machine starts slowly is not taken for a stalled run.
describe("stuck runs", { timeout: 300_000 }, () => {
  it("a run silent beyond STALL_TIMEOUT is stopped, recorded interrupted/stalled, and retried", async () => {
    const { users, world } = usersAndWorld(
      { hung: "pw-hung-2", fine: "pw-fine-1" },
      { stall: { "hung@contoso.test": 40 } },
    );
    const s = await makeScene({
      users,
      world,
      env: { STALL_TIMEOUT: "5s", STOP_GRACE: "1s", MAX_BACKOFF: "1s" },
    });
    const bg = s.start(["migrate", "--users", s.usersFile]);
    // Once the second run has read the world, the third will read a server that answers.
    await waitFor(
      async () =>
        (await runSpans(s.stateDir)).filter((r) => r.user1 === "hung@contoso.test").length >= 2,
      120_000,
      "a second run of the hung mailbox",
    );
    await s.setWorld({ ...world, stall: {} });
    const result = await bg.child;
    assert.equal(result.exitCode, 0, bg.stderr());
    assert.match(
      bg.stderr(),
      /hung@contoso\.test: interrupted, next try at \S+ \(in 1s\): the run went silent \(STALL_TIMEOUT\)/,
    );
    const report = await s.report();
    const hung = report.mailboxes.find((e) => e.source === "hung@contoso.test")!;
    assert.equal(hung.status, "ok");
    assert.deepEqual(
      hung.attempts.map((a) => [a.class, a.reason]),
      [
        ["interrupted", "stalled"],
        ["interrupted", "stalled"],
        ["ok", undefined],
      ],
    );
    assert.equal(report.mailboxes.find((e) => e.source === "fine@contoso.test")?.status, "ok");
  });

  it("a stalled run that is the last attempt stays interrupted, with the reason in the report", async () => {
    const { users, world } = usersAndWorld(
      { hung: "pw-hung-2" },
      { stall: { "hung@contoso.test": 40 } },
    );
    const s = await makeScene({ users, world, env: { STALL_TIMEOUT: "5s", STOP_GRACE: "1s" } });
    const bg = s.start(["migrate", "--users", s.usersFile]);
    await waitFor(() => /the run went silent/.test(bg.stderr()), 120_000, "the stall notice");
    bg.child.kill("SIGTERM");
    const result = await bg.child;
    assert.equal(result.exitCode, 143, bg.stderr());
    const hung = (await s.report()).mailboxes[0]!;
    assert.equal(hung.status, "pending", "waiting for its retry when the signal came");
    assert.equal(hung.attempts[0]?.reason, "stalled");
    assert.match(hung.remedy ?? "", /STALL_TIMEOUT/);
  });
});
