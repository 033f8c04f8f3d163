// Big mailboxes through the built CLI, with the imapsync double modelling folders and messages:
// check's sizes put the biggest first and slice it; one run creates its folders, then its slices
// copy at once, each pinned to its folders; a slice that fails is rerun alone; a second migrate
// copies nothing.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { readFile } from "node:fs/promises";
import path from "node:path";
import {
  makeScene,
  runSpans,
  usersAndWorld,
  type RunSpan,
  type Scene,
} from "../helpers/cli-scene.js";
import { waitFor } from "../helpers/env.js";
import { doubleCalls, type ModelFolder, type World } from "../helpers/imapsync-world.js";
import { imapName, readDestination } from "../doubles/mailbox-model.js";
import type { PrintedPlan } from "../../src/plan/schema.js";

const BIG: ModelFolder[] = [
  { name: "INBOX", messages: 60 },
  { name: "Éléments envoyés", messages: 40 },
  { name: "Archive", messages: 30 },
  { name: "Sent", messages: 20 },
  { name: "Projets Été", messages: 10 },
];
const SMALL: ModelFolder[] = [{ name: "INBOX", messages: 10 }];
const big = "big@contoso.test";

/** small1 first in the users file: the sizes put big first all the same. */
function bigScene(
  more: Partial<World> = {},
  scene: { env?: Record<string, string>; signIn?: "oauth2c" } = {},
): Promise<Scene> {
  const { users, world } = usersAndWorld(
    { small1: "s1-pw", big: "big-pw-Été", small2: "s2-pw" },
    {
      mailboxes: {
        [big]: BIG,
        "small1@contoso.test": SMALL,
        "small2@contoso.test": SMALL,
      },
      ...more,
    },
  );
  return makeScene({ users, world, ...scene, env: { CONCURRENCY: "4", ...scene.env } });
}

/** check, for the sizes; then what a run of big's slices looked like. */
async function checked(s: Scene): Promise<void> {
  const check = await s.run(["check", "--users", s.usersFile]);
  assert.equal(check.exitCode, 0, check.stderr);
}

async function bigRuns(s: Scene): Promise<RunSpan[]> {
  return (await runSpans(s.stateDir))
    .filter((span) => span.user1 === big && !span.argv.includes("--justfoldersizes"))
    .sort((a, b) => a.start - b.start);
}

/** Each message reached the destination once: no copy twice, none missing. */
async function assertEachMessageOnce(s: Scene, folders: ModelFolder[]): Promise<void> {
  const events = (await readFile(path.join(s.stateDir, `dest-${big}.jsonl`), "utf8"))
    .split("\n")
    .filter((line) => line.includes('"message"'));
  const total = folders.reduce((sum, f) => sum + f.messages, 0);
  assert.equal(events.length, total, "copies of big's messages");
  assertCopiedWhole(s, big, folders);
}

/** The values of an option in an argv. */
function values(argv: string[], option: string): string[] {
  return argv.flatMap((word, i) => (argv[i - 1] === option ? [word] : []));
}

/** Every folder of the mailbox holds on the destination exactly what the source holds. */
function assertCopiedWhole(s: Scene, source: string, folders: ModelFolder[]): void {
  const destination = readDestination(s.stateDir, source);
  for (const folder of folders) {
    assert.equal(destination.held.get(imapName(folder.name))?.size, folder.messages, folder.name);
  }
}

describe("big mailboxes, sliced", { timeout: 900_000 }, () => {
  it("check's sizes: biggest first, sliced by folders after one --justfolders run, each slice pinned; a rerun copies nothing", async () => {
    const s = await bigScene();
    const check = await s.run(["check", "--users", s.usersFile]);
    assert.equal(check.exitCode, 0, check.stderr);

    const plan = await s.run(["migrate", "--users", s.usersFile, "--plan", "--json"]);
    assert.equal(plan.exitCode, 0, plan.stderr);
    const plans = plan.stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as PrintedPlan);
    assert.deepEqual(
      plans.map((p) => p.source),
      [big, "small1@contoso.test", "small2@contoso.test"],
    );
    // 180 messages, 4 at a time: a share is 45; big (160) is 4 shares, its folders balanced.
    const [first] = plans;
    assert.equal(first?.justFolders, true);
    assert.ok(first?.argv.includes("--justfolders"));
    assert.deepEqual(
      first?.slices?.map((slice) => slice.folders),
      [["INBOX"], [imapName("Éléments envoyés")], ["Archive"], ["Sent", imapName("Projets Été")]],
    );
    assert.match(first!.slices![1]!.logFile, /slice-s2\.attempt-1\.log$/);
    assert.equal(plans[1]?.slices, undefined);
    assert.match(plan.stderr, /Largest first: sizes of 3 of 3 mailboxes known .*1 sliced/);

    const migrate = await s.run(["migrate", "--users", s.usersFile]);
    assert.equal(migrate.exitCode, 0, migrate.stderr + migrate.stdout);
    const calls = (await doubleCalls(s.stateDir)).filter((c) => c.user1 === big);
    const prep = calls.filter((c) => c.mode === "justfolders");
    const slices = calls.filter((c) => c.mode === "sync");
    assert.equal(prep.length, 1);
    assert.equal(slices.length, 4);
    // Every slice starts after the folders exist, pinned to exactly its own folders.
    for (const call of slices) {
      assert.ok(call.start >= prep[0]!.end, "after the folders were created");
      const folders = values(call.argv, "--folder");
      assert.deepEqual(values(call.argv, "--f1f2").sort(), folders.map((f) => `${f}=${f}`).sort());
    }
    assertCopiedWhole(s, big, BIG);
    const entry = (await s.report()).mailboxes.find((e) => e.source === big)!;
    assert.equal(entry.status, "ok");
    assert.deepEqual(
      entry.slices?.map((slice) => [slice.id, slice.status, slice.attempts.length]),
      [
        ["s1", "ok", 1],
        ["s2", "ok", 1],
        ["s3", "ok", 1],
        ["s4", "ok", 1],
      ],
    );
    assert.deepEqual(
      entry.slices?.map((slice) => slice.attempts[0]?.messagesTransferred),
      [60, 40, 30, 30],
    );

    // verify keeps the slices' records (their attempts number their logs).
    const verify = await s.run(["verify", "--users", s.usersFile]);
    assert.equal(verify.exitCode, 0, verify.stderr);
    const kept = (await s.report()).mailboxes.find((e) => e.source === big)!;
    assert.equal(kept.verification?.verdict, "verified");
    assert.deepEqual(
      kept.slices?.map((slice) => [slice.id, slice.status]),
      entry.slices?.map((slice) => [slice.id, slice.status]),
    );

    // The final delta: new slices of the same folders (no folder to create), nothing copied.
    const again = await s.run(["migrate", "--users", s.usersFile]);
    assert.equal(again.exitCode, 0, again.stderr);
    const rerun = (await s.report()).mailboxes.find((e) => e.source === big)!;
    assert.deepEqual(
      rerun.slices?.map((slice) => [slice.id, slice.attempts[0]?.messagesTransferred]),
      [
        ["s5", 0],
        ["s6", 0],
        ["s7", 0],
        ["s8", 0],
      ],
    );
    const later = (await doubleCalls(s.stateDir)).filter((c) => c.user1 === big);
    assert.equal(later.filter((c) => c.mode === "justfolders").length, 1);
  });

  it("retry reruns the mailboxes not ok largest first, as migrate runs them", async () => {
    // Listed smallest first; one run at a time (nothing sliced), so the starts are the order.
    const { users, world } = usersAndWorld(
      { small1: "s1-pw", mid: "mid-pw", big: "big-pw-Été" },
      {
        mailboxes: {
          "small1@contoso.test": SMALL,
          "mid@contoso.test": [{ name: "INBOX", messages: 40 }],
          [big]: BIG,
        },
      },
    );
    const s = await makeScene({ users, world, env: { CONCURRENCY: "1" } });
    await checked(s);
    // The admin's FullAccess is not there yet: every mailbox fails.
    await s.setWorld({ ...world, delegations: {} });
    const migrate = await s.run(["migrate", "--users", s.usersFile]);
    assert.equal(migrate.exitCode, 1, migrate.stderr);
    const failed = (await s.report()).mailboxes.map((e) => [e.source, e.status, e.class]);
    assert.deepEqual(failed, [
      ["small1@contoso.test", "failed", "not_delegated"],
      ["mid@contoso.test", "failed", "not_delegated"],
      [big, "failed", "not_delegated"],
    ]);

    await s.setWorld(world);
    const before = (await doubleCalls(s.stateDir)).length;
    const retry = await s.run(["retry", "--report", `${s.workDir}/report.json`]);
    assert.equal(retry.exitCode, 0, retry.stderr);
    assert.match(retry.stderr, /Largest first: sizes of 3 of 3 mailboxes known .*0 sliced/);
    const rerun = (await doubleCalls(s.stateDir))
      .slice(before)
      .sort((a, b) => Date.parse(a.start) - Date.parse(b.start));
    assert.deepEqual(
      rerun.map((c) => [c.user1, c.mode]),
      [
        [big, "sync"],
        ["mid@contoso.test", "sync"],
        ["small1@contoso.test", "sync"],
      ],
    );
    const report = await s.report();
    assert.ok(report.mailboxes.every((e) => e.status === "ok"));
  });

  it("a slice that fails is rerun alone by retry; the mailbox is as its worst slice", async () => {
    const s = await bigScene({ brokenFolder: { [big]: "Archive" } });
    assert.equal((await s.run(["check", "--users", s.usersFile])).exitCode, 0);
    const migrate = await s.run(["migrate", "--users", s.usersFile]);
    assert.equal(migrate.exitCode, 1, migrate.stderr);
    const failed = (await s.report()).mailboxes.find((e) => e.source === big)!;
    assert.equal(failed.status, "failed");
    assert.equal(failed.class, "quota_exceeded");
    assert.match(failed.remedy ?? "", /^slice s3: /);
    assert.deepEqual(
      failed.slices?.map((slice) => slice.status),
      ["ok", "ok", "failed", "ok"],
    );

    await s.setWorld({
      ...usersAndWorld({ small1: "s1-pw", big: "big-pw-Été", small2: "s2-pw" }).world,
      mailboxes: { [big]: BIG, "small1@contoso.test": SMALL, "small2@contoso.test": SMALL },
    });
    const before = (await doubleCalls(s.stateDir)).length;
    const retry = await s.run(["retry", "--report", `${s.workDir}/report.json`]);
    assert.equal(retry.exitCode, 0, retry.stderr);
    const rerun = (await doubleCalls(s.stateDir)).slice(before);
    assert.deepEqual(
      rerun.map((c) => [c.user1, c.mode, values(c.argv, "--folder")]),
      [[big, "sync", ["Archive"]]],
    );
    const entry = (await s.report()).mailboxes.find((e) => e.source === big)!;
    assert.equal(entry.status, "ok");
    assert.deepEqual(
      entry.slices?.map((slice) => [slice.id, slice.status, slice.attempts.length]),
      [
        ["s1", "ok", 1],
        ["s2", "ok", 1],
        ["s3", "ok", 2],
        ["s4", "ok", 1],
      ],
    );
    assertCopiedWhole(s, big, BIG);
  });

  it("a throttled slice stops its siblings: those refused already count as throttled, the others paused; all wait, then one slice tries first, in later runs too", async () => {
    // Exchange Online throttles the mailbox: every slice that runs first would be throttled.
    const s = await bigScene({ throttle: { [big]: 1 }, seconds: { [big]: 2 } });
    await checked(s);
    const migrate = await s.run(["migrate", "--users", s.usersFile]);
    assert.equal(migrate.exitCode, 0, migrate.stderr);
    const runs = (await bigRuns(s)).filter((r) => r.argv.includes("--folder"));
    const [first, second] = [runs.slice(0, 4), runs.slice(4)];
    // The first refused stops the others through their abort file (exit 7), unless they were
    // refused too before it reached them.
    assert.ok(first.some((r) => r.outcome === "throttled"));
    for (const run of first) assert.match(run.outcome ?? "", /^(throttled|interrupted)$/);
    assert.deepEqual(
      second.map((r) => r.outcome),
      ["ok", "ok", "ok", "ok"],
    );
    const lastStopped = Math.max(...first.map((r) => r.end!));
    for (const run of second)
      assert.ok(run.start >= lastStopped, "no slice starts while its mailbox waits");
    // Exchange Online budgets the mailbox: after its wait one slice tries alone whether the wait
    // was enough (the others would be refused with it); they follow once it has copied.
    const [probe, ...others] = [...second].sort((a, b) => a.start - b.start);
    for (const run of others)
      assert.ok(run.start > probe!.start, "the others start after the one that tries");
    const entry = (await s.report()).mailboxes.find((e) => e.source === big)!;
    assert.equal(entry.status, "ok");
    // A first attempt whose log shows the server's refusal is a throttled attempt, whether the
    // stop reached it after (exit 7) or not; only one stopped before any refusal is paused.
    const firstAttempts = entry.slices!.map((slice) => slice.attempts[0]!);
    let refused = 0;
    for (const attempt of firstAttempts) {
      const log = await readFile(attempt.logFile, "utf8");
      const shows = log.includes("NO Request is throttled");
      if (shows) refused++;
      assert.equal(attempt.class, shows ? "throttled" : "interrupted", attempt.logFile);
      assert.equal(attempt.reason, shows ? undefined : "paused", attempt.logFile);
    }
    assert.ok(refused >= 1);
    assert.deepEqual(
      entry.slices?.map((slice) => [slice.status, slice.attempts.length, slice.attempts[1]?.class]),
      Array.from({ length: 4 }, () => ["ok", 2, "ok"]),
    );
    await assertEachMessageOnce(s, BIG);
    // Recorded: the next migrate starts its slices one at a time too, and --plan says why.
    assert.match(entry.throttledWhileSliced ?? "", /^\d{4}-\d\d-\d\dT/);
    const plan = await s.run(["migrate", "--users", s.usersFile, "--plan"]);
    assert.equal(plan.exitCode, 0, plan.stderr);
    assert.match(
      plan.stdout,
      /# big@contoso\.test -> big@contoso\.test \([^)]*: 4 slices one at a time first: Exchange Online throttled it while sliced \(\d{4}-[^)]*\): it budgets the mailbox itself, so one slice runs until it is refused again, then all while well under what it was allowed between two refusals\)\n/,
    );
  });

  it("token expiry inside slices: one new sign-in, the expired slices rerun and end ok", async () => {
    const s = await bigScene(
      { seconds: { [big]: 16 } },
      { env: { APP_SECRET: "app-secret-slices-1", TOKEN_MARGIN: "2s" }, signIn: "oauth2c" },
    );
    await checked(s);
    assert.equal((await s.run(["token", "--forget"])).exitCode, 0);
    // migrate's own sign-ins (counted in a log of their own): the first lives 12 s, less than a
    // slice's 16 s (a loaded machine's sign-in takes seconds of it); the next an hour.
    const minted = path.join(s.dir, "minted-migrate.jsonl");
    const migrate = await s.run(["migrate", "--users", s.usersFile], {
      FAKE_TOKEN_TTL: "12,3600",
      FAKE_BROWSER_LOG: minted,
    });
    assert.equal(migrate.exitCode, 0, migrate.stderr);
    const entry = (await s.report()).mailboxes.find((e) => e.source === big)!;
    assert.equal(entry.status, "ok");
    for (const slice of entry.slices ?? []) {
      assert.deepEqual(
        slice.attempts.map((a) => a.class),
        ["token_expired", "ok"],
        slice.id,
      );
    }
    const signIns = (await readFile(minted, "utf8")).trim().split("\n");
    assert.equal(signIns.length, 2, "migrate's first, and one after the expiry");
    await assertEachMessageOnce(s, BIG);
  });

  it("interrupted slices: --resume reruns the slices not ok, and no message is copied twice", async () => {
    const s = await bigScene({ seconds: { [big]: 6 } });
    await checked(s);
    const bg = s.start(["migrate", "--users", s.usersFile]);
    await waitFor(
      async () => (await bigRuns(s)).filter((r) => r.argv.includes("--folder")).length >= 2,
      60_000,
      "two slices running",
    );
    // What a terminal does on Ctrl-C: SIGINT to the whole foreground process group.
    process.kill(-bg.child.pid!, "SIGINT");
    const stopped = await bg.child;
    assert.equal(stopped.exitCode, 130, bg.stderr());
    const cut = (await s.report()).mailboxes.find((e) => e.source === big)!;
    assert.notEqual(cut.status, "ok");
    const notOk = cut.slices!.filter((slice) => slice.status !== "ok").map((slice) => slice.id);
    assert.ok(notOk.length >= 2, `slices not ok: ${notOk.join()}`);
    assert.ok(cut.slices!.some((slice) => slice.status === "interrupted"));

    const before = (await bigRuns(s)).length;
    const resume = await s.run(["migrate", "--users", s.usersFile, "--resume"]);
    assert.equal(resume.exitCode, 0, resume.stderr);
    const rerun = (await bigRuns(s)).slice(before);
    assert.equal(rerun.length, notOk.length, "exactly the slices not ok");
    const entry = (await s.report()).mailboxes.find((e) => e.source === big)!;
    assert.equal(entry.status, "ok");
    assert.ok(entry.slices!.every((slice) => slice.status === "ok"));
    await assertEachMessageOnce(s, BIG);
  });

  it("passthrough options that choose folders or messages leave the mailbox whole, with a note", async () => {
    const s = await bigScene();
    await checked(s);
    for (const option of [
      ["--maxage", "30"],
      ["--include", "^INBOX"],
      ["--subscribed"],
      ["--search", "ALL"],
    ]) {
      const plan = await s.run([
        "migrate",
        "--users",
        s.usersFile,
        "--plan",
        "--json",
        "--",
        ...option,
      ]);
      assert.equal(plan.exitCode, 0, plan.stderr);
      const first = JSON.parse(plan.stdout.split("\n")[0]!) as PrintedPlan;
      assert.equal(first.source, big, "still the biggest first");
      assert.equal(first.slices, undefined, option.join(" "));
      assert.match(first.unsliced ?? "", new RegExp(`not sliced: ${option[0]}`));
    }
  });

  it("a folder bigger than a slice is cut by date where check's probes say; mail all on one day stays whole", async () => {
    // INBOX: one message a day from 1 Jan 2024, 120 days; 3 of big's 4 slices' worth.
    const dated: ModelFolder[] = [
      { name: "INBOX", messages: 120, firstDay: "2024-01-01", days: 120 },
      { name: "Sent", messages: 20 },
      { name: "Archive", messages: 20 },
    ];
    const s = await bigScene({
      mailboxes: { [big]: dated, "small1@contoso.test": SMALL, "small2@contoso.test": SMALL },
    });
    const check = await s.run(["check", "--users", s.usersFile]);
    assert.equal(check.exitCode, 0, check.stderr);
    assert.match(
      check.stdout,
      /^ {2}INBOX of big@contoso\.test: cut by date at \S+, \S+ \(\d+ probes\)$/m,
    );
    const plan = await s.run(["migrate", "--users", s.usersFile, "--plan", "--json"]);
    const slices = (JSON.parse(plan.stdout.split("\n")[0]!) as PrintedPlan).slices!;
    assert.deepEqual(
      slices.map((slice) => slice.folders),
      [["INBOX"], ["INBOX"], ["INBOX"], ["Archive", "Sent"]],
    );
    // Before the first cut, between the cuts, since the second: no gap, no overlap.
    const [a, b, c] = slices;
    assert.equal(a?.since, undefined);
    assert.equal(a?.before, b?.since);
    assert.equal(b?.before, c?.since);
    assert.equal(c?.before, undefined);
    // 40 messages a part, give or take check's tolerance of 2: the 10th of February, the 21st of March.
    const day = (text: string) => Date.parse(`${text} UTC`);
    assert.ok(Math.abs(day(b!.since!) - Date.UTC(2024, 1, 10)) <= 2 * 86_400_000, b?.since);
    assert.ok(Math.abs(day(c!.since!) - Date.UTC(2024, 2, 21)) <= 2 * 86_400_000, c?.since);
    assert.deepEqual(values(slices[1]!.argv, "--search1"), [
      `SINCE ${b!.since} BEFORE ${b!.before}`,
    ]);

    const migrate = await s.run(["migrate", "--users", s.usersFile]);
    assert.equal(migrate.exitCode, 0, migrate.stderr);
    await assertEachMessageOnce(s, dated);

    // An import: every INTERNALDATE on one day. No cut would split it: INBOX stays one slice.
    const imported = dated.map((f) => (f.name === "INBOX" ? { ...f, days: 1 } : f));
    const t = await bigScene({
      mailboxes: { [big]: imported, "small1@contoso.test": SMALL, "small2@contoso.test": SMALL },
    });
    const checkT = await t.run(["check", "--users", t.usersFile]);
    assert.match(
      checkT.stdout,
      /^ {2}INBOX of big@contoso\.test: stays whole \(most of its mail is on one day/m,
    );
    const planT = await t.run(["migrate", "--users", t.usersFile, "--plan", "--json"]);
    const whole = (JSON.parse(planT.stdout.split("\n")[0]!) as PrintedPlan).slices!;
    assert.deepEqual(
      whole.map((slice) => [slice.folders, slice.since, slice.before]),
      [
        [["INBOX"], undefined, undefined],
        [["Archive"], undefined, undefined],
        [["Sent"], undefined, undefined],
      ],
    );
  });

  it("migrate --verify: once its last slice ends ok, the mailbox is verified whole, folder by folder", async () => {
    const s = await bigScene();
    await checked(s);
    const migrate = await s.run(["migrate", "--users", s.usersFile, "--verify"]);
    assert.equal(migrate.exitCode, 0, migrate.stderr);
    const entry = (await s.report()).mailboxes.find((e) => e.source === big)!;
    assert.equal(entry.slices?.length, 4);
    assert.equal(entry.verification?.verdict, "verified");
    assert.deepEqual(
      entry.verification?.folders.map((f) => [
        f.destination.display,
        f.sourceMessages,
        f.destinationMessages,
      ]),
      // In the listing's order, by IMAP name (`&AMk-l…` first).
      [
        ["Éléments envoyés", 40, 40],
        ["Archive", 30, 30],
        ["INBOX", 60, 60],
        ["Projets Été", 10, 10],
        ["Sent", 20, 20],
      ],
    );
  });
});
