import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { PassThrough, Readable } from "node:stream";
import { describe, test } from "node:test";
import { execa } from "execa";
import { diagnose } from "../../../src/commands/diagnose.js";
import { InputError } from "../../../src/errors.js";
import { remedyFor } from "../../../src/outcomes/remedies.js";
import { CLI, tempDir } from "../../helpers/env.js";
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
  const corpora = ["office365", "public-corpus"].flatMap((corpus) =>
    excerpts(corpus).map((excerpt) => ({ corpus, ...excerpt })),
  );
  for (const excerpt of corpora) {
    test(`${excerpt.corpus}/${excerpt.file} fed as-is, header lines included, is ${excerpt.expected}`, async () => {
      const bytes = readFileSync(fixture(path.join(excerpt.corpus, excerpt.file)));
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
  test("no input is an InputError (exit 2), not an empty success", async () => {
    await assert.rejects(
      run([], true),
      (error: unknown) => error instanceof InputError && error.exitCode === 2,
    );
  });

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
    const dir = await tempDir("diagnose-");
    await assert.rejects(
      run([dir], false),
      (error: unknown) => error instanceof InputError && error.message.includes(dir),
    );
  });
});

describe("diagnose - through the built CLI", () => {
  const THROTTLED = fixture("office365/11-throttled-append-no.txt");
  const KILLED = fixture("public-corpus/01-interrupted-zsh-killed-mid-copy.txt");

  /** The CLI with `bytes` piped on its standard input. */
  async function piped(args: string[], bytes: Buffer) {
    return execa("node", [CLI, "diagnose", ...args], { input: bytes, reject: false });
  }

  /** The CLI started by a shell with its standard input redirected from `file` (`< file`). */
  async function redirected(args: string[], file: string) {
    const words = [CLI, "diagnose", ...args].map((word) => `'${word}'`).join(" ");
    return execa("sh", ["-c", `exec node ${words} < '${file}'`], { reject: false });
  }

  test("alone, piped, --json: one object for -", async () => {
    const result = await piped(["-", "--json"], readFileSync(THROTTLED));
    assert.equal(result.exitCode, 1, result.stderr);
    const [only, ...rest] = jsonLines(result.stdout);
    assert.equal(rest.length, 0);
    assert.equal(only?.file, "-");
    assert.equal(only?.class, "throttled");
  });

  test("alone, piped, text: names - and the class", async () => {
    const result = await piped(["-"], readFileSync(KILLED));
    assert.equal(result.exitCode, 1, result.stderr);
    assert.ok(result.stdout.startsWith("-: interrupted\n"), result.stdout);
    assert.ok(result.stdout.includes("zsh: killed"));
  });

  test("alone, stdin redirected from a file, both modes", async () => {
    const json = await redirected(["--json", "-"], OK);
    assert.equal(json.exitCode, 0, json.stderr);
    assert.deepEqual(
      jsonLines(json.stdout).map((r) => [r.file, r.class]),
      [["-", "ok"]],
    );
    const text = await redirected(["-"], EXPIRED);
    assert.equal(text.exitCode, 1, text.stderr);
    assert.ok(text.stdout.startsWith("-: token_expired\n"), text.stdout);
  });

  test("among files, in the order given, piped and redirected", async () => {
    const piping = await piped([OK, "-", EXPIRED, "--json"], readFileSync(THROTTLED));
    assert.deepEqual(
      jsonLines(piping.stdout).map((r) => [r.file, r.class]),
      [
        [OK, "ok"],
        ["-", "throttled"],
        [EXPIRED, "token_expired"],
      ],
    );
    assert.equal(piping.exitCode, 1);
    const text = await redirected([EXPIRED, "-"], KILLED);
    assert.equal(text.exitCode, 1, text.stderr);
    assert.match(text.stdout, /: token_expired\n[\s\S]*\n-: interrupted\n/);
  });

  test("- after -- is standard input too", async () => {
    const result = await piped(["--json", "--", "-"], readFileSync(THROTTLED));
    assert.deepEqual(
      jsonLines(result.stdout).map((r) => r.class),
      ["throttled"],
    );
  });

  test("no input at all: exit 2 with a message, nothing on stdout", async () => {
    for (const args of [[], ["--json"]]) {
      const result = await execa("node", [CLI, "diagnose", ...args], {
        stdin: "ignore",
        reject: false,
      });
      assert.equal(result.exitCode, 2, result.stderr);
      assert.match(result.stderr, /^diagnose: no input named\. .*- to read standard input/);
      assert.equal(result.stdout, "");
    }
  });
});
