import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { before, describe, test } from "node:test";
import { ROOT, tempDir } from "../../helpers/env.js";
import { InputError } from "../../../src/errors.js";
import type { Config } from "../../../src/config/types.js";
import type { Mailbox } from "../../../src/users/types.js";
import { globMatcher, selectMailboxes } from "../../../src/users/select.js";
import { parseUsers, readUsersFile } from "../../../src/users/read.js";
import { passwordSourceOf, readPassword } from "../../../src/users/passwords.js";
import { readUsersAndPasswords } from "../../helpers/users.js";
import { splitWords } from "../../../src/shell-words.js";
import { testConfig } from "../../helpers/config.js";

const root = ROOT;
const samples = path.join(root, "fixtures", "users");

/** The error is an InputError (exit 2) whose message names the file, the line and the problem. */
function assertInputError(
  error: unknown,
  expected: { file?: string; line?: number; problem: RegExp },
): true {
  assert.ok(error instanceof InputError, `expected an InputError, got ${String(error)}`);
  assert.equal(error.exitCode, 2);
  if (expected.file !== undefined) assert.ok(error.message.includes(expected.file), error.message);
  if (expected.line !== undefined) {
    assert.match(error.message, new RegExp(`\\bline ${expected.line}\\b`));
  }
  assert.match(error.message, expected.problem);
  return true;
}

function rejects(text: string | Uint8Array, line: number | undefined, problem: RegExp): void {
  assert.throws(
    () => parseUsers(text, "users.csv"),
    (error) => assertInputError(error, { file: "users.csv", line, problem }),
  );
}

const sources = (mailboxes: Mailbox[]) => mailboxes.map((mailbox) => mailbox.source);

describe("CSV users file", () => {
  test("an Excel export with BOM, CRLF, comments, quoted passwords and password files", async () => {
    const users = await readUsersAndPasswords(path.join(samples, "excel-bom-crlf.csv"));
    assert.equal(users.format, "csv");
    assert.deepEqual(users.notices, []);
    const [alice, bob, carol, dave] = users.mailboxes;
    assert.equal(users.mailboxes.length, 4);
    assert.deepEqual(alice, {
      source: "alice@contoso.com",
      destination: "alice@example.org",
      password: 'p,a;s"s w0rd ',
      passwordFile: undefined,
      extraArgs: [],
      line: 3,
    });
    assert.equal(bob?.destination, "bob@contoso.com", "destination defaults to source");
    assert.deepEqual(Buffer.from(bob?.password ?? ""), Buffer.from("Mot-de-passe-été", "utf8"));
    assert.equal(carol?.line, 6, "the blank line 5 still counts");
    assert.equal(carol?.source, "carol@contoso.com", "a quoted address is unquoted");
    assert.equal(carol?.passwordFile, path.join(samples, "secrets", "carol.txt"));
    assert.equal(carol?.password, 'Çarol pass;"1"', "first line only, byte-exact");
    assert.equal(dave?.password, "dave-pass", "the CR of a Windows password file is dropped");
  });

  test("the minimal file: one source column, LF, no BOM", () => {
    const users = parseUsers("source\nalice@contoso.com\n", "u.csv");
    assert.deepEqual(users, {
      path: "u.csv",
      format: "csv",
      notices: [],
      mailboxes: [
        {
          source: "alice@contoso.com",
          destination: "alice@contoso.com",
          password: undefined,
          passwordFile: undefined,
          extraArgs: [],
          line: 2,
        },
      ],
    });
  });

  test("a # inside a value is kept; only lines starting with # are comments", () => {
    const users = parseUsers(
      "# header follows\npassword,source\np#ss # not a comment,a@x.org\n#b@x.org,x\n",
      "u.csv",
    );
    assert.deepEqual(sources(users.mailboxes), ["a@x.org"]);
    assert.equal(users.mailboxes[0]?.password, "p#ss # not a comment");
  });

  test("bytes and text give the same result; accents survive", () => {
    const text = 'source,password\nélodie@exemple.fr,"Éléments envoyés, ""été"""\n';
    const fromText = parseUsers(text, "u.csv");
    assert.deepEqual(parseUsers(new TextEncoder().encode(text), "u.csv"), fromText);
    assert.equal(fromText.mailboxes[0]?.password, 'Éléments envoyés, "été"');
    assert.equal(fromText.mailboxes[0]?.source, "élodie@exemple.fr");
  });

  test("rows of empty cells (Excel's blank rows) are skipped", () => {
    const users = parseUsers("source,destination\r\n,\r\na@x.org,\r\n , \r\n", "u.csv");
    assert.deepEqual(sources(users.mailboxes), ["a@x.org"]);
  });

  test("a row with fewer fields than the header leaves the rest empty", () => {
    const users = parseUsers("source,destination,password\na@x.org\n", "u.csv");
    assert.equal(users.mailboxes[0]?.destination, "a@x.org");
    assert.equal(users.mailboxes[0]?.password, undefined);
  });
});

describe("imapsync bulk file", () => {
  test("file.txt with CRLF, comments, host2 override, quoted options, 8th field", async () => {
    const users = await readUsersFile(path.join(samples, "bulk-file.txt"));
    assert.equal(users.format, "imapsync");
    const [alice, bob, carol, dave] = users.mailboxes;
    assert.equal(users.mailboxes.length, 4);
    assert.deepEqual(alice, {
      source: "alice@contoso.com",
      destination: "alice@example.org",
      password: "s3cr,et",
      host2: undefined,
      extraArgs: [],
      line: 3,
    });
    assert.equal(bob?.host2, "imap2.example.org");
    assert.equal(bob?.destination, "bob@contoso.com", "empty user2 means user1");
    assert.equal(bob?.password, "bob pass");
    assert.deepEqual(bob?.extraArgs, [
      "--f1f2",
      "Éléments envoyés=Sent",
      "--exclude",
      "^Junk E-mail$",
    ]);
    assert.equal(bob?.line, 5);
    assert.deepEqual(carol?.extraArgs, ["--dry"], "the 8th dummy field is ignored");
    assert.equal(dave?.destination, "dave@contoso.com");
    assert.equal(dave?.password, undefined);
  });

  test("host1 and password1 are ignored with one notice that repeats no password", () => {
    const users = parseUsers(
      "h1;a@x.org;pw-one;;;p2;\nh1;b@x.org;pw-two;;;p2;\nh1;c@x.org;;;;p2;\n",
      "file.txt",
    );
    assert.equal(users.notices.length, 1);
    assert.match(users.notices[0] ?? "", /file\.txt.*host1 and password1.*ignored/);
    assert.doesNotMatch(users.notices[0] ?? "", /pw-one|pw-two/);
  });

  test("no notice when columns 1 and 3 are empty", () => {
    assert.deepEqual(parseUsers(";a@x.org;;h2;b@y.org;p;\n", "file.txt").notices, []);
  });

  test("five fields are enough; a password keeps its spaces", () => {
    const users = parseUsers(";a@x.org;;h2;b@y.org\n;c@x.org;;;;  p w  ;;\n", "file.txt");
    assert.equal(users.mailboxes[0]?.password, undefined);
    assert.equal(users.mailboxes[1]?.password, "  p w  ");
  });

  test("one destination on two different hosts is not a duplicate", () => {
    const users = parseUsers(";a@x.org;;h2;same@y.org;;\n;b@x.org;;h3;same@y.org;;\n", "f.txt");
    assert.equal(users.mailboxes.length, 2);
  });
});

describe("users file rejections", () => {
  test("missing file", async () => {
    const file = path.join(os.tmpdir(), "no-such-users-file.csv");
    await assert.rejects(readUsersFile(file), (error) =>
      assertInputError(error, { file, problem: /does not exist/ }),
    );
  });

  test("a folder instead of a file", async () => {
    await assert.rejects(readUsersFile(samples), (error) =>
      assertInputError(error, { file: samples, problem: /is a folder/ }),
    );
  });

  test("empty file, comments only, header only", () => {
    rejects("", undefined, /lists no mailbox/);
    rejects("\uFEFF\r\n# only a comment\r\n\r\n", undefined, /lists no mailbox/);
    rejects("source,password\n# nobody yet\n", undefined, /lists no mailbox/);
  });

  test("unknown column, on the header's line", () => {
    rejects("# users\n\nsource,passwd\n", 3, /unknown column "passwd".*source, destination/);
  });

  test("a header separated by semicolons", () => {
    rejects("source;destination\n", 1, /neither a CSV header.*separated by commas/);
    rejects("source,destination;password\n", 1, /unknown column.*commas, not semicolons/);
  });

  test("missing source column", () => {
    rejects("destination,password\nb@y.org,x\n", 1, /no "source" column/);
  });

  test("duplicate and unnamed columns", () => {
    rejects("source,Source\n", 1, /"source" appears twice/);
    rejects("source,,password\n", 1, /header column 2 has no name/);
  });

  test("a first line that is neither format, without repeating its content", () => {
    assert.throws(
      () => parseUsers("alice@contoso.com,S3cret!\n", "users.csv"),
      (error) =>
        assertInputError(error, { file: "users.csv", line: 1, problem: /neither a CSV header/ }) &&
        !(error as Error).message.includes("S3cret"),
    );
  });

  test("empty source mailbox", () => {
    rejects("source,destination\n,b@y.org\n", 2, /source mailbox is empty/);
  });

  test("duplicate source mailbox names both lines, whatever the case", () => {
    rejects("source\na@x.org\nb@x.org\nA@X.org\n", 4, /a@x\.org.*already listed on line 2/i);
  });

  test("two sources into one destination names both lines", () => {
    rejects(
      "source,destination\na@x.org,d@y.org\nb@x.org,D@y.org\n",
      3,
      /destination mailbox D@y\.org already receives the source of line 2/,
    );
  });

  test("a destination equal to another line's default destination", () => {
    rejects("source,destination\na@x.org\nb@x.org,a@x.org\n", 3, /already receives.*line 2/);
  });

  for (const address of [
    "alice",
    "alice@",
    "@x.org",
    "al ice@x.org",
    "a@b@x.org",
    "a\u0007@x.org",
  ]) {
    test(`malformed source address ${JSON.stringify(address)}`, () => {
      rejects(`source\n"${address}"\n`, 2, /source mailbox .* is not an email address/);
    });
  }

  test("malformed destination address", () => {
    rejects("source,destination\na@x.org,b@y..org\n", 2, /destination mailbox "b@y\.\.org"/);
  });

  test("a control character is shown escaped, not printed", () => {
    assert.throws(
      () => parseUsers('source\n"a\u001b[31m@x.org"\n', "users.csv"),
      (error) =>
        !(error as Error).message.includes("\u001b") && /\\u\{1b\}/.test((error as Error).message),
    );
  });

  test("both password and password_file", () => {
    rejects(
      "source,password,password_file\na@x.org,p,f.txt\n",
      2,
      /both a password and a password_file/,
    );
  });

  test("a password over two lines names the line where its record starts", () => {
    rejects('source,password\na@x.org,"two\nlines"\n', 2, /line break/);
  });

  test("more fields than the header", () => {
    rejects("source,password\na@x.org,p,ss\n", 2, /3 fields but the header has 2/);
  });

  test("CSV quoting errors are reported on csv-parse's line without the value", () => {
    for (const [text, line] of [
      ['source,password\na@x.org,"S3cret\nb@x.org,x\n', 3],
      ['source,password\na@x.org,S3"cret\n', 2],
      ['source,password\na@x.org,"S3"cret\n', 2],
    ] as const) {
      assert.throws(
        () => parseUsers(text, "users.csv"),
        (error) =>
          assertInputError(error, { file: "users.csv", line, problem: /double quote/ }) &&
          !(error as Error).message.includes("S3"),
      );
    }
  });

  test("invalid UTF-8 names the first bad line", async () => {
    const file = path.join(samples, "latin1.csv");
    await assert.rejects(readUsersFile(file), (error) =>
      assertInputError(error, {
        file,
        line: 2,
        problem: /not valid UTF-8.*Save the file as UTF-8/,
      }),
    );
  });

  test("bulk lines with too few or too many fields", () => {
    rejects(
      "h1;a@x.org;p1;h2;b@y.org;p2;;\nh1;c@x.org;p1;h2\n",
      2,
      /4 fields .* instead of 5 to 8/,
    );
    rejects("h1;a@x.org;p1;h2;b@y.org;p;2;;\n", 1, /9 fields/);
  });

  test("bulk user1 that is not an address", () => {
    rejects(
      "test1.lamiral.info;test1;secret1;test2.lamiral.info;test2;secret2;;\n",
      1,
      /"test1" is not an email address/,
    );
  });

  test("bulk column 7 with an unclosed quote", () => {
    rejects(";a@x.org;;;;;--f1f2 'Sent=Envoy;\n", 1, /column 7.*single quote/);
  });

  test("bulk host2 with a space", () => {
    rejects(";a@x.org;;imap example;;;;\n", 1, /host2 \(column 4\)/);
  });

  describe("password files", () => {
    let dir = "";
    before(async () => {
      dir = await tempDir("users-test-");
      await mkdir(path.join(dir, "folder"));
      await writeFile(path.join(dir, "empty.txt"), "\r\n");
    });

    for (const [name, problem] of [
      ["missing.txt", /missing\.txt does not exist/],
      ["empty.txt", /first line of the password file .*empty\.txt is empty/],
      ["folder", /folder is a folder/],
    ] as const) {
      test(`${name} is refused with the file and the line`, async () => {
        const users = path.join(dir, `users-${name}.csv`);
        await writeFile(users, `source,password_file\na@x.org,\nb@x.org,${name}\n`);
        await assert.rejects(readUsersAndPasswords(users), (error) =>
          assertInputError(error, { file: users, line: 3, problem }),
        );
      });
    }
  });
});

describe("splitWords", () => {
  test("shell-like quoting without expansion", () => {
    assert.deepEqual(splitWords(` --a  'b c' "d \\"e\\" \\n $x" f\\ g '' "" x'y'"z"\t`), {
      words: ["--a", "b c", 'd "e" \\n $x', "f g", "", "", "xyz"],
    });
  });

  test("nothing gives no words", () => {
    assert.deepEqual(splitWords("  \t "), { words: [] });
  });

  test("unclosed quotes are problems", () => {
    assert.deepEqual(splitWords("'a"), { problem: "a single quote (') is not closed" });
    assert.deepEqual(splitWords('"a\\"'), { problem: 'a double quote (") is not closed' });
  });
});

describe("selectMailboxes", () => {
  const all = parseUsers(
    "source\nalice@contoso.com\nbob@contoso.com\ncarol@fabrikam.com\nabc@contoso.com\n",
    "u.csv",
  ).mailboxes;
  const pick = (only?: string[], exclude?: string[]) =>
    sources(selectMailboxes(all, { only, exclude }));

  test("no pattern keeps everything in order", () => {
    assert.deepEqual(pick(), sources(all));
  });

  test("domain, user, exact, case-insensitive", () => {
    assert.deepEqual(pick(["*@CONTOSO.com"]), [
      "alice@contoso.com",
      "bob@contoso.com",
      "abc@contoso.com",
    ]);
    assert.deepEqual(pick(["carol@*"]), ["carol@fabrikam.com"]);
    assert.deepEqual(pick(["Bob@Contoso.com"]), ["bob@contoso.com"]);
  });

  test("? and [...] classes; the dot is literal", () => {
    assert.deepEqual(pick(["[ab]??@*"]), ["bob@contoso.com", "abc@contoso.com"]);
    assert.deepEqual(pick(["[!a]*"]), ["bob@contoso.com", "carol@fabrikam.com"]);
    assert.equal(globMatcher("a.c@x")?.("abc@x"), false);
  });

  test("several patterns, repeated or comma-separated", () => {
    assert.deepEqual(pick(["alice@*", "carol@*"]), ["alice@contoso.com", "carol@fabrikam.com"]);
    assert.deepEqual(pick(["alice@*, carol@*"]), ["alice@contoso.com", "carol@fabrikam.com"]);
  });

  test("exclude, alone and after only", () => {
    assert.deepEqual(pick(undefined, ["*@contoso.com"]), ["carol@fabrikam.com"]);
    assert.deepEqual(pick(["*@contoso.com"], ["a*"]), ["bob@contoso.com"]);
  });

  test("an --only pattern matching nothing is named, even next to good ones", () => {
    assert.throws(
      () => pick(["alice@*", "alcie@contoso.com"]),
      (error) =>
        assertInputError(error, { problem: /--only.*"alcie@contoso\.com" matches no source/ }),
    );
  });

  test("selecting nothing at all", () => {
    assert.throws(
      () => pick(["*@contoso.com"], ["*"]),
      (error) => assertInputError(error, { problem: /no mailbox is left/ }),
    );
  });

  test("an invalid range", () => {
    assert.throws(
      () => pick(["[z-a]*"]),
      (error) => assertInputError(error, { problem: /--only.*"\[z-a\]\*".*invalid/ }),
    );
  });

  test("a long run of stars stays fast", () => {
    const started = performance.now();
    assert.equal(globMatcher(`${"*".repeat(50)}x`)?.("a".repeat(10_000)), false);
    assert.ok(performance.now() - started < 1000);
  });
});

/** The destination admin's password, as a run reads it for any mailbox. */
const readDestinationAdminPassword = (config: Config) =>
  readPassword(
    passwordSourceOf(
      { source: "a@x.org", destination: "a@x.org", extraArgs: [], line: 2 },
      "users.csv",
      config,
    ),
  );

describe("readDestinationAdminPassword", () => {
  test("reads the first line like a password_file, and refuses an empty one naming the setting", async () => {
    const dir = await tempDir("admin-pw-");
    const good = path.join(dir, "good");
    const empty = path.join(dir, "empty");
    await writeFile(good, "Adm1n-Été\r\nignored\n");
    await writeFile(empty, "\nsecond line\n");
    assert.equal(await readDestinationAdminPassword(testConfig()), undefined);
    assert.equal(
      await readDestinationAdminPassword(testConfig({ destAdminPasswordFile: good })),
      "Adm1n-Été",
    );
    await assert.rejects(
      readDestinationAdminPassword(testConfig({ destAdminPasswordFile: empty })),
      (error: unknown) =>
        error instanceof InputError &&
        error.exitCode === 2 &&
        error.message.startsWith("DEST_ADMIN_PASSWORD_FILE: ") &&
        error.message.includes("is empty"),
    );
  });
});
