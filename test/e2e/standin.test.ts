// The built CLI against the Microsoft 365 stand-in: the sign-in through the stand-in's implicit
// page (oauth2c double), and, when the real imapsync is installed, whole migrations.
import assert from "node:assert/strict";
import { chmod, readFile } from "node:fs/promises";
import path from "node:path";
import { after, before, describe, it, type TestContext } from "node:test";
import { execa } from "execa";
import { openerDir } from "../../scripts/standin/browser.js";
import { dovecotMissing } from "../../scripts/standin/dovecot.js";
import { freePort } from "../../scripts/standin/ports.js";
import { ADMIN, startStandin, type Standin } from "../../scripts/standin/standin.js";
import type { Report } from "../../src/report/schema.js";
import { DOUBLES, runCli, tempDir } from "../helpers/env.js";
import { folderCounts, withImap } from "../helpers/imap-counts.js";

const missing = dovecotMissing();

/** A real program: from its *_BIN variable, else on PATH; undefined when absent. */
async function realProgram(envName: string, name: string): Promise<string | undefined> {
  const configured = process.env[envName];
  if (configured) return configured;
  const found = await execa("sh", ["-c", `command -v ${name}`], { reject: false });
  return found.exitCode === 0 ? found.stdout.trim() : undefined;
}

/** The real imapsync; without one, the test says it skips and why. */
async function realImapsync(t: TestContext, toDo: string): Promise<string | undefined> {
  const imapsync = await realProgram("IMAPSYNC_BIN", "imapsync");
  if (!imapsync) t.skip(`real imapsync not found (PATH, or IMAPSYNC_BIN): install it to ${toDo}`);
  return imapsync;
}

describe("the CLI against the stand-in", { skip: missing }, () => {
  let s: Standin;
  let dir: string;
  let env: Record<string, string>;
  before(async () => {
    dir = await tempDir("standin-e2e-");
    await chmod(dir, 0o755); // Dovecot's mail user must reach the stand-in below it
    // Thousands of messages only when a real imapsync will copy them (less load on CI otherwise).
    const real = (await realProgram("IMAPSYNC_BIN", "imapsync")) !== undefined;
    s = await startStandin({ dir: path.join(dir, "standin"), bigCount: real ? 4000 : 100 });
    const bin = await openerDir(path.join(dir, "bin"));
    env = {
      ...s.env,
      WORK_DIR: path.join(dir, "work"),
      CALLBACK_PORT: String(await freePort()),
      PATH: `${bin}:${process.env.PATH ?? ""}`,
    };
  });
  after(() => s?.stop());

  it("token: the oauth2c double signs in through the stand-in's page, the token opens alice", async () => {
    const result = await runCli(["token"], {
      cwd: dir,
      env: { ...env, OAUTH2C_BIN: `node ${path.join(DOUBLES, "oauth2c.js")}` },
      timeoutMs: 60_000,
    });
    assert.equal(result.exitCode, 0, `${result.stdout}\n${result.stderr}`);
    const token = (await readFile(path.join(env.WORK_DIR!, "token"), "utf8")).trim();
    const claims = await s.oauth.verify(token);
    assert.equal(claims?.upn, ADMIN, "a token signed by the stand-in, for the login hint");
    const counts = await withImap(
      { port: s.ports.front, user: "alice@contoso.test", accessToken: token },
      folderCounts,
    );
    assert.equal(counts["Éléments envoyés"], 12);
  });

  it("migrate with the real imapsync: truthful report, copies equal the source", async (t) => {
    const imapsync = await realImapsync(t, "run whole migrations against the stand-in");
    if (!imapsync) return;
    // The real oauth2c when installed; otherwise its double, which signs in through the same
    // stand-in page. The sign-ins are real either way: the stand-in issues every token.
    const oauth2c =
      (await realProgram("OAUTH2C_BIN", "oauth2c")) ?? `node ${path.join(DOUBLES, "oauth2c.js")}`;
    // Tokens expire mid-run: big (4000 messages, ~10 s here) outlives an 8 s token.
    s.oauth.setTokenTtl(8);
    // Its own work directory: the token of the test above lives an hour.
    const workDir = path.join(dir, "work-migrate");
    const result = await runCli(["migrate", "--users", s.usersFile], {
      cwd: dir,
      env: {
        ...env,
        WORK_DIR: workDir,
        IMAPSYNC_BIN: imapsync,
        OAUTH2C_BIN: oauth2c,
        TOKEN_MARGIN: "2s",
        MAX_ATTEMPTS: "6",
        MAX_BACKOFF: "1s",
      },
      timeoutMs: 600_000,
    });
    const report = JSON.parse(await readFile(path.join(workDir, "report.json"), "utf8")) as Report;
    const entry = (m: string) => report.mailboxes.find((e) => e.source === m)!;
    for (const e of report.mailboxes) {
      const attempts = e.attempts.map((a) => `${a.class}:${a.messagesTransferred ?? 0}`);
      t.diagnostic(`${e.source} ${e.status} [${attempts.join(", ")}]`);
    }
    const context = `${result.stdout}\n${result.stderr}`;
    assert.equal(result.exitCode, 1, context);
    assert.equal(entry("bob@contoso.test").class, "not_delegated", context);
    assert.equal(entry("carol@contoso.test").class, "quota_exceeded", context);
    for (const mailbox of ["alice@contoso.test", "big@contoso.test"]) {
      assert.equal(entry(mailbox).status, "ok", `${mailbox}\n${context}`);
      const token = await s.oauth.mint({ upn: ADMIN }, 600);
      const source = await withImap(
        { port: s.ports.front, user: mailbox, accessToken: token },
        folderCounts,
      );
      const destination = await withImap(
        { port: s.ports.destination, user: mailbox, pass: s.destinationPassword(mailbox) },
        folderCounts,
      );
      for (const [folder, count] of Object.entries(source))
        assert.equal(destination[folder], count, `${mailbox} ${folder}`);
    }
    assert.ok(
      entry("big@contoso.test").attempts.some((a) => a.class === "token_expired"),
      `big's token expired during a run: ${JSON.stringify(entry("big@contoso.test").attempts)}`,
    );
  });

  it("verify with the real imapsync: what arrived whole, and carol, who hit her quota, did not", async (t) => {
    const imapsync = await realImapsync(t, "verify against the stand-in");
    if (!imapsync) return;
    const oauth2c =
      (await realProgram("OAUTH2C_BIN", "oauth2c")) ?? `node ${path.join(DOUBLES, "oauth2c.js")}`;
    // Hour-long tokens: this is about the verification, not about expiries.
    s.oauth.setTokenTtl(3600);
    const workDir = path.join(dir, "work-verify");
    const run = (args: string[]) =>
      runCli(args, {
        cwd: dir,
        env: { ...env, WORK_DIR: workDir, IMAPSYNC_BIN: imapsync, OAUTH2C_BIN: oauth2c },
        timeoutMs: 600_000,
      });
    const migrated = await run(["migrate", "--users", s.usersFile]);
    assert.equal(migrated.exitCode, 1, `${migrated.stdout}\n${migrated.stderr}`);
    const verify = await run(["verify", "--users", s.usersFile]);
    const report = JSON.parse(await readFile(path.join(workDir, "report.json"), "utf8")) as Report;
    const verification = (m: string) =>
      report.mailboxes.find((e) => e.source === `${m}@contoso.test`)?.verification;
    const context = `${verify.stdout}\n${verify.stderr}`;
    assert.equal(verify.exitCode, 1, context);
    for (const m of ["alice", "big", "dave", "erin"])
      assert.equal(verification(m)?.verdict, "verified", `${m}\n${context}`);
    // imapsync's --automap takes erin's two sent folders (seed.ts: Sent 7, Éléments envoyés 5)
    // into the one the server marks \Sent (as in fixtures' sent_merged_erin.log): verified
    // against both together, accents kept.
    assert.deepEqual(
      verification("erin")?.folders.map((f) => [
        f.destination.display,
        f.sources.map((source) => `${source.display} ${source.messages}`),
        f.destinationMessages,
        f.verdict,
      ]),
      [
        ["Éléments envoyés", ["Éléments envoyés 5", "Sent 7"], 12, "match"],
        ["INBOX", ["INBOX 10"], 10, "match"],
      ],
    );
    assert.equal(verification("carol")?.verdict, "missing", context);
    assert.equal(verification("bob")?.class, "not_delegated", context);
  });
});

/** 300 messages, accents included: the mailbox of the throttling case (issue 17). */
const THROTTLED_SEED = { INBOX: 180, "Sent Items": 70, "Éléments envoyés": 30, "Archive/2023": 20 };

describe("the CLI against a throttling stand-in, with the real imapsync", { skip: missing }, () => {
  it("a 300-message mailbox throttled again and again ends ok, every folder equal on both sides", async (t) => {
    const imapsync = await realImapsync(t, "run a throttled migration against the stand-in");
    if (!imapsync) return;
    const dir = await tempDir("standin-throttle-");
    await chmod(dir, 0o755);
    // Like Exchange Online, but in seconds: after 100 FETCHes the mailbox is refused for 8 s,
    // whatever it reconnects, while the reply suggests 3 s.
    const s = await startStandin({
      dir: path.join(dir, "standin"),
      bigCount: 10,
      equal: { count: 1, seed: THROTTLED_SEED },
      throttle: { afterCommands: 100, backoffMs: 3000, windowMs: 8000 },
    });
    t.after(() => s.stop());
    const mailbox = "equal01@contoso.test";
    const bin = await openerDir(path.join(dir, "bin"));
    const oauth2c =
      (await realProgram("OAUTH2C_BIN", "oauth2c")) ?? `node ${path.join(DOUBLES, "oauth2c.js")}`;
    const workDir = path.join(dir, "work");
    const started = Date.now();
    // The defaults an admin runs with (--max-attempts 3, --max-backoff 10m, THROTTLE_GIVE_UP 12h).
    const result = await runCli(["migrate", "--users", s.equalUsersFile!], {
      cwd: dir,
      env: {
        ...s.env,
        WORK_DIR: workDir,
        CALLBACK_PORT: String(await freePort()),
        PATH: `${bin}:${process.env.PATH ?? ""}`,
        IMAPSYNC_BIN: imapsync,
        OAUTH2C_BIN: oauth2c,
      },
      timeoutMs: 600_000,
    });
    const wallMs = Date.now() - started;
    const context = `${result.stdout}\n${result.stderr}`;
    const report = JSON.parse(await readFile(path.join(workDir, "report.json"), "utf8")) as Report;
    const entry = report.mailboxes.find((e) => e.source === mailbox)!;
    const attempts = entry.attempts.map((a) => `${a.class}:${a.messagesTransferred ?? 0}`);
    const waits = [...context.matchAll(/throttled, next try at \S+ \(in (\S+)\)/g)].map(
      (m) => m[1],
    );
    t.diagnostic(`attempts [${attempts.join(", ")}]`);
    t.diagnostic(`waits [${waits.join(", ")}], wall ${(wallMs / 1000).toFixed(1)} s`);
    t.diagnostic(`front: ${s.front.throttledReplies()} throttled replies`);
    assert.equal(result.exitCode, 0, context);
    assert.equal(entry.status, "ok", context);
    const throttled = entry.attempts.filter((a) => a.class === "throttled");
    assert.ok(
      throttled.length >= 2,
      `300 messages at 100 FETCHes a window: ${attempts.join(", ")}`,
    );
    assert.equal(waits.length, throttled.length, context);
    assert.equal(
      entry.attempts.reduce((n, a) => n + (a.messagesTransferred ?? 0), 0),
      300,
      `nothing copied twice: ${attempts.join(", ")}`,
    );
    assert.ok(!("nextAttemptAt" in entry), "no next try once it is done");
    s.front.setThrottle(undefined);
    const source = await withImap(
      { port: s.ports.front, user: mailbox, accessToken: await s.oauth.mint({ upn: ADMIN }, 600) },
      folderCounts,
    );
    const destination = await withImap(
      { port: s.ports.destination, user: mailbox, pass: s.destinationPassword(mailbox) },
      folderCounts,
    );
    assert.equal(
      Object.values(source).reduce((a, b) => a + b, 0),
      300,
    );
    t.diagnostic(`source ${JSON.stringify(source)} destination ${JSON.stringify(destination)}`);
    t.diagnostic(`folders ${JSON.stringify(entry.folders)}`);
    for (const [folder, count] of Object.entries(source))
      assert.equal(destination[folder], count, `${mailbox} ${folder}`);
  });
});

if (missing) it("CLI against the stand-in", (t) => t.skip(missing));
