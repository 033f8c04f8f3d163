// Big mailboxes through the built CLI, with the imapsync double modelling folders and messages:
// check's sizes put the biggest first and slice it; one run creates its folders, then its slices
// copy at once, each pinned to its folders; a slice that fails is rerun alone; a second migrate
// copies nothing.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { makeScene, usersAndWorld, type Scene } from "../helpers/cli-scene.js";
import { doubleCalls, type ModelFolder } from "../helpers/imapsync-world.js";
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
function bigScene(more: Record<string, unknown> = {}): Promise<Scene> {
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
  return makeScene({ users, world, env: { CONCURRENCY: "4" } });
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

describe("big mailboxes, sliced", { timeout: 240_000 }, () => {
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
});
