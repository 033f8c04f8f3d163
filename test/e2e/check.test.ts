// `check` through the built CLI against the doubles: every problem listed together, in minutes.
import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, it } from "node:test";
import { quotaShortfall } from "../../src/engine/preflight.js";
import type { Report } from "../../src/report/schema.js";
import {
  ADMIN,
  doublesEnv,
  ENTRA_APP,
  makeScene,
  runSpans,
  usersAndWorld,
} from "../helpers/cli-scene.js";
import { runCli, scanForSecrets, tempDir, waitFor } from "../helpers/env.js";
import { doubleCalls, makeWorld } from "../helpers/imapsync-world.js";
const PASSWORDS: Record<string, string> = {
  "alice@contoso.test": "alice-pw-Été",
  "bob@contoso.test": "bob-pw",
  "dave@contoso.test": "dave-right-pw",
  "o'brien@contoso.test": "obrien-pw",
  "erin@contoso.test": "erin-pw",
};

describe("quotaShortfall", () => {
  it("compares what the destination still lacks with what its quota leaves free", () => {
    const quota = (usedBytes: number, limitBytes: number) => ({ usedBytes, limitBytes });
    // The recorded preflight of a 87 KiB mailbox into a 60 KiB quota.
    assert.deepEqual(
      quotaShortfall({
        sourceBytes: 89177,
        destinationBytes: 0,
        destinationQuota: quota(0, 61440),
      }),
      { needBytes: 89177, freeBytes: 61440 },
    );
    // A rerun: most of it is there already and counted in the quota's usage.
    assert.equal(
      quotaShortfall({
        sourceBytes: 89177,
        destinationBytes: 60000,
        destinationQuota: quota(60000, 100000),
      }),
      undefined,
    );
    // No quota (limit 0), or nothing known about the source: nothing to predict.
    assert.equal(
      quotaShortfall({ sourceBytes: 10 ** 9, destinationQuota: quota(0, 0) }),
      undefined,
    );
    assert.equal(quotaShortfall({ destinationQuota: quota(0, 1) }), undefined);
  });
});

describe("check", { timeout: 120_000 }, () => {
  it("lists a not-delegated mailbox and a wrong destination password together, with the grant lines", async () => {
    const dir = await tempDir();
    const users = path.join(dir, "users.csv");
    await writeFile(
      users,
      [
        "source,destination,password",
        `alice@contoso.test,,${PASSWORDS["alice@contoso.test"]}`,
        `bob@contoso.test,,${PASSWORDS["bob@contoso.test"]}`,
        "dave@contoso.test,,dave-WRONG-pw",
        `"o'brien@contoso.test",,${PASSWORDS["o'brien@contoso.test"]}`,
        `erin@contoso.test,,${PASSWORDS["erin@contoso.test"]}`,
        "",
      ].join("\n"),
    );
    const world = await makeWorld(dir, {
      delegations: { [ADMIN]: ["alice@contoso.test", "dave@contoso.test", "erin@contoso.test"] },
      passwords: PASSWORDS,
      // erin's source holds more than her destination quota lets in.
      quota: ["erin@contoso.test"],
      // No login ends before all five have begun: logins run one after the other would hang
      // there until the test's timeout, on a machine of any speed.
      together: Object.keys(PASSWORDS).length,
    });
    const workDir = path.join(dir, "work");
    const env = { ...(await doublesEnv(dir, workDir, world.env)), ...ENTRA_APP };
    const run = await runCli(["check", "--users", users], { cwd: dir, env });
    assert.equal(run.exitCode, 1, run.stderr);
    assert.match(run.stdout, /^ {2}imapsync {2}2\.229 /m);
    assert.match(run.stdout, /^ {2}oauth2c {3}v1\.19\.0-4-g9db96f9 /m);
    assert.match(run.stdout, /^Token {2}a delegated token of admin@contoso\.test/m);
    const row = (mailbox: string) =>
      new RegExp(`^ {2}${mailbox.replace(/[.']/g, "\\$&")} +(\\S+)`, "m").exec(run.stdout)?.[1];
    assert.equal(row("alice@contoso.test"), "ok");
    assert.equal(row("bob@contoso.test"), "not_delegated");
    assert.equal(row("dave@contoso.test"), "auth_failed_destination");
    assert.equal(row("o'brien@contoso.test"), "not_delegated");
    assert.equal(row("erin@contoso.test"), "quota_exceeded");
    assert.match(run.stdout, /quota of erin@contoso\.test leaves 60\.0 KiB free, but 87\.1 KiB/);
    assert.match(
      run.stdout,
      /^ {2}Add-MailboxPermission -Identity 'bob@contoso\.test' -User 'admin@contoso\.test' -AccessRights FullAccess -InheritanceType All -AutoMapping \$false$/m,
    );
    assert.match(run.stdout, /-Identity 'o''brien@contoso\.test'/);
    assert.equal(run.stdout.match(/^ {2}Add-MailboxPermission/gm)?.length, 2);
    assert.match(run.stdout, /^1 of 5 mailboxes can be migrated/m);

    const report = JSON.parse(await readFile(path.join(workDir, "check.json"), "utf8")) as Report;
    assert.deepEqual(
      report.mailboxes.map((e) => [e.source, e.status, e.class]),
      [
        ["alice@contoso.test", "ok", "ok"],
        ["bob@contoso.test", "failed", "not_delegated"],
        ["dave@contoso.test", "failed", "auth_failed_destination"],
        ["o'brien@contoso.test", "failed", "not_delegated"],
        ["erin@contoso.test", "failed", "quota_exceeded"],
      ],
    );
    const calls = (await doubleCalls(world.stateDir)).filter((c) => c.outcome !== "version");
    assert.deepEqual(
      calls.map((c) => c.mode),
      ["preflight", "preflight", "preflight", "preflight", "preflight"],
    );
    // All at once: the runs overlap in time.
    const starts = calls.map((c) => Date.parse(c.start));
    const ends = calls.map((c) => Date.parse(c.end));
    assert.ok(Math.max(...starts) < Math.min(...ends), "the logins ran concurrently");
    assert.deepEqual(
      scanForSecrets({ out: run.stdout + run.stderr }, Object.values(PASSWORDS)),
      [],
    );

    // Fixed in Exchange and in the users file: the same check now says go.
    await world.update({
      delegations: { [ADMIN]: Object.keys(PASSWORDS) },
      passwords: PASSWORDS,
    });
    const fixed = (await readFile(users, "utf8")).replace(
      "dave-WRONG-pw",
      PASSWORDS["dave@contoso.test"]!,
    );
    await writeFile(users, fixed);
    const again = await runCli(["check", "--users", users], { cwd: dir, env });
    assert.equal(again.exitCode, 0, again.stdout);
    assert.match(again.stdout, /^5 of 5 mailboxes can be migrated/m);
    assert.ok(!again.stdout.includes("Add-MailboxPermission"));
  });
});

describe("check, interrupted", { timeout: 180_000 }, () => {
  it("stops its imapsync runs through their abort file on SIGTERM, at once, exit 143", async () => {
    const { users, world } = usersAndWorld(
      { slow: "pw-slow-1" },
      { seconds: { "slow@contoso.test": 60 } },
    );
    const s = await makeScene({ users, world });
    const bg = s.start(["check", "--users", s.usersFile]);
    // `check` also asks imapsync its version: only the mailbox's run counts here.
    const preflights = async () =>
      (await runSpans(s.stateDir)).filter((span) => span.user1 === "slow@contoso.test");
    await waitFor(async () => (await preflights()).length === 1, 60_000, "the preflight run");
    const began = Date.now();
    bg.child.kill("SIGTERM");
    const result = await bg.child;
    assert.equal(result.exitCode, 143, bg.stderr());
    assert.ok(Date.now() - began < 10_000, "within docker stop's 10 s");
    const [span] = await preflights();
    assert.equal(span?.outcome, "interrupted", "the abort file, not a kill");
  });
});

describe("check runs its preflights like migrate runs its attempts", { timeout: 180_000 }, () => {
  it("a preflight silent beyond STALL_TIMEOUT is stopped and recorded stalled", async () => {
    const { users, world } = usersAndWorld(
      { hung: "pw-hung-2", fine: "pw-fine-1" },
      { stall: { "hung@contoso.test": 40 } },
    );
    // 5 s, not 1 s: STALL_TIMEOUT counts from imapsync's start, slow on a loaded machine. The
    // hung double never ends by itself: the check ending at all, with the reason below, is the proof.
    const s = await makeScene({ users, world, env: { STALL_TIMEOUT: "5s", STOP_GRACE: "1s" } });
    const result = await s.run(["check", "--users", s.usersFile]);
    assert.equal(result.exitCode, 1, result.stderr);
    const checked = JSON.parse(
      await readFile(path.join(s.workDir, "check.json"), "utf8"),
    ) as Report;
    const hung = checked.mailboxes.find((e) => e.source === "hung@contoso.test")!;
    assert.equal(hung.attempts[0]?.reason, "stalled");
    assert.equal(hung.status, "failed");
    assert.equal(checked.mailboxes.find((e) => e.source === "fine@contoso.test")?.status, "ok");
  });

  it("says why imapsync could not be started", async () => {
    const { users, world } = usersAndWorld({ alice: "pw-alice-1" });
    const s = await makeScene({ users, world });
    // Executable, so the settings check passes; its interpreter does not exist, so spawning fails.
    const broken = path.join(s.dir, "imapsync-broken");
    await writeFile(broken, "#!/nonexistent/interpreter\n", { mode: 0o755 });
    const result = await s.run(["check", "--users", s.usersFile], { IMAPSYNC_BIN: broken });
    assert.equal(result.exitCode, 1, result.stderr);
    assert.match(result.stderr, /alice@contoso\.test: imapsync could not be started: .*ENOENT/);
  });
});
