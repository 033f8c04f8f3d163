// Crashes: kill -9 of the tool at random moments, the work-directory lock, imapsync processes and
// password files a crashed run leaves behind.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdir, readdir, utimes, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { execa } from "execa";
import { loadReport } from "../../src/report/store.js";
import { runPaths } from "../../src/imapsync/args.js";
import { findLeftovers, withWorkDirLock } from "../../src/workdir/lock.js";
import { DOUBLES, tempDir, waitFor } from "../helpers/env.js";
import { makeScene, overlaps, runSpans, usersAndWorld } from "../helpers/cli-scene.js";

const TRIALS = Number(process.env.KILL9_TRIALS ?? 20);
/** Trials run side by side, each in its own work directory. */
const PARALLEL = 4;

const PASSWORDS = { m1: "pw-one-1", m2: "pw-two-2", m3: "pw-three-3", m4: "pw-four-4" };
const MAILBOXES = Object.keys(PASSWORDS).map((name) => `${name}@contoso.test`);

/** Mailboxes the killed tool had announced finished ok on its stderr (after saving the report). */
function announcedOk(stderr: string): string[] {
  return [...stderr.matchAll(/^\S+ (\S+@contoso\.test): ok\b/gm)].map((m) => m[1]!);
}

async function trial(delayMs: number): Promise<void> {
  const { users, world } = usersAndWorld(PASSWORDS, {
    seconds: Object.fromEntries(MAILBOXES.map((m) => [m, 0.8])),
  });
  const s = await makeScene({ users, world, env: { CONCURRENCY: "2" } });
  const bg = s.start(["migrate", "--users", s.usersFile]);
  await sleep(delayMs);
  bg.child.kill("SIGKILL");
  await bg.child;
  const stderr = bg.stderr();
  const where = `kill -9 after ${delayMs} ms`;

  const reportFile = path.join(s.workDir, "report.json");
  if (existsSync(reportFile)) {
    // Valid JSON and a valid report, with every mailbox the tool had finished.
    const report = await loadReport(reportFile);
    for (const mailbox of announcedOk(stderr)) {
      const entry = report.mailboxes.find((e) => e.source === mailbox);
      assert.equal(entry?.status, "ok", `${where}: ${mailbox} finished but not ok in the report`);
    }
  }

  // The same work directory finishes the rest (the dead run's lock does not stand in the way).
  const again = await s.run(["migrate", "--users", s.usersFile, "--resume"]);
  assert.equal(again.exitCode, 0, `${where}: ${again.stderr}`);
  const report = await s.report();
  assert.deepEqual(
    report.mailboxes.map((e) => e.status),
    MAILBOXES.map(() => "ok"),
    where,
  );
  assert.deepEqual(await readdir(path.join(s.workDir, "secrets")).catch(() => []), [], where);

  // Orphans of the killed run die at their next line; then every run has ended, none overlapped.
  await waitFor(async () => (await runSpans(s.stateDir)).every((r) => r.end !== undefined), 5000);
  const spans = await runSpans(s.stateDir);
  assert.deepEqual(overlaps(spans), [], `${where}: two runs of one mailbox at the same time`);
}

describe("kill -9 of the tool at random moments", { timeout: 600_000 }, () => {
  it(`${TRIALS} trials: the report stays valid and complete, a rerun finishes, no mailbox runs twice at once`, async () => {
    // Spread over the whole run: before the report exists, while copying, between mailboxes.
    const delays = Array.from({ length: TRIALS }, (_, i) =>
      Math.round(((i + Math.random()) * 3000) / TRIALS),
    );
    for (let i = 0; i < delays.length; i += PARALLEL) {
      await Promise.all(delays.slice(i, i + PARALLEL).map(trial));
    }
    console.log(`kill -9 trials: ${TRIALS}, delays ${delays.join(", ")} ms`);
  });
});

describe("work-directory lock", () => {
  it("refuses a second instance with a clear message", async () => {
    const workDir = path.join(await tempDir(), "work");
    let inner: unknown;
    await withWorkDirLock(workDir, async () => {
      inner = await withWorkDirLock(workDir, async () => 0).catch((error: Error) => error);
      return 0;
    });
    assert.ok(inner instanceof Error);
    assert.match(
      inner.message,
      /Another m365-imapsync \(process \d+\) is already working in .*work \(lock .*\.lock\)\. Wait for it to finish, or use another WORK_DIR/,
    );
  });

  it("takes over at once a lock whose holder was killed", async () => {
    const workDir = path.join(await tempDir(), "work");
    // A real process takes the lock, then dies of SIGKILL without releasing it.
    const holder = execa(
      "node",
      [
        "--input-type=module",
        "-e",
        `const { withWorkDirLock } = await import(${JSON.stringify(path.resolve(DOUBLES, "../../src/workdir/lock.js"))});
         await withWorkDirLock(process.argv[1], () => new Promise(() => { console.log("locked"); setInterval(() => {}, 1000); }));`,
        workDir,
      ],
      { reject: false },
    );
    await new Promise<void>((resolve) => holder.stdout.once("data", () => resolve()));
    await assert.rejects(
      withWorkDirLock(workDir, async () => 0),
      /already working/,
    );
    holder.kill("SIGKILL");
    await holder;
    assert.equal(await withWorkDirLock(workDir, async () => 7), 7);
  });

  it("waits out a lock it cannot check (another container) until proper-lockfile deems it stale", async () => {
    const workDir = path.join(await tempDir(), "work");
    const lockDir = path.join(workDir, ".lock");
    await mkdir(lockDir, { recursive: true });
    const stranger = { pid: 1, pidNamespace: "pid:[1]", bootId: "other", startTicks: "1" };
    await writeFile(path.join(workDir, ".lock.owner"), JSON.stringify(stranger));
    await assert.rejects(
      withWorkDirLock(workDir, async () => 0),
      /process 1\) is already working/,
    );
    const old = new Date(Date.now() - 60_000);
    await utimes(lockDir, old, old);
    assert.equal(await withWorkDirLock(workDir, async () => 3), 3);
  });
});

describe("what a crashed run leaves behind", { timeout: 120_000 }, () => {
  /** An imapsync (the double) that hangs, started as a crashed run would have left it. */
  async function leftover(s: Awaited<ReturnType<typeof makeScene>>, mailbox: string) {
    const files = runPaths(s.workDir, mailbox, 1);
    await mkdir(files.dir, { recursive: true });
    const child = execa(
      "node",
      [path.join(DOUBLES, "imapsync.js"), "--user1", mailbox, "--pidfile", files.pidFile],
      { env: s.env, reject: false, detached: true, stdout: "ignore", stderr: "ignore" },
    );
    await waitFor(async () => existsSync(files.pidFile), 5000);
    return { child, files };
  }

  it("a mailbox whose imapsync is still running is not started again until it ends", async () => {
    const { users, world } = usersAndWorld(
      { hung: "pw-hung-1", free: "pw-free-2" },
      { stall: { "hung@contoso.test": 5 } },
    );
    const s = await makeScene({ users, world });
    const old = await leftover(s, "hung@contoso.test");
    // A password file and a stale pidfile of the crash, too.
    await mkdir(path.join(s.workDir, "secrets"), { recursive: true, mode: 0o700 });
    await writeFile(path.join(s.workDir, "secrets", "x.attempt-1.pass2"), "old-secret\n");
    await writeFile(path.join(s.workDir, "run", "gone.attempt-1.pid"), "999999999\n");
    assert.deepEqual(
      (await findLeftovers(s.workDir)).map((l) => [l.pid, l.mailbox]),
      [[old.child.pid, "hung@contoso.test"]],
    );
    assert.ok(!existsSync(path.join(s.workDir, "run", "gone.attempt-1.pid")), "stale pidfile");

    // The world no longer stalls: the next run of hung would finish at once.
    await s.setWorld({ ...world, stall: {} });
    const bg = s.start(["migrate", "--users", s.usersFile]);
    await waitFor(async () => /free@contoso\.test: ok/.test(bg.stderr()), 20_000);
    assert.match(bg.stderr(), /imapsync PID \d+, left by an earlier run, is still copying hung/);
    assert.match(bg.stderr(), /Removed 1 password file/);
    await sleep(1500);
    const report = await s.report();
    assert.equal(
      report.mailboxes.find((e) => e.source === "hung@contoso.test")?.attempts.length,
      0,
    );
    old.child.kill("SIGTERM");
    const result = await bg.child;
    assert.equal(result.exitCode, 0, bg.stderr());
    assert.deepEqual(overlaps(await runSpans(s.stateDir)), []);
    assert.deepEqual(await readdir(path.join(s.workDir, "secrets")), []);
  });

  it("--stop-leftovers stops it (abort file, then SIGTERM) and copies the mailbox", async () => {
    const { users, world } = usersAndWorld(
      { hung: "pw-hung-1" },
      { stall: { "hung@contoso.test": 5 } },
    );
    const s = await makeScene({ users, world, env: { STOP_GRACE: "1s" } });
    const old = await leftover(s, "hung@contoso.test");
    await s.setWorld({ ...world, stall: {} });
    const result = await s.run(["migrate", "--users", s.usersFile, "--stop-leftovers"]);
    assert.equal(result.exitCode, 0, result.stderr);
    assert.match(result.stderr, /stopping it \(--stop-leftovers\)/);
    const killed = await old.child;
    assert.equal(killed.signal, "SIGTERM", "the stalled run ignores the abort file");
    assert.deepEqual(overlaps(await runSpans(s.stateDir)), []);
    assert.deepEqual(
      (await s.report()).mailboxes[0]?.attempts.map((a) => a.class),
      ["ok"],
    );
  });
});
