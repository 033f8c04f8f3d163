import assert from "node:assert/strict";
import { ADMIN } from "../../helpers/constants.js";
import { existsSync, readFileSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { before, describe, it } from "node:test";
import {
  buildEnv,
  buildImapsyncArgs,
  runPaths,
  type RunPaths,
} from "../../../src/imapsync/args.js";
import { startImapsync, type ImapsyncProcess } from "../../../src/imapsync/run.js";
import type { Command, Config } from "../../../src/config/types.js";
import type { Mailbox } from "../../../src/users/types.js";
import { mode, tempDir, waitFor } from "../../helpers/env.js";
import {
  doubleCalls,
  IMAPSYNC_DOUBLE,
  inSeconds,
  makeWorld,
  mintToken,
  type World,
  type WorldFiles,
} from "../../helpers/imapsync-world.js";
import { testConfig } from "../../helpers/config.js";

/** The fixture line at which the "hung" double stops printing and no longer sees its abort file. */
const HUNG_STALLS_AT = 40;
const PASSWORD = "S3cret-dest-Pa55";

let workDir: string;
let world: WorldFiles;
let tokenFile: string;
let attempt = 0;

const WORLD: World = {
  delegations: { [ADMIN]: ["alice@contoso.test", "slow@contoso.test", "hung@contoso.test"] },
  passwords: {
    "alice@contoso.test": PASSWORD,
    "slow@contoso.test": PASSWORD,
    "hung@contoso.test": PASSWORD,
  },
  // Stalls after the header: prints nothing more and never checks the abort file.
  stall: { "hung@contoso.test": HUNG_STALLS_AT },
};

before(async () => {
  workDir = await tempDir("imapsync-run-");
  world = await makeWorld(workDir, WORLD);
  tokenFile = path.join(workDir, "token");
  await writeFile(tokenFile, `${mintToken({ upn: ADMIN, exp: inSeconds(3600) })}\n`, {
    mode: 0o600,
  });
});

function config(): Config {
  return testConfig({
    source: { host: "127.0.0.1", port: 13001, tls: "none" },
    destination: { host: "127.0.0.1", port: 13003, tls: "none" },
    imapsync: IMAPSYNC_DOUBLE,
    workDir,
  });
}

/** Starts a run of the recipe for one mailbox, each call a new attempt with its own files. */
function start(
  source: string,
  p: { command?: Command; password?: string; env?: Record<string, string> } = {},
): { child: ImapsyncProcess; files: RunPaths } {
  const mailbox: Mailbox = { source, destination: source, extraArgs: [], line: 1 };
  const files = runPaths(workDir, source, ++attempt);
  const args = buildImapsyncArgs({ mailbox, config: config(), tokenFile, files });
  const child = startImapsync({
    command: p.command ?? IMAPSYNC_DOUBLE,
    args,
    files,
    password: p.password ?? PASSWORD,
    env: { ...world.env, ...p.env },
    cwd: workDir,
  });
  return { child, files };
}

/** Every line until the end; `out` fills as they come, for tests that wait on a point in the run. */
async function collect(batches: AsyncIterable<string[]>, out: string[] = []): Promise<string[]> {
  for await (const lines of batches) out.push(...lines);
  return out;
}

describe("startImapsync", () => {
  it("runs the recipe to the end: lines, log, exit status, files cleaned up", async () => {
    const { child, files } = start("alice@contoso.test");
    const lines = await collect(child.lines);
    const exit = await child.exited;
    assert.deepEqual(exit, { code: 0, signal: null });
    assert.equal(lines.at(-3)?.startsWith("Exiting with return value 0 (EX_OK"), true);
    // The log is the output byte for byte (CR LF server lines included).
    const log = await readFile(files.logFile, "utf8");
    assert.equal(log.replace(/\r\n/g, "\n"), `${lines.join("\n")}\n`);
    assert.ok(log.includes("\r\n"), "raw server lines keep their CR in the log");
    assert.ok(log.includes("Éléments envoyés"), "UTF-8 survives");
    assert.equal(existsSync(files.passFile), false, "passfile removed");
    assert.equal(existsSync(files.pidFile), false, "pidfile removed");
    assert.equal(await mode(files.secretsDir), 0o700);
  });

  it("hands imapsync the password in a 0600 file only, with stdin closed and no secret env", async () => {
    process.env.SOME_APP_SECRET = "inherited-secret";
    process.env.IMAPSYNC_PASSWORD2 = "inherited-password";
    try {
      const { child, files } = start("alice@contoso.test");
      await collect(child.lines);
      await child.exited;
      const call = (await doubleCalls(world.stateDir)).at(-1);
      assert.equal(call?.outcome, "ok", "the double read the right password from the passfile");
      assert.equal(call?.passfiles.passfile2, "0600");
      assert.equal(call?.argv[call.argv.indexOf("--passfile2") + 1], files.passFile);
      assert.equal(call?.stdin, "char", "stdin is /dev/null");
      assert.deepEqual(call?.env, { ...buildEnv(), ...world.env });
      assert.ok(!JSON.stringify(call).includes(PASSWORD));
    } finally {
      delete process.env.SOME_APP_SECRET;
      delete process.env.IMAPSYNC_PASSWORD2;
    }
  });

  it("removes a stale pidfile and a stale passfile before starting", async () => {
    const files = runPaths(workDir, "alice@contoso.test", attempt + 1);
    await mkdir(files.dir, { recursive: true });
    await mkdir(files.secretsDir, { recursive: true });
    await writeFile(files.pidFile, "4242\n");
    await writeFile(files.passFile, "old password\n", { mode: 0o644 });
    const { child } = start("alice@contoso.test");
    await collect(child.lines);
    assert.equal((await child.exited).code, 0);
    const call = (await doubleCalls(world.stateDir)).at(-1);
    assert.equal(call?.pidfileExisted, false);
    assert.equal(call?.passfiles.passfile2, "0600");
  });

  it("streams lines while imapsync runs; abort ends it with exit 7 and its statistics", async () => {
    await world.update({ ...WORLD, linesPerSecond: 200 });
    const { child, files } = start("slow@contoso.test");
    const iterator = child.lines[Symbol.asyncIterator]();
    const first = await iterator.next();
    let ended = false;
    void child.exited.then(() => (ended = true));
    assert.match(String(first.value?.[0]), /^Here is imapsync 2\.229/);
    assert.equal(ended, false, "the first line arrived before the end");

    // While it runs, nobody can read the password from its command line or environment.
    const pid = child.pid ?? 0;
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
    assert.ok(cmdline.includes("--passfile2"));
    assert.ok(
      !cmdline.includes(PASSWORD) &&
        !readFileSync(`/proc/${pid}/environ`, "utf8").includes(PASSWORD),
    );
    assert.equal(await mode(files.passFile), 0o600);

    const rest: string[] = [];
    const reading = (async () => {
      for (let next = await iterator.next(); !next.done; next = await iterator.next())
        rest.push(...next.value);
    })();
    await child.stop("abort", 5000);
    await reading;
    await world.update(WORLD);
    assert.deepEqual(await child.exited, { code: 7, signal: null });
    assert.ok(
      rest.includes(`Asked to terminate by file ${files.pidFile}abort${pid}`),
      "abort line",
    );
    assert.ok(rest.some((l) => l.startsWith("Exiting with return value 7 (EXIT_BY_FILE)")));
    assert.ok(rest.length < 600, "stopped early");
    assert.equal(existsSync(`${files.pidFile}abort${pid}`), false);
    assert.equal(existsSync(files.passFile), false);
    const log = await readFile(files.logFile, "utf8");
    assert.equal(log.replace(/\r\n/g, "\n"), `${[first.value, ...rest].join("\n")}\n`);
  });

  it("falls back to SIGTERM when the abort file is not seen", async () => {
    const { child, files } = start("hung@contoso.test");
    const seen: string[] = [];
    const lines = collect(child.lines, seen);
    // Only once "hung" has stalled does it miss the abort file (on a loaded machine its replay
    // starts late; a fixed wait let it see the file and end before the grace). A few replayed
    // lines are dropped (--nolog): near the stall is enough, it is milliseconds away.
    await waitFor(() => seen.length >= HUNG_STALLS_AT - 10, 30_000, "the hung run's stall");
    const began = Date.now();
    await child.stop("abort", 400);
    assert.ok(Date.now() - began >= 400, "waited for the abort file first");
    assert.deepEqual(await child.exited, { code: null, signal: "SIGTERM" });
    assert.ok((await lines).includes("Killing myself with signal TERM"));
    assert.equal(existsSync(files.passFile), false);
  });

  it("kills a process that ignores SIGTERM too", async () => {
    const deaf: Command = {
      file: process.execPath,
      args: [
        "-e",
        "process.on('SIGTERM', () => console.log('ignored')); setInterval(() => {}, 1000); console.log('up')",
        "--",
      ],
    };
    const { child, files } = start("alice@contoso.test", { command: deaf });
    const lines = collect(child.lines);
    const pid = child.pid ?? 0;
    await new Promise((resolve) => setTimeout(resolve, 300));
    await child.stop("abort", 200);
    assert.deepEqual(await child.exited, { code: null, signal: "SIGKILL" });
    assert.deepEqual(await lines, ["up", "ignored"]);
    assert.equal(existsSync(`${files.pidFile}abort${pid}`), false, "our abort file is cleaned up");
    assert.equal(existsSync(files.passFile), false);
  });

  it("reports a program that cannot be started, and still removes the passfile", async () => {
    const { child, files } = start("alice@contoso.test", {
      command: { file: path.join(workDir, "no-such-imapsync"), args: [] },
    });
    assert.deepEqual(await collect(child.lines), []);
    const exit = await child.exited;
    assert.equal(exit.code, null);
    assert.equal(exit.signal, null);
    assert.match(exit.error ?? "", /ENOENT/);
    assert.equal(existsSync(files.passFile), false);
    await child.stop("abort");
  });
});
