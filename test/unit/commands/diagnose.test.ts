import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { PassThrough, Readable } from "node:stream";
import { describe, test } from "node:test";
import { diagnose } from "../../../src/commands/diagnose.js";
import { InputError } from "../../../src/errors.js";
import { remedyFor } from "../../../src/engine/remedies.js";
import { excerpts, FIXTURES } from "../../helpers/fixture-index.js";

const fixture = (relative: string) => path.join(FIXTURES, relative);
const OK = fixture("imapsync-2.229-m365/ok_xoauth2_delegated.log");
const EXPIRED = fixture("imapsync-2.229-m365/token_expired_midrun.log");

/** Runs diagnose with captured stdout and the given bytes (or nothing) on stdin. */
async function run(
  inputs: string[],
  json: boolean,
  stdin: Readable = Readable.from([]),
): Promise<{ code: number; out: string }> {
  const stdout = new PassThrough();
  const chunks: Buffer[] = [];
  stdout.on("data", (chunk: Buffer) => chunks.push(chunk));
  const code = await diagnose(inputs, { json }, { stdout, stdin });
  return { code, out: Buffer.concat(chunks).toString("utf8") };
}

function jsonLines(out: string): Record<string, unknown>[] {
  return out
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe("diagnose --json", () => {
  test("one object per input with exactly file, class, remedy, evidence, exitCode", async () => {
    const { code, out } = await run([OK, EXPIRED], true);
    const [ok, expired] = jsonLines(out);
    assert.equal(jsonLines(out).length, 2);
    for (const result of [ok, expired]) {
      assert.deepEqual(Object.keys(result ?? {}).sort(), [
        "class",
        "evidence",
        "exitCode",
        "file",
        "remedy",
      ]);
    }
    assert.equal(ok?.file, OK);
    assert.equal(ok?.class, "ok");
    assert.equal(ok?.exitCode, 0);
    assert.equal(expired?.class, "token_expired");
    assert.equal(expired?.remedy, remedyFor("token_expired"));
    assert.equal(expired?.exitCode, 115);
    assert.ok(Array.isArray(expired?.evidence));
    assert.match((expired?.evidence as string[])[0] ?? "", /AccessTokenExpired/);
    assert.equal(code, 1, "one input is not ok");
  });

  test("exit code 0 when every input is ok", async () => {
    const { code } = await run([OK, fixture("imapsync-2.229/b_incremental.log")], true);
    assert.equal(code, 0);
  });

  test("exitCode is null for EXIT_BY_SIGNAL (not a real status) and without an Exiting line", async () => {
    const { out } = await run(
      [fixture("imapsync-2.229/k1_sigterm.log"), fixture("imapsync-2.229/y1_unknown_option.log")],
      true,
    );
    const [k1, y1] = jsonLines(out);
    assert.equal(k1?.class, "interrupted");
    assert.equal(k1?.exitCode, null);
    assert.equal(y1?.class, "other");
    assert.equal(y1?.exitCode, null);
  });
});

describe("diagnose on standard input", () => {
  for (const excerpt of excerpts()) {
    test(`office365/${excerpt.file} fed as-is, header lines included, is ${excerpt.expected}`, async () => {
      const bytes = readFileSync(fixture(path.join("office365", excerpt.file)));
      const { code, out } = await run(["-"], true, Readable.from([bytes]));
      const [result] = jsonLines(out);
      assert.equal(result?.file, "-");
      assert.equal(result?.class, excerpt.expected);
      assert.equal(code, excerpt.expected === "ok" ? 0 : 1);
    });
  }

  test("a stream cut at every byte gives the same answer as the file", async () => {
    const file = fixture("imapsync-2.229-m365/throttled_fetch.log");
    const bytes = readFileSync(file);
    const byByte = Readable.from(
      (function* () {
        for (let i = 0; i < bytes.length; i++) yield bytes.subarray(i, i + 1);
      })(),
    );
    const fromStdin = jsonLines((await run(["-"], true, byByte)).out)[0];
    const fromFile = jsonLines((await run([file], true)).out)[0];
    assert.deepEqual({ ...fromStdin, file }, fromFile);
  });
});

describe("diagnose text output", () => {
  test("names the file, the class, the remedy and the deciding lines", async () => {
    const file = fixture("imapsync-2.229-m365/not_delegated_select.log");
    const { code, out } = await run([file], false);
    assert.equal(code, 1);
    assert.ok(out.startsWith(`${file}: not_delegated\n`));
    assert.ok(out.includes(remedyFor("not_delegated")));
    assert.ok(
      out.includes(
        "Host1 folder INBOX: Could not select: 13 BAD User is authenticated but not connected.",
      ),
    );
    assert.ok(out.includes("Exiting with return value 117 (EXIT_ERR_SELECT)"));
  });
});

describe("unreadable inputs", () => {
  test("a missing file is an InputError naming it, and nothing is printed for it", async () => {
    const missing = path.join(FIXTURES, "no-such-dir", "missing.log");
    const stdout = new PassThrough();
    let printed = "";
    stdout.on("data", (chunk: Buffer) => (printed += chunk.toString()));
    await assert.rejects(
      diagnose([missing], { json: true }, { stdout, stdin: Readable.from([]) }),
      (error: unknown) =>
        error instanceof InputError && error.exitCode === 2 && error.message.includes(missing),
    );
    assert.equal(printed, "");
  });

  test("a directory is an InputError naming it", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "diagnose-"));
    await assert.rejects(
      run([dir], false),
      (error: unknown) => error instanceof InputError && error.message.includes(dir),
    );
  });
});
