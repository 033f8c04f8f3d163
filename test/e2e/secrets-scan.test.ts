// Every scenario a migration goes through, then a scan of everything that left the tool for every
// secret used, in every form (plain, base64 as in the XOAUTH2 string, URL-encoded, JSON-escaped).
import assert from "node:assert/strict";
import { chmod, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { DOUBLES, filesBelow, readTexts, scanForSecrets, waitFor } from "../helpers/env.js";
import { ADMIN, makeScene, usersAndWorld } from "../helpers/cli-scene.js";

const APP_SECRET = "app-secret-NEVER-passed-9f3k";
const PASSWORDS = {
  big: "big-Pass;word,1",
  alice: 'pässwörd "Été" 2',
  bob: "bob'pass 3/+=",
  hung: "hung-pass&4",
  dave: "dave-right-pass-5",
};
const WRONG_DAVE = "dave-WRONG-pass";

async function lines(file: string): Promise<string[]> {
  return (await readFile(file, "utf8").catch(() => "")).split("\n").filter(Boolean);
}

describe("secrets never leave the tool", { timeout: 300_000 }, () => {
  it("scans argv, environment, console output, written files and the report of every scenario: zero hits", async () => {
    const { users, world } = usersAndWorld(
      { ...PASSWORDS, dave: WRONG_DAVE },
      {
        // big outlives the first token (15 s: a loaded machine's sign-in takes seconds, and a
        // token already expired when it arrives is refused); bob is throttled once.
        seconds: { "big@contoso.test": 20 },
        throttle: { "bob@contoso.test": 1 },
      },
    );
    world.passwords["dave@contoso.test"] = PASSWORDS.dave;
    const oauthLog = "oauth2c-double.jsonl";
    const s = await makeScene({
      users,
      world,
      signIn: "oauth2c",
      env: {
        APP_SECRET,
        FAKE_TOKEN_TTL: "15,3600",
        // Counted from imapsync's start: 5 s, so that a slowly started double is not taken as stalled.
        STALL_TIMEOUT: "5s",
        STOP_GRACE: "1s",
        MAX_ATTEMPTS: "2",
        CONCURRENCY: "3",
        OAUTH2C_DOUBLE_LOG: oauthLog,
      },
    });
    // oauth2c prints the token (and a client secret) on its stderr: keep a copy of what it said.
    const oauth2cStderr = path.join(s.dir, "oauth2c.stderr");
    const wrapper = path.join(s.dir, "oauth2c-tee.sh");
    await writeFile(
      wrapper,
      `#!/bin/bash\nexec node ${JSON.stringify(path.join(DOUBLES, "oauth2c.js"))} "$@" 2> >(tee -a ${JSON.stringify(oauth2cStderr)} >&2)\n`,
    );
    await chmod(wrapper, 0o755);
    const env = { OAUTH2C_BIN: `bash ${wrapper}` };

    // 1. A migration with every kind of outcome: ok, token expiry, throttling, bad password.
    const first = await s.run(["migrate", "--users", s.usersFile], env);
    assert.equal(first.exitCode, 1, first.stderr);
    // 2. The plan, in both forms.
    assert.equal((await s.run(["migrate", "--users", s.usersFile, "--plan"], env)).exitCode, 0);
    assert.equal(
      (await s.run(["migrate", "--users", s.usersFile, "--plan", "--json"], env)).exitCode,
      0,
    );
    // 3. The admin fixes dave's password; retry.
    await writeFile(s.usersFile, users.replace(WRONG_DAVE, PASSWORDS.dave));
    const retry = await s.run(["retry", "--report", path.join(s.workDir, "report.json")], env);
    assert.equal(retry.exitCode, 0, retry.stderr);
    // 4. A run goes silent and is stopped, docker stop comes, then kill -9 during a rerun, resume.
    await s.setWorld({
      ...world,
      stall: { "hung@contoso.test": 40 },
      seconds: { "big@contoso.test": 30 },
    });
    const stopped = s.start(["migrate", "--users", s.usersFile], env);
    await waitFor(() => /went silent/.test(stopped.stderr()), 120_000, "the stall notice");
    stopped.child.kill("SIGTERM");
    assert.equal((await stopped.child).exitCode, 143, stopped.stderr());
    await s.setWorld({ ...world, seconds: { "big@contoso.test": 30 } });
    const killed = s.start(["migrate", "--users", s.usersFile], env);
    await sleep(1500);
    killed.child.kill("SIGKILL");
    await killed.child;
    await s.setWorld(world);
    const resumed = await s.run(
      ["migrate", "--users", s.usersFile, "--resume", "--stop-leftovers"],
      env,
    );
    assert.equal(resumed.exitCode, 0, resumed.stderr);
    // 5. The verification (its report.html is scanned below like every file written).
    assert.equal((await s.run(["verify", "--users", s.usersFile], env)).exitCode, 1);
    // 6. A users file broken right after a password, and diagnose on every log.
    await writeFile(
      path.join(s.dir, "broken.csv"),
      `source,password\nbig@contoso.test,"${PASSWORDS.big}"x\n`,
    );
    assert.equal((await s.run(["migrate", "--users", "broken.csv"], env)).exitCode, 2);
    const logs = (await filesBelow(path.join(s.workDir, "logs"))).slice(0, 20);
    await s.run(["diagnose", ...logs], env);

    // Every secret used: passwords, the client secret, each token and its XOAUTH2 string.
    const tokens = (await lines(path.join(s.dir, "minted.jsonl"))).map(
      (line) => (JSON.parse(line) as { token: string }).token,
    );
    assert.ok(tokens.length >= 2, "a sign-in and a renewal");
    const mailboxes = Object.keys(PASSWORDS).map((name) => `${name}@contoso.test`);
    const xoauth2 = tokens.flatMap((token) =>
      [ADMIN, ...mailboxes].map((user) => `user=${user}\x01auth=Bearer ${token}\x01\x01`),
    );
    const secrets = [...Object.values(PASSWORDS), WRONG_DAVE, APP_SECRET, ...tokens, ...xoauth2];

    // Everything that left the tool: outputs, files it wrote (the token file is the one place the
    // token belongs), what every spawned process was given.
    const written = (await filesBelow(s.workDir)).filter((file) => path.basename(file) !== "token");
    const doubleRecords = [
      path.join(s.stateDir, "calls.jsonl"),
      path.join(s.stateDir, "starts.jsonl"),
      path.join(s.dir, oauthLog),
    ];
    const texts = { ...s.outputs, ...(await readTexts([...written, ...doubleRecords])) };
    const scanned = Object.keys(texts).length;
    const hits = scanForSecrets(texts, secrets);
    console.log(
      `secrets scanned: ${secrets.length} secrets (each in every form) in ${scanned} texts (${written.length} files written, ${(await lines(doubleRecords[0]!)).length} imapsync runs, ${(await lines(doubleRecords[2]!)).length} oauth2c runs); hits: ${hits.length}`,
    );
    assert.ok(written.some((file) => file.endsWith("report.json")));
    assert.ok(
      written.some((file) => file.endsWith("report.html")),
      "report.html scanned too",
    );
    assert.ok((await lines(doubleRecords[2]!)).length >= 2, "oauth2c ran and was recorded");
    assert.deepEqual(hits, []);

    // The scan can fail: oauth2c's own stderr, which the tool reads, holds the token.
    const leaked = scanForSecrets({ oauth2c: await readFile(oauth2cStderr, "utf8") }, tokens);
    assert.ok(leaked.length > 0, "the double leaks the token on stderr like oauth2c does");
  });
});
