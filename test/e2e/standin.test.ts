// The built CLI against the Microsoft 365 stand-in: the sign-in through the stand-in's implicit
// page (oauth2c double), and, when the real imapsync is installed, whole migrations.
import assert from "node:assert/strict";
import { chmod, readFile, rm } from "node:fs/promises";
import path from "node:path";
import { after, before, describe, it } from "node:test";
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
  after(async () => {
    await s?.stop();
    await rm(dir, { recursive: true, force: true });
  });

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
    const imapsync = await realProgram("IMAPSYNC_BIN", "imapsync");
    if (!imapsync) {
      t.skip(
        "real imapsync not found (PATH, or IMAPSYNC_BIN): install it to run whole migrations against the stand-in",
      );
      return;
    }
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
    const imapsync = await realProgram("IMAPSYNC_BIN", "imapsync");
    if (!imapsync) {
      t.skip(
        "real imapsync not found (PATH, or IMAPSYNC_BIN): install it to verify against the stand-in",
      );
      return;
    }
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
    // A first copy into an empty destination maps erin's two sent folders 1:1, accents kept.
    assert.deepEqual(
      verification("erin")
        ?.folders.map((f) => `${f.destination.display} ${f.verdict}`)
        .sort(),
      ["Éléments envoyés match", "INBOX match", "Sent match"],
    );
    assert.equal(verification("carol")?.verdict, "missing", context);
    assert.equal(verification("bob")?.class, "not_delegated", context);
  });
});

if (missing) it("CLI against the stand-in", (t) => t.skip(missing));
