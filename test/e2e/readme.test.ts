// README's commands as written. Every ```sh block of README is either run here (through the built
// CLI, the doubles and the stand-in), run by the image test (the blocks that need Docker), or
// listed with the reason it cannot run in CI (test/helpers/readme.ts); each command's exit code
// is the one its comment names (`# exit 1 ...`), 0 otherwise. So README cannot drift again.
import assert from "node:assert/strict";
import { chmod, cp, mkdir, readFile, symlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, it } from "node:test";
import { execa } from "execa";
import { openerDir } from "../../scripts/standin/browser.js";
import { dovecotMissing } from "../../scripts/standin/dovecot.js";
import { freePort, freePortVariables } from "../../scripts/standin/ports.js";
import { delegationsByUser } from "../../scripts/standin/standin.js";
import { loadReport } from "../../src/report/store.js";
import { CLI, DOUBLES, FIXTURES, ROOT, tempDir } from "../helpers/env.js";
import {
  blocksRunBy,
  commandsOf,
  readmeBlocks,
  README_BLOCKS,
  type Block,
} from "../helpers/readme.js";

interface Ran {
  command: string;
  exitCode: number | undefined;
  stdout: string;
  stderr: string;
}

/** A folder on PATH whose `m365-imapsync` is the built CLI, as `npm link` would install it. */
async function linkedCli(dir: string): Promise<string> {
  const bin = path.join(dir, "linked-bin");
  await mkdir(bin, { recursive: true });
  const shim = path.join(bin, "m365-imapsync");
  await writeFile(
    shim,
    `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(CLI)} "$@"\n`,
  );
  await chmod(shim, 0o755);
  return bin;
}

/** Each command of the block in turn, by bash, in `cwd`; asserts its exit code. */
async function runBlock(
  block: Block,
  cwd: string,
  env: Record<string, string>,
  substitutes: Record<string, string> = {},
): Promise<Ran[]> {
  const ran: Ran[] = [];
  for (const command of block.commands) {
    const text = substitutes[command.text] ?? command.text;
    const r = await execa("bash", ["-c", text], {
      cwd,
      env: { NO_COLOR: "1", ...env },
      extendEnv: false,
      reject: false,
      stdin: "ignore",
      timeout: 240_000,
    });
    ran.push({ command: text, exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr });
    assert.equal(r.exitCode, command.exitCode, `${text}\n${r.stdout}\n${r.stderr}`);
  }
  return ran;
}

const blockOf = (runner: "npm test", first: RegExp): Block => {
  const found = blocksRunBy(runner).find((b) => first.test(b.first));
  assert.ok(found, `README has no block starting ${first}`);
  return found;
};

const SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin";

describe("README's command blocks", () => {
  it("every block is run in CI or listed with the reason it cannot be", () => {
    const blocks = readmeBlocks();
    assert.ok(blocks.length >= 10, `${blocks.length} blocks found`);
    const firsts = blocks.map((b) => b.first);
    assert.deepEqual(
      firsts.filter((first) => README_BLOCKS[first] === undefined),
      [],
      "blocks of README missing from README_BLOCKS (test/helpers/readme.ts): run them or say why not",
    );
    assert.deepEqual(
      Object.keys(README_BLOCKS).filter((first) => !firsts.includes(first)),
      [],
      "README_BLOCKS lists blocks README no longer has",
    );
    assert.equal(new Set(firsts).size, firsts.length, "two blocks start with the same line");
    for (const [first, where] of Object.entries(README_BLOCKS))
      if ("reason" in where) assert.ok(where.reason.length > 20, first);
    // The first command of README is the demo.
    assert.match(blocks[0]!.commands[0]!.text, /^docker compose run --rm demo\b/);
    assert.equal(blocks[0]!.commands[0]!.exitCode, 1);
  });

  it("commands are split as typed: continuations, heredocs, comments; exit codes from comments", () => {
    assert.deepEqual(
      commandsOf(
        "a \\\n  b   # exit 2: why\n# a comment\ncat > f <<'EOF'\nx # exit 5\nEOF\nc # no code",
      ),
      [
        { text: "a \\\n  b   # exit 2: why", exitCode: 2 },
        { text: "cat > f <<'EOF'\nx # exit 5\nEOF", exitCode: 0 },
        { text: "c # no code", exitCode: 0 },
      ],
    );
  });

  it("Quick start: .env, users.csv from the example, migrate --plan without imapsync installed", async () => {
    const block = blockOf("npm test", /^npm ci && npm run build && npm link/);
    const where = README_BLOCKS[block.first]!;
    const dir = await tempDir("readme-quick-");
    await cp(path.join(ROOT, "users.csv.example"), path.join(dir, "users.csv.example"));
    const ran = await runBlock(
      block,
      dir,
      { PATH: `${await linkedCli(dir)}:${SYSTEM_PATH}`, HOME: dir },
      "substitutes" in where ? where.substitutes : {},
    );
    const plan = ran.at(-1)!;
    for (const mailbox of ["alice@contoso.com", "bob@contoso.com"])
      assert.match(plan.stdout, new RegExp(`^imapsync --addheader .*--user1 ${mailbox} `, "m"));
    assert.match(plan.stdout, /--host2 imap\.example\.org /);
    assert.match(plan.stderr, /^Notice: imapsync "imapsync" was not found on PATH/m);
  });

  it(
    "Local Microsoft 365 stand-in: start, token, migrate (bob not delegated, carol over quota), stop",
    { skip: dovecotMissing(), timeout: 300_000 },
    async () => {
      const block = blockOf("npm test", /^scripts\/standin-start\.sh/);
      const dir = await tempDir("readme-standin-");
      await chmod(dir, 0o755); // Dovecot's mail user must reach the stand-in below it
      // A clone as the block expects it: the scripts and the build, by links.
      for (const name of ["scripts", "dist", "node_modules", "package.json"])
        await symlink(path.join(ROOT, name), path.join(dir, name));
      // The imapsync double plays the stand-in's servers: its delegations and quota, and the
      // destination passwords tried at the stand-in's destination Dovecot itself.
      const stateDir = path.join(dir, "double-state");
      await mkdir(stateDir);
      const world = path.join(dir, "world.json");
      await writeFile(
        world,
        JSON.stringify({
          delegations: delegationsByUser(),
          passwords: {},
          destinationLogin: true,
          quota: ["carol@contoso.test"],
          fixturesDir: FIXTURES,
          stateDir,
        }),
      );
      const env = {
        PATH: `${await openerDir(path.join(dir, "browser"))}:${await linkedCli(dir)}:${path.dirname(process.execPath)}:${SYSTEM_PATH}`,
        HOME: dir,
        STANDIN_BIG_COUNT: "50",
        // Free ports: other tests run on this machine at the same time.
        ...(await freePortVariables()),
        CALLBACK_PORT: String(await freePort()),
        OAUTH2C_BIN: `node ${path.join(DOUBLES, "oauth2c.js")}`,
        IMAPSYNC_BIN: `node ${path.join(DOUBLES, "imapsync.js")}`,
        IMAPSYNC_DOUBLE_WORLD: world,
      };
      try {
        await runBlock(block, dir, env);
      } finally {
        await execa(path.join(dir, "scripts/standin-stop.sh"), [], { cwd: dir, reject: false });
      }
      const report = await loadReport(path.join(dir, "work/report.json"));
      const classes = Object.fromEntries(
        report.mailboxes.map((m) => [m.source, m.status === "ok" ? "ok" : m.class]),
      );
      assert.deepEqual(classes, {
        "alice@contoso.test": "ok",
        "bob@contoso.test": "not_delegated",
        "carol@contoso.test": "quota_exceeded",
        "big@contoso.test": "ok",
        "dave@contoso.test": "ok",
        "erin@contoso.test": "ok",
      });
      assert.match(
        await readFile(path.join(dir, ".env"), "utf8"),
        /^AUTHORITY_URL=http:\/\/127\.0\.0\.1:/m,
      );
    },
  );
});
