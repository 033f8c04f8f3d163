// The suite's TMPDIR hygiene: tempDir() removes its directories when the test file passes and
// keeps them, named, when it fails; test/private-tmpdir.ts runs a command in a TMPDIR of its
// own and fails it when a passing run leaves anything there. Each case runs in a directory
// (`box`) given as TMPDIR, so what is left is seen.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { readdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { describe, it } from "node:test";
import { execa } from "execa";
import { ROOT, tempDir } from "../../helpers/env.js";

const ENV_JS = pathToFileURL(path.join(ROOT, "dist/test/helpers/env.js")).href;
const PRIVATE_TMPDIR = path.join(ROOT, "dist/test/private-tmpdir.js");

/**
 * `node args` with only PATH and TMPDIR=box: this runner's NODE_TEST_CONTEXT would make a nested
 * `node --test` report to it instead of running on its own.
 */
const nodeIn = (box: string, args: string[]) =>
  execa("node", args, {
    env: { PATH: process.env.PATH, TMPDIR: box },
    extendEnv: false,
    reject: false,
  });

/** A test file making two temp dirs, one of them with a file in it, whose test passes or not. */
async function testFile(passes: boolean): Promise<string> {
  const file = path.join(await tempDir("temp-dirs-file-"), "made.test.mjs");
  await writeFile(
    file,
    `import { writeFile } from "node:fs/promises";
import { test } from "node:test";
import { tempDir } from ${JSON.stringify(ENV_JS)};
test("makes two", async () => {
  const dir = await tempDir("first-");
  await writeFile(dir + "/token", "secret");
  await tempDir("second-");
  if (${!passes}) throw new Error("failed on purpose");
});
`,
  );
  return file;
}

describe("tempDir", () => {
  it("removes its directories when the test file passes", async () => {
    const box = await tempDir("temp-dirs-box-");
    const r = await nodeIn(box, ["--test", "--test-reporter=tap", await testFile(true)]);
    assert.equal(r.exitCode, 0, r.stdout);
    assert.deepEqual(await readdir(box), []);
  });

  it("keeps them when the test file fails, and names them", async () => {
    const box = await tempDir("temp-dirs-box-");
    const r = await nodeIn(box, ["--test", "--test-reporter=tap", await testFile(false)]);
    assert.equal(r.exitCode, 1, r.stdout);
    const kept = (await readdir(box)).sort();
    assert.equal(kept.length, 2, kept.join(", "));
    assert.match(kept[0]!, /^first-/);
    assert.match(kept[1]!, /^second-/);
    assert.ok(existsSync(path.join(box, kept[0]!, "token")));
    // The runner shows a test file's stderr as TAP comments.
    for (const name of kept) assert.ok(r.stdout.includes(path.join(box, name)), r.stdout);
  });
});

describe("npm test's private TMPDIR (test/private-tmpdir.ts)", () => {
  async function run(script: string) {
    const box = await tempDir("temp-dirs-box-");
    const r = await nodeIn(box, [PRIVATE_TMPDIR, "sh", "-c", script]);
    return { ...r, box, left: await readdir(box) };
  }

  it("gives the command a fresh TMPDIR and removes it after a clean, passing run", async () => {
    const r = await run('echo "$TMPDIR"; [ -z "$(ls -A "$TMPDIR")" ]');
    assert.equal(r.exitCode, 0, r.stderr);
    assert.equal(path.dirname(r.stdout.trim()), r.box);
    assert.deepEqual(r.left, []);
  });

  it("fails a passing run that leaves something, naming it, and removes it", async () => {
    const r = await run('mkdir "$TMPDIR/engine-a1B2c3"; touch "$TMPDIR/stray.sock"');
    assert.equal(r.exitCode, 1);
    assert.match(r.stderr, /left 2 entries in TMPDIR/);
    assert.match(r.stderr, /^# {3}engine-a1B2c3$/m);
    assert.match(r.stderr, /^# {3}stray\.sock$/m);
    assert.deepEqual(r.left, []);
  });

  it("keeps the TMPDIR of a failed run, names it, and exits as the run did", async () => {
    const r = await run('mkdir "$TMPDIR/parts-x9Y8z7"; exit 3');
    assert.equal(r.exitCode, 3);
    assert.equal(r.left.length, 1);
    const kept = path.join(r.box, r.left[0]!);
    assert.equal(r.stderr.trim(), `# TMPDIR of this failed run, kept: ${kept}`);
    assert.deepEqual(await readdir(kept), ["parts-x9Y8z7"]);
  });
});
