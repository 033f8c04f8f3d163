import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import path from "node:path";
import { describe, it } from "node:test";
import { InputError } from "../../../src/errors.js";
import {
  buildEnv,
  buildImapsyncArgs,
  checkUserOptions,
  decodeModifiedUtf7,
  encodeModifiedUtf7,
  excludePattern,
  maskArgs,
  NON_MAIL_FOLDERS,
  nonMailExcludes,
  runPaths,
  safeFileName,
} from "../../../src/imapsync/args.js";
import type { Config } from "../../../src/config/types.js";
import type { Mailbox } from "../../../src/users/types.js";
import { testConfig } from "../../helpers/config.js";

const WORK = "/var/tmp/work";

function config(overrides: Partial<Config> = {}): Config {
  return testConfig({ workDir: WORK, ...overrides });
}

function mailbox(overrides: Partial<Mailbox> = {}): Mailbox {
  return {
    source: "alice@contoso.com",
    destination: "alice@example.net",
    password: "dest-secret",
    extraArgs: [],
    line: 2,
    ...overrides,
  };
}

function build(p: {
  config?: Partial<Config>;
  mailbox?: Partial<Mailbox>;
  folders?: { source: string; destination: string }[];
  preflight?: boolean;
}): string[] {
  const mb = mailbox(p.mailbox);
  return buildImapsyncArgs({
    mailbox: mb,
    config: config(p.config),
    tokenFile: "/var/tmp/work/token",
    files: runPaths(WORK, mb.source, 1),
    folders: p.folders,
    preflight: p.preflight,
  });
}

/** The value following `option`, asserting it is there exactly once. */
function valueOf(args: string[], option: string): string | undefined {
  const at = args.indexOf(option);
  assert.equal(args.lastIndexOf(option), at, `${option} given twice`);
  return at < 0 ? undefined : args[at + 1];
}

describe("runPaths", () => {
  it("separates mailboxes and attempts and keeps secrets in their own directory", () => {
    const first = runPaths(WORK, "alice@contoso.com", 1);
    const second = runPaths(WORK, "alice@contoso.com", 2);
    assert.equal(first.logFile, "/var/tmp/work/logs/alice@contoso.com/attempt-1.log");
    assert.equal(first.dir, "/var/tmp/work/run");
    assert.equal(path.dirname(first.pidFile), first.dir);
    assert.equal(path.dirname(first.passFile), "/var/tmp/work/secrets");
    assert.equal(first.secretsDir, "/var/tmp/work/secrets");
    for (const key of ["pidFile", "logFile", "passFile"] as const) {
      assert.notEqual(first[key], second[key], key);
    }
  });

  it("keeps plain addresses readable and never lets two addresses share a file", () => {
    assert.equal(safeFileName("a.b-c_d@contoso.com"), "a.b-c_d@contoso.com");
    const slash = safeFileName("a/b@contoso.com");
    const underscore = safeFileName("a_b@contoso.com");
    assert.match(slash, /^a_b@contoso\.com-[0-9a-f]{8}$/);
    assert.notEqual(slash, underscore);
    assert.notEqual(safeFileName("é@x"), safeFileName("è@x"));
  });

  it("cannot be made to leave its directory", () => {
    for (const evil of ["..", ".", "../../etc/passwd", ""]) {
      const files = runPaths(WORK, evil, 1);
      assert.equal(path.dirname(path.dirname(files.logFile)), "/var/tmp/work/logs", evil);
      assert.equal(path.dirname(files.passFile), "/var/tmp/work/secrets", evil);
    }
  });
});

describe("buildImapsyncArgs", () => {
  it("follows the recipe, in its order", () => {
    const args = build({});
    const recipe = [
      "--addheader",
      "--automap",
      "--office1",
      "--oauthaccesstoken1",
      "/var/tmp/work/token",
      "--user1",
      "alice@contoso.com",
      "--host2",
      "imap.example.net",
    ];
    assert.deepEqual(args.slice(0, recipe.length), recipe);
    const user2 = args.indexOf("--user2");
    assert.ok(user2 > recipe.length, "--user2 after --host2");
    assert.equal(args[user2 + 1], "alice@example.net");
  });

  it("gives the destination password as a per-run passfile, never as a value", () => {
    const args = build({});
    assert.equal(valueOf(args, "--passfile2"), runPaths(WORK, "alice@contoso.com", 1).passFile);
    assert.ok(!args.some((a) => /password|authuser/i.test(a)));
  });

  it("never puts a secret on the command line, whatever the passwords", () => {
    for (let i = 0; i < 200; i++) {
      const secret = randomBytes(4 + (i % 20)).toString(i % 2 ? "base64" : "hex");
      const args = build({
        mailbox: { password: secret },
        config: { appSecret: `app-${secret}`, destAdminUser: "admin@example.net" },
      });
      assert.ok(!args.some((a) => a.includes(secret)), `secret ${secret} in argv`);
    }
  });

  it("logs in as DEST_ADMIN_USER on the destination when set", () => {
    const args = build({ config: { destAdminUser: "admin@example.net" } });
    assert.equal(valueOf(args, "--authuser2"), "admin@example.net");
    assert.equal(valueOf(args, "--user2"), "alice@example.net");
    assert.ok(args.includes("--passfile2"));
  });

  it("maps each destination TLS mode to imapsync's options", () => {
    const cases = [
      ["ssl", ["--ssl2"]],
      ["starttls", ["--tls2"]],
      ["none", ["--nossl2", "--notls2"]],
    ] as const;
    for (const [tls, expected] of cases) {
      const args = build({ config: { destination: { host: "h", port: 1143, tls } } });
      const tlsArgs = args.filter((a) => /^--(no)?(ssl|tls)2$/.test(a));
      assert.deepEqual(tlsArgs, expected, tls);
      assert.equal(valueOf(args, "--port2"), "1143");
    }
    assert.equal(valueOf(build({}), "--port2"), undefined);
  });

  it("overrides the Office 365 source only when HOST1 is set", () => {
    assert.ok(!build({}).some((a) => /^--(host|port|ssl|nossl|tls|notls)1$/.test(a)));
    const args = build({ config: { source: { host: "127.0.0.1", port: 13001, tls: "none" } } });
    assert.equal(valueOf(args, "--host1"), "127.0.0.1");
    assert.equal(valueOf(args, "--port1"), "13001");
    assert.ok(args.includes("--nossl1") && args.includes("--notls1"));
    assert.ok(args.includes("--office1"), "--office1 still excludes Files");
  });

  it("uses the mailbox's host2 column before HOST2", () => {
    assert.equal(
      valueOf(build({ mailbox: { host2: "other.example" } }), "--host2"),
      "other.example",
    );
  });

  it("controls logging, pidfile and Docker context itself", () => {
    const args = build({});
    const files = runPaths(WORK, "alice@contoso.com", 1);
    assert.ok(args.includes("--nolog"));
    assert.ok(args.includes("--nodockercontext"));
    assert.equal(valueOf(args, "--pidfile"), files.pidFile);
  });

  it("adds --dry, and --justfoldersizes for the preflight, only when asked", () => {
    assert.ok(!build({}).includes("--dry"));
    assert.ok(!build({}).includes("--justfoldersizes"));
    assert.ok(build({ config: { dryRun: true } }).includes("--dry"));
    const preflight = build({ preflight: true });
    assert.ok(preflight.includes("--justfoldersizes"));
    // A login check alone would let an undelegated Office 365 mailbox through.
    assert.ok(!preflight.includes("--justlogin"));
  });

  it("excludes Office 365 non-mail folders unless INCLUDE_NON_MAIL_FOLDERS", () => {
    const excludes = (args: string[]) => args.filter((_, i) => args[i - 1] === "--exclude");
    const on = excludes(build({}));
    assert.deepEqual(on, nonMailExcludes());
    assert.equal(on.length, NON_MAIL_FOLDERS.length);
    assert.deepEqual(excludes(build({ config: { includeNonMailFolders: true } })), []);
  });

  it("pins the folder mapping of the first run with --f1f2", () => {
    const args = build({
      folders: [
        { source: "INBOX", destination: "INBOX" },
        { source: "&AMk-l&AOk-ments envoy&AOk-s", destination: "Sent" },
        { source: "a=b", destination: "a=b" },
      ],
    });
    const pairs = args.filter((_, i) => args[i - 1] === "--f1f2");
    assert.deepEqual(pairs, ["INBOX=INBOX", "&AMk-l&AOk-ments envoy&AOk-s=Sent"]);
  });

  it("ends with column 7 options, then the options after --", () => {
    const args = build({
      mailbox: { extraArgs: ["--maxage", "30"] },
      config: { passthrough: ["--errorsmax", "100"] },
    });
    assert.deepEqual(args.slice(-4), ["--maxage", "30", "--errorsmax", "100"]);
  });
});

describe("non-mail folder exclusions", () => {
  /** Perl and JavaScript agree on these simple patterns. */
  const excluded = (imapName: string) =>
    nonMailExcludes().some((re) => new RegExp(re).test(imapName));

  it("matches the folders, their subfolders and their French names, in modified UTF-7", () => {
    for (const name of [
      "Calendar",
      "Calendar/Birthdays",
      "Contacts/Recipient Cache",
      "Sync Issues/Conflicts",
      "Sync Issues/Local Failures",
      "Sync Issues/Server Failures",
      "Conversation History",
      "Files",
      "Calendrier",
      "T&AOI-ches",
      encodeModifiedUtf7("Problèmes de synchronisation/Conflits"),
    ]) {
      assert.ok(excluded(name), name);
    }
  });

  it("leaves mail folders alone, even with similar names", () => {
    for (const name of [
      "INBOX",
      "INBOX/Calendar",
      "Calendars 2023",
      "Sent",
      "Tâches",
      "Notes perso",
    ]) {
      assert.ok(!excluded(name), name);
    }
  });
});

describe("encodeModifiedUtf7", () => {
  it("encodes as RFC 3501 and imapsync's logs show", () => {
    assert.equal(encodeModifiedUtf7("Tâches"), "T&AOI-ches");
    assert.equal(encodeModifiedUtf7("Éléments envoyés"), "&AMk-l&AOk-ments envoy&AOk-s");
    assert.equal(encodeModifiedUtf7("Projets/Été 2024"), "Projets/&AMk-t&AOk- 2024");
    assert.equal(encodeModifiedUtf7("R&D"), "R&-D");
    assert.equal(encodeModifiedUtf7("INBOX"), "INBOX");
    // RFC 3501's own example: base64 `/` is written `,`.
    assert.equal(encodeModifiedUtf7("台北"), "&U,BTFw-");
  });

  it("decodes back what people read (the plan's slice lines)", () => {
    assert.equal(decodeModifiedUtf7("&AMk-l&AOk-ments envoy&AOk-s"), "Éléments envoyés");
    assert.equal(decodeModifiedUtf7("Projets/&AMk-t&AOk- 2024"), "Projets/Été 2024");
    assert.equal(decodeModifiedUtf7("R&-D"), "R&D");
    assert.equal(decodeModifiedUtf7("&U,BTFw-"), "台北");
  });

  it("escapes regex characters of the encoded form in the exclusions", () => {
    // `+` occurs in base64; unescaped it would be a quantifier.
    const encoded = encodeModifiedUtf7("ûû");
    assert.equal(encoded, "&APsA+w-");
    const pattern = new RegExp(excludePattern("ûû (a.b)"));
    assert.ok(pattern.test(`${encoded} (a.b)`));
    assert.ok(pattern.test(`${encoded} (a.b)/sub`));
    assert.ok(!pattern.test("&APsAAw- (a.b)"));
    assert.ok(!pattern.test(`${encoded} (axb)`));
  });
});

describe("checkUserOptions", () => {
  const managed = [
    "--password1",
    "--password2",
    "--password2=hunter2",
    "--passfile1",
    "--passfile2",
    "--oauthaccesstoken1",
    "--oauthaccesstoken2",
    "--oauthdirect1",
    "--oauthdirect2",
    "--user1",
    "--user2",
    "--authuser1",
    "--authuser2",
    "--host1",
    "--host2=x",
    "--port1",
    "--port2",
    "--ssl1",
    "--nossl2",
    "--notls1",
    "--tls2",
    "--office1",
    "--office2",
    "--log",
    "--nolog",
    "--logdir",
    "--logfile",
    "--pidfile",
    "--pidfilelocking",
    "--dockercontext",
    "--nodockercontext",
    "--no-dockercontext",
    "--showpasswords",
    "--justlogin",
    // Getopt::Long also takes one dash, any case and unambiguous abbreviations.
    "-password2",
    "--PASSWORD2",
    "--passf",
    "--oauthacc",
  ];

  for (const option of managed) {
    it(`refuses ${option}, naming where and why`, () => {
      assert.throws(
        () => checkUserOptions(["--maxage", "30", option, "value"], "users.txt line 4, column 7"),
        (error: unknown) => {
          assert.ok(error instanceof InputError);
          assert.match(error.message, /^users\.txt line 4, column 7: /);
          assert.ok(error.message.includes(option.split("=")[0] ?? option), error.message);
          assert.match(error.message, /Remove it: .+\.$/);
          return true;
        },
      );
    });
  }

  it("says what to set instead", () => {
    assert.throws(() => checkUserOptions(["--host2", "x"], "options after --"), /set HOST2/);
    assert.throws(
      () => checkUserOptions(["--authuser2", "x"], "options after --"),
      /DEST_ADMIN_USER/,
    );
  });

  it("never repeats a password given in the =form", () => {
    assert.throws(
      () => checkUserOptions(["--password2=hunter2"], "options after --"),
      (error: Error) => !error.message.includes("hunter2"),
    );
  });

  it("accepts the options left to the user, and values", () => {
    checkUserOptions(
      [
        "--maxage",
        "30",
        "--exclude",
        "^Junk$",
        "--errorsmax",
        "100",
        "--sslargs1",
        "SSL_verify_mode=1",
        "--dry",
        "--justfolders",
        "--maxbytespersecond",
        "500000",
        "--useuid",
        "--noautomap",
        "--regextrans2",
        "s/--host2//",
      ],
      "options after --",
    );
  });
});

describe("maskArgs", () => {
  it("keeps file paths and masks anything that looks like a secret value", () => {
    const args = [
      "--oauthaccesstoken1",
      "/work/token",
      "--passfile2",
      "/work/secrets/x.pass2",
      "--password2",
      "hunter2",
      "--password1=hunter1",
      "--oauthaccesstoken2",
      "eyJ0eXAiOiJKV1Qi.payload.sig",
      "--oauthdirect1=dXNlcj1h",
    ];
    const masked = maskArgs(args);
    assert.deepEqual(masked, [
      "--oauthaccesstoken1",
      "/work/token",
      "--passfile2",
      "/work/secrets/x.pass2",
      "--password2",
      "MASKED",
      "--password1=MASKED",
      "--oauthaccesstoken2",
      "MASKED",
      "--oauthdirect1=MASKED",
    ]);
  });

  it("changes nothing in the tool's own argv", () => {
    const args = build({ config: { destAdminUser: "admin@example.net" } });
    assert.deepEqual(maskArgs(args), args);
  });
});

describe("buildEnv", () => {
  it("gives imapsync a non-secret password1 so that it never prompts, and nothing else", () => {
    const env = buildEnv();
    assert.deepEqual(Object.keys(env), ["IMAPSYNC_PASSWORD1"]);
    assert.ok((env.IMAPSYNC_PASSWORD1 ?? "").length > 0);
    assert.equal(buildEnv().IMAPSYNC_PASSWORD1, env.IMAPSYNC_PASSWORD1, "fixed, not random");
  });
});
