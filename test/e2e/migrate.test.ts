// The built CLI against the oauth2c and imapsync doubles, as an admin would run it.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { readdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, it } from "node:test";
import { parse as parseCsv } from "csv-parse/sync";
import { WAITING_FOR_TOKEN } from "../../src/outcomes/remedies.js";
import type { Report, ReportEntry } from "../../src/report/schema.js";
import { ADMIN, makeScene, runSpans, usersAndWorld, type Scene } from "../helpers/cli-scene.js";
import { CLI, filesBelow, mode, readTexts, scanForSecrets, waitFor } from "../helpers/env.js";
import { doubleCalls, type World } from "../helpers/imapsync-world.js";

const APP_SECRET = "app-secret-NEVER-passed-9f3k";
const PASSWORDS = {
  big: "big-Pass;word,1",
  alice: 'pässwörd "Été" 2',
  bob: "bob'pass 3",
  carol: "carol=pass&4",
  dave: "dave-right-pass-5",
};
const WRONG_DAVE = "dave-WRONG-pass";

/** Signs in through the oauth2c double and the fake browser, as an admin would. */
function scene(users: string, world: World, env: Record<string, string> = {}): Promise<Scene> {
  return makeScene({ users, world, env: { APP_SECRET, ...env }, signIn: "oauth2c" });
}

const mintedLog = (s: Scene) => path.join(s.dir, "minted.jsonl");

async function mintedTokens(file: string): Promise<string[]> {
  const text = await readFile(file, "utf8").catch(() => "");
  return text
    .split("\n")
    .filter(Boolean)
    .map((line) => (JSON.parse(line) as { token: string }).token);
}

async function readReport(workDir: string): Promise<Report> {
  return JSON.parse(await readFile(path.join(workDir, "report.json"), "utf8")) as Report;
}

function byMailbox(report: Report): Record<string, ReportEntry | undefined> {
  return Object.fromEntries(report.mailboxes.map((entry) => [entry.source.split("@")[0]!, entry]));
}

/** Every place a secret could end up: outputs, files we wrote, the doubles' argv records. */
async function assertNoSecretLeaks(s: Scene, secrets: string[]): Promise<void> {
  const written = (await filesBelow(s.workDir)).filter((file) => path.basename(file) !== "token");
  const calls = await doubleCalls(s.stateDir);
  const texts = {
    ...s.outputs,
    ...(await readTexts(written)),
    ...Object.fromEntries(
      calls.map((call, i) => [
        `imapsync call ${i} argv`,
        [...call.argv, ...call.cmdline].join(" "),
      ]),
    ),
  };
  assert.ok(Object.keys(texts).length > 10, "the scan must cover outputs, files and argv");
  assert.deepEqual(scanForSecrets(texts, secrets), []);
}

const USERS = [
  "source,destination,password,password_file",
  `big@contoso.test,,"${PASSWORDS.big}",`,
  `alice@contoso.test,,"${PASSWORDS.alice.replace(/"/g, '""')}",`,
  `bob@contoso.test,,${PASSWORDS.bob},`,
  `carol@contoso.test,,${PASSWORDS.carol},`,
  `dave@contoso.test,,${WRONG_DAVE},`,
  "",
].join("\n");

const WORLD: World = {
  delegations: {
    [ADMIN]: ["big@contoso.test", "alice@contoso.test", "carol@contoso.test", "dave@contoso.test"],
  },
  passwords: Object.fromEntries(
    Object.entries(PASSWORDS).map(([name, password]) => [`${name}@contoso.test`, password]),
  ),
  throttle: { "carol@contoso.test": 1 },
  seconds: { "big@contoso.test": 9 },
};

describe("migrate, retry and --resume against the doubles", { timeout: 180_000 }, () => {
  it("ends each mailbox in its true class, retries what can be retried, reports it all, leaks nothing", async () => {
    // big takes 16 s to copy: longer than the first token (12 s) lives. A 2 s margin: no mailbox
    // starts on a token about to die, while big still starts on the first one, even after a
    // sign-in that took a loaded machine several seconds.
    const s = await scene(
      USERS,
      { ...WORLD, seconds: { "big@contoso.test": 16 } },
      { FAKE_TOKEN_TTL: "12,3600", TOKEN_MARGIN: "2s" },
    );

    const first = await s.run(["migrate", "--users", s.usersFile]);
    assert.equal(first.exitCode, 1, first.stderr);
    const report = await readReport(s.workDir);
    const entries = byMailbox(report);
    const summary = (name: string) => ({
      status: entries[name]?.status,
      classes: entries[name]?.attempts.map((attempt) => attempt.class),
    });
    assert.deepEqual(summary("big"), { status: "ok", classes: ["token_expired", "ok"] });
    assert.deepEqual(summary("alice"), { status: "ok", classes: ["ok"] });
    assert.deepEqual(summary("bob"), { status: "failed", classes: ["not_delegated"] });
    assert.deepEqual(summary("carol"), { status: "ok", classes: ["throttled", "ok"] });
    assert.deepEqual(summary("dave"), { status: "failed", classes: ["auth_failed_destination"] });
    // The remedy names the very mailbox and admin, ready to paste into Exchange PowerShell.
    assert.match(
      entries.bob?.remedy ?? "",
      /Add-MailboxPermission -Identity bob@contoso\.test -User admin@contoso\.test -AccessRights FullAccess/,
    );
    assert.equal(report.schemaVersion, 1);
    assert.ok(report.endedAt && report.startedAt <= report.endedAt);
    assert.equal(report.usersFile, s.usersFile);
    assert.equal(entries.alice?.attempts[0]?.messagesTransferred, 300);
    // The expired run printed no statistics: what it copied comes from its copy lines.
    const expiredLog = await readFile(entries.big!.attempts[0]!.logFile, "utf8");
    assert.equal(
      entries.big?.attempts[0]?.messagesTransferred,
      expiredLog.split("\n").filter((line) => /^msg .* copied to /.test(line)).length,
    );
    assert.ok((entries.big?.attempts[0]?.messagesTransferred ?? 0) > 0);
    assert.equal(entries.alice?.attempts[0]?.exitCode, 0);
    assert.equal(entries.bob?.attempts[0]?.exitCode, 117);
    // The first run's folder mapping, accents and all, is kept for reruns.
    assert.ok(
      entries.alice?.folders?.some((pair) => pair.source === "&AMk-l&AOk-ments envoy&AOk-s"),
      JSON.stringify(entries.alice?.folders),
    );
    for (const entry of report.mailboxes) {
      for (const attempt of entry.attempts) {
        assert.ok((await readFile(attempt.logFile, "utf8")).length > 0, attempt.logFile);
      }
    }

    // One sign-in at the start, one after the expiry: never two at once, never one per mailbox.
    assert.equal((await mintedTokens(mintedLog(s))).length, 2);
    assert.match(first.stderr, /Go to|sign/i);
    assert.match(first.stdout, /5 mailboxes: 3 ok, 2 failed/);

    const csv = parseCsv(await readFile(path.join(s.workDir, "report.csv"), "utf8"), {
      columns: true,
    }) as Record<string, string>[];
    assert.deepEqual(
      csv.map((row) => [row.source, row.status, row.class, row.attempts]),
      [
        ["big@contoso.test", "ok", "ok", "2"],
        ["alice@contoso.test", "ok", "ok", "1"],
        ["bob@contoso.test", "failed", "not_delegated", "1"],
        ["carol@contoso.test", "ok", "ok", "2"],
        ["dave@contoso.test", "failed", "auth_failed_destination", "1"],
      ],
    );

    // Passwords travelled in 0600 files that are gone now; argv carried none.
    const calls = await doubleCalls(s.stateDir);
    assert.equal(calls.length, 7);
    for (const call of calls) {
      assert.equal(call.passfiles.passfile2, "0600", JSON.stringify(call.passfiles));
      assert.ok(call.argv.includes("--passfile2"));
      assert.ok(call.argv.includes("--nodockercontext"));
    }
    assert.deepEqual(await readdir(path.join(s.workDir, "secrets")), []);
    assert.equal(await mode(path.join(s.workDir, "token")), 0o600);

    // The admin fixes what the report said: delegation for bob, dave's password.
    await s.setWorld({
      ...WORLD,
      delegations: { [ADMIN]: [...WORLD.delegations[ADMIN]!, "bob@contoso.test"] },
    });
    await writeFile(s.usersFile, USERS.replace(WRONG_DAVE, PASSWORDS.dave));
    const retry = await s.run(["retry", "--report", path.join(s.workDir, "report.json")]);
    assert.equal(retry.exitCode, 0, retry.stderr);
    const retried = byMailbox(await readReport(s.workDir));
    assert.deepEqual(
      retried.bob?.attempts.map((a) => a.class),
      ["not_delegated", "ok"],
    );
    assert.deepEqual(
      retried.dave?.attempts.map((a) => a.class),
      ["auth_failed_destination", "ok"],
    );
    assert.equal(retried.alice?.attempts.length, 1, "retry must not rerun mailboxes already ok");
    const afterRetry = await doubleCalls(s.stateDir);
    assert.deepEqual(
      afterRetry
        .slice(calls.length)
        .map((call) => call.user1)
        .sort(),
      ["bob@contoso.test", "dave@contoso.test"],
    );

    const resumed = await s.run(["migrate", "--users", s.usersFile, "--resume"]);
    assert.equal(resumed.exitCode, 0, resumed.stderr);
    assert.equal((await doubleCalls(s.stateDir)).length, afterRetry.length, "--resume ran nothing");

    // --plan prints what the next attempt will run: the recorded mapping pinned, the next number.
    const planned = await s.run([
      "migrate",
      "--users",
      s.usersFile,
      "--only",
      "alice@*",
      "--plan",
      "--json",
    ]);
    assert.equal(planned.exitCode, 0, planned.stderr);
    const alicePlan = JSON.parse(planned.stdout.trim()) as { argv: string[]; attempt: number };
    assert.equal(alicePlan.attempt, 2);
    assert.ok(alicePlan.argv.includes("--f1f2"), alicePlan.argv.join(" "));

    // A plain migrate reruns everything (the final delta pass), with the first run's mapping.
    const delta = await s.run(["migrate", "--users", s.usersFile, "--only", "alice@*"]);
    assert.equal(delta.exitCode, 0, delta.stderr);
    // The other mailboxes keep their history in the report (a later --resume relies on it).
    const afterDelta = byMailbox(await readReport(s.workDir));
    assert.equal(Object.keys(afterDelta).length, 5);
    assert.deepEqual(
      afterDelta.big?.attempts.map((a) => a.class),
      ["token_expired", "ok"],
    );
    assert.equal(afterDelta.alice?.attempts.length, 2);
    const aliceDelta = (await doubleCalls(s.stateDir)).at(-1)!;
    assert.equal(aliceDelta.user1, "alice@contoso.test");
    const f1f2 = aliceDelta.argv.flatMap((word, i) =>
      word === "--f1f2" ? [aliceDelta.argv[i + 1]] : [],
    );
    assert.ok(
      f1f2.includes("&AMk-l&AOk-ments envoy&AOk-s=&AMk-l&AOk-ments envoy&AOk-s"),
      f1f2.join(" "),
    );
    // What the plan printed is what imapsync received, word for word.
    assert.deepEqual(alicePlan.argv.slice(-aliceDelta.argv.length), aliceDelta.argv);
    assert.deepEqual(alicePlan.argv, aliceDelta.cmdline);

    const secrets = [
      ...Object.values(PASSWORDS),
      WRONG_DAVE,
      APP_SECRET,
      ...(await mintedTokens(mintedLog(s))),
    ];
    await assertNoSecretLeaks(s, secrets);
    // The scan can fail: the token file itself holds a token.
    const tokenFile = await readFile(path.join(s.workDir, "token"), "utf8");
    assert.notDeepEqual(scanForSecrets({ token: tokenFile }, secrets), []);
  });
});

describe("migrate --plan", () => {
  it("prints every imapsync command, masked, without a token or a connection", async () => {
    const s = await scene(USERS, WORLD);
    const plan = await s.run(["migrate", "--users", s.usersFile, "--plan", "--json"]);
    assert.equal(plan.exitCode, 0, plan.stderr);
    const lines = plan.stdout
      .trim()
      .split("\n")
      .map(
        (line) =>
          JSON.parse(line) as {
            source: string;
            destination: string;
            argv: string[];
          },
      );
    assert.deepEqual(
      lines.map((line) => Object.keys(line).slice(0, 3)),
      Array(5).fill(["source", "destination", "argv"]),
    );
    const alice = lines.find((line) => line.source === "alice@contoso.test")!;
    for (const flag of [
      "--addheader",
      "--automap",
      "--office1",
      "--oauthaccesstoken1",
      "--user1",
      "--host2",
      "--user2",
    ]) {
      assert.ok(alice.argv.includes(flag), flag);
    }
    assert.deepEqual(await mintedTokens(mintedLog(s)), []);
    assert.deepEqual(await doubleCalls(s.stateDir), []);
    await assertNoSecretLeaks(s, [...Object.values(PASSWORDS), APP_SECRET]).catch(async (error) => {
      // No work directory is created by --plan: scan the outputs alone.
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
      assert.deepEqual(scanForSecrets(s.outputs, [...Object.values(PASSWORDS), APP_SECRET]), []);
    });

    const text = await s.run(["migrate", "--users", s.usersFile, "--plan"]);
    assert.equal(text.exitCode, 0);
    assert.match(text.stdout, /^# alice@contoso\.test -> alice@contoso\.test$/m);
  });

  it("runs where imapsync is not installed: the commands as configured, and a notice", async () => {
    const s = await scene(USERS, WORLD);
    const plan = await s.run(["migrate", "--users", s.usersFile, "--plan"], {
      IMAPSYNC_BIN: "imapsync",
      PATH: path.dirname(process.execPath),
    });
    assert.equal(plan.exitCode, 0, plan.stderr);
    assert.match(
      plan.stdout,
      /^imapsync --addheader --automap --office1 .*--user1 alice@contoso\.test /m,
    );
    assert.match(
      plan.stderr,
      /^Notice: imapsync "imapsync" was not found on PATH \(IMAPSYNC_BIN\): the plan shows the commands as configured; install imapsync/m,
    );
  });

  it("ends quietly when its reader stops early (`--plan | head`)", async () => {
    // Far more than a pipe holds, so that the CLI is still writing when the reader goes.
    const rows = Array.from({ length: 3000 }, (_, i) => `m${i}@contoso.test,,pw-${i},`);
    const s = await scene(
      ["source,destination,password,password_file", ...rows, ""].join("\n"),
      WORLD,
    );
    const child = spawn(process.execPath, [CLI, "migrate", "--users", s.usersFile, "--plan"], {
      env: { ...process.env, ...s.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const [first] = (await once(child.stdout, "data")) as [Buffer];
    assert.match(first.toString(), /^# m0@contoso\.test -> /);
    child.stdout.destroy();
    const [code] = (await once(child, "exit")) as [number];
    assert.equal(code, 0, stderr);
    assert.equal(stderr, "");
  });
});

describe("exit codes", () => {
  it("2 for a bad users file, naming file and line, before anything runs", async () => {
    const s = await scene(`${USERS}not-an-address,,x,\n`, WORLD);
    const result = await s.run(["migrate", "--users", s.usersFile]);
    assert.equal(result.exitCode, 2);
    assert.match(result.stderr, /users\.csv/);
    assert.match(result.stderr, /line 7/);
    assert.deepEqual(await doubleCalls(s.stateDir), []);
  });

  it("2 for a missing setting, naming it and how to set it", async () => {
    const s = await scene(USERS, WORLD, { HOST2: "" });
    const result = await s.run(["migrate", "--users", s.usersFile]);
    assert.equal(result.exitCode, 2);
    assert.match(result.stderr, /HOST2/);
    assert.match(result.stderr, /--host2/);
  });

  it("3 when no token can be obtained, and nothing runs", async () => {
    const s = await scene(USERS, WORLD, { FAKE_BROWSER_MODE: "deny" });
    const result = await s.run(["migrate", "--users", s.usersFile]);
    assert.equal(result.exitCode, 3, result.stderr);
    assert.match(result.stderr, /access_denied|denied/);
    assert.deepEqual(await doubleCalls(s.stateDir), []);
    // The report says why nothing ran, and `migrate --resume` picks every mailbox up later.
    const report = await readReport(s.workDir);
    assert.deepEqual(
      report.mailboxes.map((entry) => [entry.status, entry.remedy]),
      Array(5).fill(["pending", WAITING_FOR_TOKEN]),
    );
  });

  it("1 from diagnose on a failed run, 0 on a good one", async () => {
    const s = await scene(USERS, WORLD);
    const fixtures = path.resolve(path.dirname(CLI), "../../fixtures/imapsync-2.229-m365");
    const bad = await s.run(["diagnose", path.join(fixtures, "not_delegated_select.log")]);
    assert.equal(bad.exitCode, 1);
    assert.match(bad.stdout, /not_delegated/);
    const good = await s.run([
      "diagnose",
      "--json",
      path.join(fixtures, "ok_xoauth2_delegated.log"),
    ]);
    assert.equal(good.exitCode, 0);
    assert.equal((JSON.parse(good.stdout) as { class: string }).class, "ok");
  });
});

describe("interruption", { timeout: 180_000 }, () => {
  it("SIGTERM stops running mailboxes through imapsync's abort file, marks them interrupted, exits 143", async () => {
    // Two slots, both taken by the slow mailboxes: the others have not started at the signal.
    const s = await scene(
      USERS,
      { ...WORLD, seconds: { "big@contoso.test": 30, "alice@contoso.test": 30 } },
      { CONCURRENCY: "2" },
    );
    const { child } = s.start(["migrate", "--users", s.usersFile]);
    await waitFor(
      async () =>
        (await s.report().catch(() => undefined))?.mailboxes.filter((e) => e.status === "running")
          .length === 2,
      60_000,
      "both slow mailboxes copying",
    );
    child.kill("SIGTERM");
    const result = await child;
    assert.equal(result.exitCode, 143, result.stderr);
    const entries = byMailbox(await readReport(s.workDir));
    assert.equal(entries.big?.status, "interrupted");
    assert.equal(entries.alice?.status, "interrupted");
    assert.equal(entries.big?.attempts[0]?.exitCode, 7, "stopped through the abort file");
    assert.equal(entries.bob?.status, "pending");
    assert.equal(entries.bob?.attempts.length, 0, "nothing new starts after the signal");
  });
});

describe("many mailboxes at once", { timeout: 120_000 }, () => {
  it("runs 16 side by side with nothing but its own lines on standard error", async () => {
    const passwords = Object.fromEntries(
      Array.from({ length: 16 }, (_, i) => [`many${i}`, `pw-many-${i}`]),
    );
    // No run ends before all 16 have begun, at any speed of the machine.
    const { users, world } = usersAndWorld(passwords, { together: 16 });
    const s = await makeScene({ users, world, env: { CONCURRENCY: "16" } });
    const run = await s.run(["migrate", "--users", s.usersFile]);
    assert.equal(run.exitCode, 0, run.stderr);
    const runs = await runSpans(s.stateDir);
    assert.equal(runs.length, 16);
    const atOnce = Math.max(
      ...runs.map((a) => runs.filter((b) => b.start <= a.start && a.start < (b.end ?? 0)).length),
    );
    assert.equal(atOnce, 16);
    // Node prints its own warnings (one abort listener per running imapsync passed 10) over the
    // live view; none may appear.
    assert.doesNotMatch(run.stderr, /Warning|\(node:\d+\)/);
  });
});
