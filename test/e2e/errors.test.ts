// Every rejection path of every parser, each with the message it gives and its exit code; the
// table in docs/errors.md must list each of them.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { chmod, mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { before, describe, it } from "node:test";
import { loadConfig } from "../../src/config/load.js";
import { ExitCode, UserError } from "../../src/errors.js";
import { checkUserOptions } from "../../src/imapsync/args.js";
import { reportMergeCommand } from "../../src/commands/report-merge.js";
import { checkWorkDirShard, parseShard, resolveShard, shardToRun } from "../../src/plan/shard.js";
import { mergeReports, type ShardReport } from "../../src/report/merge.js";
import { loadReport } from "../../src/report/store.js";
import type { Mailbox } from "../../src/users/types.js";
import type { Report } from "../../src/report/schema.js";
import { parseUsers, readUsersFile } from "../../src/users/read.js";
import { readUsersAndPasswords } from "../helpers/users.js";
import { selectMailboxes } from "../../src/users/select.js";
import { withWorkDirLock } from "../../src/workdir/lock.js";
import { ROOT, runCli, tempDir } from "../helpers/env.js";

let dir: string;
before(async () => {
  dir = await tempDir("errors-");
});

const csv = (text: string) => () => parseUsers(text, "users.csv");
const usersFile = (name: string, bytes: string | Buffer) => async () => {
  const file = path.join(dir, name);
  await writeFile(file, bytes);
  return readUsersAndPasswords(file);
};
const withPasswordFile = (name: string, bytes: string | Buffer) => async () => {
  await writeFile(path.join(dir, `${name}.pass`), bytes);
  return usersFile(`${name}.csv`, `source,password_file\na@contoso.com,${name}.pass\n`)();
};
const config =
  (env: Record<string, string>, require: ("token" | "destination")[] = []) =>
  () =>
    loadConfig({}, { env, envFile: false, cwd: dir, require });
const ALICE: Mailbox = {
  source: "alice@contoso.com",
  destination: "alice@contoso.com",
  extraArgs: [],
  line: 2,
};
const report = (name: string, text: string) => async () => {
  const file = path.join(dir, name);
  await writeFile(file, text);
  return loadReport(file);
};

const shardReport = (file: string, more: Partial<ShardReport["report"]>): ShardReport => ({
  file,
  report: {
    schemaVersion: 1,
    startedAt: "2026-12-01T00:00:00.000Z",
    usersFile: "/config/users.csv",
    usersDigest: "sha256:aa",
    mailboxes: [],
    ...more,
  },
});
const merge = (more: Partial<ShardReport["report"]>) => () =>
  mergeReports([shardReport("a.json", {}), shardReport("b.json", more)]);
const mergeTo = (out: string, reports: string[]) => () =>
  reportMergeCommand({ reports, out }, { stdout: process.stdout, stderr: process.stderr });
const SHARD_0: Report = {
  ...shardReport("r.json", { shard: { index: 0, count: 3 } }).report,
} as Report;

/** [the message fragment docs/errors.md shows, how to get it, the exit code]. */
const CASES: [string, () => unknown, number][] = [
  [
    "the users file does not exist. Check the path, or create it: cp users.csv.example",
    () => readUsersFile(path.join(dir, "nope.csv")),
    2,
  ],
  ["the users file is a folder, not a file. If Docker made it", () => readUsersFile(dir), 2],
  ["the users file lists no mailbox", usersFile("empty.csv", "# only a comment\n"), 2],
  ["this line is neither a CSV header nor an imapsync bulk line", csv("hello\n"), 2],
  ["(CSV columns are separated by commas)", csv("source;destination\n"), 2],
  [
    "this line is not valid UTF-8 text",
    usersFile("latin1.csv", Buffer.from("source\nal\xe9@x.com\n", "latin1")),
    2,
  ],
  ['unknown column "mailbox"', csv("source,mailbox\n"), 2],
  ["header column 2 has no name", csv("source,,password\n"), 2],
  ['the column "source" appears twice', csv("source,source\n"), 2],
  ['the header has no "source" column', csv("destination,password\n"), 2],
  ["this line has 3 fields but the header has 2", csv("source,password\na@contoso.com,p,q\n"), 2],
  ["the file ends inside a quoted value", csv('source,password\na@contoso.com,"p\n'), 2],
  [
    "a double quote appears inside a value that does not start with one",
    csv('source,password\na@contoso.com,p"q"\n'),
    2,
  ],
  [
    "a closing double quote is followed by other characters",
    csv('source,password\na@contoso.com,"p"q\n'),
    2,
  ],
  [
    "this line has both a password and a password_file",
    csv("source,password,password_file\na@contoso.com,p,f\n"),
    2,
  ],
  ["the source mailbox is empty", csv("source,destination\n,b@x.com\n"), 2],
  [
    'the destination mailbox "b at x" is not an email address',
    csv("source,destination\na@contoso.com,b at x\n"),
    2,
  ],
  [
    "the password contains a line break or a NUL character",
    csv('source,password\na@contoso.com,"p\nq"\n'),
    2,
  ],
  ['separated by ";" instead of 5 to 8', csv(";a@contoso.com;;h;\n;b@contoso.com;\n"), 2],
  [
    "host2 (column 4) contains spaces or control characters",
    csv(";a@contoso.com;;imap example;;p;\n"),
    2,
  ],
  [
    "the extra options (column 7) are malformed: a single quote (') is not closed",
    csv(";a@contoso.com;;;;p;--exclude 'x;\n"),
    2,
  ],
  [
    "the source mailbox A@contoso.com is already listed on line 2",
    csv("source\na@contoso.com\nA@contoso.com\n"),
    2,
  ],
  [
    "the destination mailbox c@x.com already receives the source of line 2",
    csv("source,destination\na@contoso.com,c@x.com\nb@contoso.com,c@x.com\n"),
    2,
  ],
  [
    "does not exist. Create it, readable only by you: (umask 077 && mkdir -p",
    usersFile("nopass.csv", "source,password_file\na@contoso.com,none.pass\n"),
    2,
  ],
  ["is too long", withPasswordFile("long", "p".repeat(70_000)), 2],
  ["is not UTF-8 text", withPasswordFile("latin", Buffer.from("caf\xe9\n", "latin1")), 2],
  ["is empty", withPasswordFile("empty", "\nsecond line\n"), 2],
  [
    "matches no source mailbox of the users file",
    () => selectMailboxes([ALICE], { only: ["bob@*"] }),
    2,
  ],
  ["no mailbox is left to migrate", () => selectMailboxes([ALICE], { exclude: ["*"] }), 2],
  ["has an invalid [...] range", () => selectMailboxes([ALICE], { only: ["[z-a]*"] }), 2],
  [
    "is set by m365-imapsync and cannot be given here",
    () => checkUserOptions(["--passw=x"], "options after --"),
    2,
  ],
  [
    "CONCURRENCY (flag --concurrency) must be a whole number from 1 to 64",
    config({ CONCURRENCY: "0" }),
    2,
  ],
  ["TLS2 (flag --tls2) must be one of ssl, starttls, none", config({ TLS2: "tls" }), 2],
  [
    'must be a number of minutes, or a duration with a unit like "90s"',
    config({ STALL_TIMEOUT: "soon" }),
    2,
  ],
  ["TLS2_VERIFY (flag --tls2-verify) must be true or false", config({ TLS2_VERIFY: "maybe" }), 2],
  ["LOGIN_HINT (flag --login-hint) must be an email address", config({ LOGIN_HINT: "admin" }), 2],
  [
    "AUTHORITY_URL (flag --authority-url) must be an http(s) URL",
    config({ AUTHORITY_URL: "ftp://x" }),
    2,
  ],
  ["HOST2 (flag --host2) must be a value without spaces", config({ HOST2: "imap example" }), 2],
  [
    'CALENDAR_WINDOW (flag --calendar-window) must be years back and ahead, like "2y back, 5y ahead"',
    config({ CALENDAR_WINDOW: "5 years" }),
    2,
  ],
  [
    "is given more than once",
    () => loadConfig({ host2: ["a", "b"] }, { env: {}, envFile: false, require: [] }),
    2,
  ],
  [
    "HOST2 (flag --host2) is not set but the destination server must be known",
    config({}, ["destination"]),
    2,
  ],
  ["is set and the two go together", config({ DEST_ADMIN_USER: "admin@example.org" }), 2],
  [
    "point it at a readable file whose first line is the password",
    config({ DEST_ADMIN_USER: "a@x.org", DEST_ADMIN_PASSWORD_FILE: "none.txt" }),
    2,
  ],
  [
    "point it at a readable PEM file of the certificate authority",
    config({ CA2_FILE: "none.pem" }),
    2,
  ],
  [
    '"no-such-imapsync" was not found on PATH',
    () =>
      loadConfig(
        {},
        {
          env: { PATH: dir, IMAPSYNC_BIN: "no-such-imapsync" },
          envFile: false,
          cwd: dir,
          require: ["imapsync"],
        },
      ),
    2,
  ],
  [
    "which is not executable",
    async () => {
      await writeFile(path.join(dir, "not-exec"), "");
      await chmod(path.join(dir, "not-exec"), 0o644);
      return loadConfig(
        {},
        { env: { IMAPSYNC_BIN: "./not-exec" }, envFile: false, cwd: dir, require: ["imapsync"] },
      );
    },
    2,
  ],
  [
    'is unusable: a double quote (") is not closed',
    config({ IMAPSYNC_BIN: 'perl "/opt/imapsync' }),
    2,
  ],
  [
    "the settings file cannot be read",
    () => loadConfig({}, { env: {}, envFile: path.join(dir, "none.env"), require: [] }),
    2,
  ],
  ["2 settings are missing or invalid", config({ CONCURRENCY: "0", TLS2: "tls" }), 2],
  [
    "has none: create it from the example in the repository, cp .env.example .env",
    () => loadConfig({}, { env: {}, cwd: dir, require: ["destination"] }),
    2,
  ],
  ["cannot read the report (ENOENT)", () => loadReport(path.join(dir, "none.json")), 2],
  ['"1-3" is not INDEX/COUNT', () => parseShard("1-3", "--shard"), 2],
  ["shard index 3 is out of range for 3 shards", () => parseShard("3/3", "--shard"), 2],
  ['"0" is not a shard count from 1 to 1000', () => parseShard("0/0", "--shard"), 2],
  ['"x" is not a shard index', () => resolveShard({ jobCompletionIndex: "x", count: 3 }), 2],
  [
    "JOB_COMPLETION_INDEX is 1 (a pod of an Indexed Job) but no shard count is set",
    () => resolveShard({ jobCompletionIndex: "1" }),
    2,
  ],
  ["1/3 names 3 shards but SHARD_COUNT says 4", () => resolveShard({ flag: "1/3", count: 4 }), 2],
  [
    "SHARD_COUNT: a shard count (3) but no shard index",
    () => shardToRun(config({ SHARD_COUNT: "3" })().shard),
    2,
  ],
  [
    "this report is shard 0/3's, but this run is shard 1/3",
    () => checkWorkDirShard("r.json", SHARD_0, { index: 1, count: 3 }),
    2,
  ],
  ["this report was written for another users file than", merge({ usersDigest: "sha256:bb" }), 2],
  ["this report has schema version 2 but", merge({ schemaVersion: 2 }), 2],
  ["does not record the digest of its users file", merge({ usersDigest: undefined }), 2],
  ["does not end in .json", mergeTo("merged.csv", ["a.json"]), 2],
  ["is one of the reports to merge", mergeTo("a.json", ["a.json"]), 2],
  ["not valid JSON", report("bad.json", "{"), 2],
  ["not a report of this tool (schemaVersion", report("other.json", '{"schemaVersion":9}'), 2],
  [
    "Another m365-imapsync (process",
    async () => {
      const workDir = path.join(dir, "locked");
      await mkdir(workDir, { recursive: true });
      return withWorkDirLock(workDir, () => withWorkDirLock(workDir, async () => 0));
    },
    2,
  ],
];

const DOC = readFileSync(path.join(ROOT, "docs/errors.md"), "utf8");

describe("every rejection path: its message and exit code", () => {
  for (const [message, produce, exitCode] of CASES) {
    it(message, async () => {
      await assert.rejects((async () => produce())(), (error: Error) => {
        assert.ok(error instanceof UserError, `${error.name}: ${error.message}`);
        assert.ok(error.message.includes(message), error.message);
        assert.equal(error.exitCode, exitCode);
        return true;
      });
      assert.ok(DOC.includes(message.replace(/\|/g, "\\|")), `docs/errors.md lacks: ${message}`);
    });
  }

  it("usage mistakes: one sentence naming the help of the command given, exit 2", async () => {
    const cases: [string[], string][] = [
      [
        ["migrate", "--users", "u.csv", "--bogus"],
        "Unknown argument: bogus. See `m365-imapsync migrate --help`.",
      ],
      [
        [],
        "Name a command: token, check, grants, migrate, verify, retry, report or diagnose. See `m365-imapsync --help`.",
      ],
      [["migrate", "--users"], "--users needs a value. See `m365-imapsync migrate --help`."],
      [["migrate"], "Missing required argument: users. See `m365-imapsync migrate --help`."],
      [
        ["report", "merge", "a.json"],
        "Missing required argument: out. See `m365-imapsync report merge --help`.",
      ],
    ];
    for (const [argv, expected] of cases) {
      const result = await runCli(argv, { cwd: dir, env: {} });
      assert.equal(result.exitCode, ExitCode.badInput, result.stderr);
      assert.equal(result.stderr.trim(), expected);
    }
    for (const excerpt of [
      "Missing required argument: users. See `m365-imapsync migrate --help`.",
      "--users needs a value.",
    ])
      assert.ok(DOC.includes(excerpt), `docs/errors.md lacks: ${excerpt}`);
  });
});
