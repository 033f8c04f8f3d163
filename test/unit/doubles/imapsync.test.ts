// The imapsync double must answer like imapsync would for the inputs it gets, since every test
// of the runner, the classifier wiring and the CLI trusts it.
import { ADMIN } from "../../helpers/constants.js";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { createServer, type AddressInfo } from "node:net";
import path from "node:path";
import { before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { execa, type Options } from "execa";
import { readLineBatches } from "../../../src/lines.js";
import { FIXTURES, tempDir } from "../../helpers/env.js";
import {
  doubleCalls,
  IMAPSYNC_DOUBLE,
  inSeconds,
  makeWorld,
  mintToken,
  type DoubleCall,
  type World,
  type WorldFiles,
} from "../../helpers/imapsync-world.js";

const PASSWORD = "Dest-Pa55word!";

const WORLD: World = {
  delegations: {
    [ADMIN]: [
      "carol@contoso.test",
      "dave@contoso.test",
      "erin@contoso.test",
      "frank@contoso.test",
      "gina@contoso.test",
      "hugo@contoso.test",
    ],
  },
  passwords: {
    "carol@contoso.test": PASSWORD,
    "dave@contoso.test": PASSWORD,
    "erin@contoso.test": PASSWORD,
    "frank@contoso.test": PASSWORD,
    "gina@contoso.test": PASSWORD,
    "hugo@contoso.test": PASSWORD,
    "admin@example.net": "admin-pass",
    "bob@contoso.test": PASSWORD,
  },
  quota: ["dave@contoso.test"],
  throttle: { "erin@contoso.test": 1 },
};

let dir: string;
let world: WorldFiles;

before(async () => {
  dir = await tempDir("imapsync-double-");
  world = await makeWorld(dir, WORLD);
});

async function tokenFile(claims: { upn: string; exp: number }, name = "token"): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, `${mintToken(claims)}\n`, { mode: 0o600 });
  return file;
}

async function passFile(password: string, name = "pass2"): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, `${password}\n`, { mode: 0o600 });
  return file;
}

/** The recipe's argv for one mailbox. */
async function recipe(mailbox: string, p: { token?: string; password?: string } = {}) {
  const token = p.token ?? (await tokenFile({ upn: ADMIN, exp: inSeconds(3600) }));
  return [
    "--addheader",
    "--automap",
    "--office1",
    "--oauthaccesstoken1",
    token,
    "--user1",
    mailbox,
    "--host2",
    "imap.example.net",
    "--user2",
    mailbox,
    "--passfile2",
    await passFile(p.password ?? PASSWORD),
    "--nolog",
    "--nodockercontext",
  ];
}

async function run(args: string[], options: Options = {}) {
  const result = await execa(IMAPSYNC_DOUBLE.file, [...IMAPSYNC_DOUBLE.args, ...args], {
    env: { ...world.env, IMAPSYNC_PASSWORD1: "dummy" },
    stdin: "ignore",
    reject: false,
    all: true,
    ...options,
  });
  const lines = String(result.all ?? "").split("\n");
  const calls = await doubleCalls(world.stateDir);
  return { result, lines, call: calls.at(-1) };
}

function fixtureLines(name: string): string[] {
  return readFileSync(path.join(FIXTURES, name), "utf8").trimEnd().split("\n");
}

/** The outcome is the intended fixture: same length, same ending, our PID on the exit line. */
function assertReplayed(
  out: { result: { exitCode?: number }; lines: string[]; call?: DoubleCall },
  fixture: string,
  exitCode: number,
) {
  assert.equal(out.result.exitCode, exitCode);
  const expected = fixtureLines(fixture);
  // --nolog drops "Writing also my logfile name ..." (o5).
  const dropped = expected.filter((l) => l.startsWith("Writing also my logfile name")).length;
  assert.equal(out.lines.length, expected.length - dropped);
  assert.equal(out.call?.fixture, fixture);
  const exitLine = out.lines.find((l) => l.startsWith("Exiting with return value"));
  assert.match(
    exitLine ?? "",
    new RegExp(`^Exiting with return value ${exitCode} .* PID ${out.call?.pid}$`),
  );
}

describe("imapsync double: outcomes from its inputs", () => {
  it("syncs a delegated mailbox, printing the actual mailbox and command line", async () => {
    const out = await run([...(await recipe("carol@contoso.test")), "--password2", "oops"]);
    // imapsync's get_password2 prefers --passfile2 to --password2.
    assertReplayed(out, "imapsync-2.229-m365/ok_xoauth2_delegated.log", 0);
    assert.ok(
      out.lines.includes(
        "Host1: success login on [127.0.0.1] with user [carol@contoso.test] auth [XOAUTH2 accesstoken] or [LOGIN]",
      ),
    );
    assert.ok(!out.lines.some((l) => l.includes("alice@contoso.test")), "fixture mailbox replaced");
    const command = out.lines[out.lines.indexOf("Command line used, run by /usr/bin/perl:") + 1];
    assert.match(command ?? "", /^\/usr\/bin\/imapsync --addheader .* --password2 MASKED$/);
    assert.equal(out.call?.outcome, "ok");
  });

  it("cannot select folders of a mailbox not delegated to the token's user", async () => {
    const out = await run(await recipe("bob@contoso.test"));
    assertReplayed(out, "imapsync-2.229-m365/not_delegated_select.log", 117);
    assert.ok(out.lines.some((l) => l.includes("User is authenticated but not connected")));
  });

  it("opens the token user's own mailbox without delegation", async () => {
    const token = await tokenFile({ upn: "bob@contoso.test", exp: inSeconds(3600) }, "bob-token");
    const out = await run(await recipe("bob@contoso.test", { token }));
    assert.equal(out.result.exitCode, 0);
  });

  it("refuses a wrong destination password", async () => {
    const out = await run(await recipe("carol@contoso.test", { password: "wrong" }));
    assertReplayed(out, "imapsync-2.229-m365/auth_failed_destination.log", 162);
    assert.ok(
      out.lines.some((l) =>
        l.startsWith("Host2 failure: Error login on [127.0.0.1] with user [carol@contoso.test]"),
      ),
    );
  });

  it("with destinationLogin, tries the password by a real LOGIN at --host2/--port2", async () => {
    // A destination that knows one password, and answers LOGIN as Dovecot does.
    const logins: string[] = [];
    const server = createServer((socket) => {
      socket.write("* OK [CAPABILITY IMAP4rev1] ready\r\n");
      socket.on("data", (data) => {
        const [tag, , user, password] = String(data).trim().split(" ");
        logins.push(`${user} ${password}`);
        const ok = user === '"carol@contoso.test"' && password === `"${PASSWORD}"`;
        socket.write(`${tag} ${ok ? "OK Logged in" : "NO [AUTHENTICATIONFAILED] failed"}\r\n`);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = String((server.address() as AddressInfo).port);
    try {
      await world.update({ ...WORLD, passwords: {}, destinationLogin: true });
      const at = (args: string[]) =>
        args.map((a, i) => (args[i - 1] === "--host2" ? "127.0.0.1" : a)).concat("--port2", port);
      const good = await run(at(await recipe("carol@contoso.test")));
      assertReplayed(good, "imapsync-2.229-m365/ok_xoauth2_delegated.log", 0);
      const wrong = await run(at(await recipe("carol@contoso.test", { password: "wrong" })));
      assertReplayed(wrong, "imapsync-2.229-m365/auth_failed_destination.log", 162);
      assert.deepEqual(logins, [
        `"carol@contoso.test" "${PASSWORD}"`,
        '"carol@contoso.test" "wrong"',
      ]);
    } finally {
      await world.update(WORLD);
      server.close();
    }
  });

  it("checks the password of --authuser2 when given", async () => {
    const args = await recipe("carol@contoso.test", { password: "admin-pass" });
    assert.equal((await run([...args, "--authuser2", "admin@example.net"])).result.exitCode, 0);
    assert.equal((await run(args)).result.exitCode, 162);
  });

  it("reads IMAPSYNC_PASSWORD2 when there is no passfile", async () => {
    const args = (await recipe("carol@contoso.test")).filter(
      (_, i, all) => all[i] !== "--passfile2" && all[i - 1] !== "--passfile2",
    );
    const env = { ...world.env, IMAPSYNC_PASSWORD1: "dummy" };
    assert.equal(
      (await run(args, { env: { ...env, IMAPSYNC_PASSWORD2: PASSWORD } })).result.exitCode,
      0,
    );
    assert.equal((await run(args, { env })).result.exitCode, 162);
  });

  it("fills a destination over quota", async () => {
    const out = await run(await recipe("dave@contoso.test"));
    assertReplayed(out, "imapsync-2.229-m365/quota_exceeded.log", 113);
  });

  it("throttles the first N sync attempts of a mailbox, then lets it through", async () => {
    const args = await recipe("erin@contoso.test");
    // A login check is not a sync attempt.
    assert.equal((await run([...args, "--justlogin"])).result.exitCode, 0);
    const first = await run(args);
    assertReplayed(first, "imapsync-2.229-m365/throttled_fetch.log", 115);
    assert.ok(first.lines.some((l) => l.includes("Request is throttled. Suggested Backoff Time")));
    assert.equal((await run(args)).result.exitCode, 0);
  });

  it("throttles like Exchange Online: a run that copied is refused for a while, runs inside copy nothing", async () => {
    await world.update({
      ...WORLD,
      throttleWindow: {
        "gina@contoso.test": { productive: 1, refusedRuns: 1 },
        "hugo@contoso.test": { productive: 0, windowMs: 3_600_000, fromStart: true },
      },
    });
    try {
      const args = await recipe("gina@contoso.test");
      const first = await run(args);
      assertReplayed(first, "imapsync-2.229-throttle/throttled_cut_short_first_run.log", 115);
      assert.equal(first.lines.filter((l) => / copied to /.test(l)).length, 90);
      const inside = await run(args);
      assertReplayed(inside, "imapsync-2.229-throttle/throttled_at_once.log", 111);
      assert.equal(inside.call?.outcome, "throttled_at_once");
      // The refusal is over: the rest is copied.
      assertReplayed(await run(args), "imapsync-2.229-throttle/ok_after_throttling.log", 0);
      // Refused for an hour from the first run on, a mailbox copies nothing at all.
      const hugo = await recipe("hugo@contoso.test");
      for (let i = 0; i < 2; i++)
        assertReplayed(await run(hugo), "imapsync-2.229-throttle/throttled_at_once.log", 111);
    } finally {
      await world.update(WORLD);
    }
  });

  it("replays a dry run and a login check from the plain fixtures", async () => {
    const args = await recipe("carol@contoso.test");
    assertReplayed(await run([...args, "--dry"]), "imapsync-2.229/c_dry.log", 0);
    const login = await run([...args, "--justlogin"]);
    assertReplayed(login, "imapsync-2.229/d_justlogin.log", 0);
    assert.ok(
      login.lines.includes(
        "Host1: success login on [127.0.0.1] with user [carol@contoso.test] auth [LOGIN] or [LOGIN]",
      ),
    );
  });

  it("fails a login check for a wrong password, but lets a missing delegation pass as Office 365 does", async () => {
    const wrong = await recipe("carol@contoso.test", { password: "wrong" });
    assert.equal((await run([...wrong, "--justlogin"])).result.exitCode, 162);
    const bob = await recipe("bob@contoso.test");
    const login = await run([...bob, "--justlogin"]);
    assertReplayed(login, "imapsync-2.229-standin/not_delegated_justlogin_silent.log", 0);
    const sizes = await run([...bob, "--justfoldersizes"]);
    assertReplayed(sizes, "imapsync-2.229-standin/not_delegated_justfoldersizes.log", 0);
    assert.ok(sizes.lines.some((l) => l.includes("BAD User is authenticated but not connected")));
    const carol = await run([...(await recipe("carol@contoso.test")), "--justfoldersizes"]);
    assertReplayed(carol, "imapsync-2.229-standin/ok_justfoldersizes.log", 0);
  });

  it("replays the folder sizes the world names for a migrated mailbox, with that run's exit code", async () => {
    await world.update({
      ...WORLD,
      verify: {
        "carol@contoso.test": "partly_copied_carol.log",
        "frank@contoso.test": "token_expired_at_login_big.log",
      },
    });
    try {
      const carol = await run([...(await recipe("carol@contoso.test")), "--justfoldersizes"]);
      assertReplayed(carol, "imapsync-2.229-verify/partly_copied_carol.log", 0);
      assert.ok(
        carol.lines.some((l) =>
          /^Host2 folder +2\/2 \[INBOX\] +Size: +49457 Messages: +25 /.test(l),
        ),
      );
      const frank = await run([...(await recipe("frank@contoso.test")), "--justfoldersizes"]);
      assertReplayed(frank, "imapsync-2.229-verify/token_expired_at_login_big.log", 161);
      assert.ok(
        frank.lines.some((l) => l.includes("frank@contoso.test")),
        "mailbox replaced",
      );
      // A sync is not a listing: the world's verify entry does not change it.
      assertReplayed(
        await run(await recipe("carol@contoso.test")),
        "imapsync-2.229-m365/ok_xoauth2_delegated.log",
        0,
      );
    } finally {
      await world.update(WORLD);
    }
  });

  it("fails the source login when the token is not a JWT (a literal value is sent as is)", async () => {
    const out = await run(await recipe("carol@contoso.test", { token: "TOKEN-WRONG" }));
    assertReplayed(out, "imapsync-2.229/p3_oauth_token_bad.log", 161);
  });

  it("stops at once on a missing passfile, naming it", async () => {
    const args = await recipe("carol@contoso.test");
    args[args.indexOf("--passfile2") + 1] = path.join(dir, "nope");
    const out = await run(args);
    assert.equal(out.result.exitCode, 66);
    assert.ok(
      out.lines.includes(
        `Failure: file from parameter --passfile2 ${path.join(dir, "nope")} does not exist or is not readable`,
      ),
    );
  });
});

describe("imapsync double: token expiry", () => {
  /** When the first AccessTokenExpired line arrived, read live from the double's output. */
  async function byeTime(args: string[]): Promise<{ at: number; exitCode?: number }> {
    const child = execa(IMAPSYNC_DOUBLE.file, [...IMAPSYNC_DOUBLE.args, ...args], {
      env: { ...world.env, IMAPSYNC_PASSWORD1: "dummy" },
      stdin: "ignore",
      reject: false,
    });
    let at = NaN;
    for await (const lines of readLineBatches(child.stdout)) {
      if (Number.isNaN(at) && lines.some((line) => line.includes("AccessTokenExpired"))) {
        at = Date.now();
      }
    }
    return { at, exitCode: (await child).exitCode };
  }

  it("expires mid-run when the token ends before the replay would, and a rerun resumes", async () => {
    await world.update({ ...WORLD, linesPerSecond: 500 });
    // 620 lines at 500/s outlive a token that ends within the next second.
    const short = await tokenFile({ upn: ADMIN, exp: inSeconds(1) }, "short-token");
    const expired = await run(await recipe("carol@contoso.test", { token: short }));
    assertReplayed(expired, "imapsync-2.229-m365/token_expired_midrun.log", 115);

    // The rerun (3614 lines at 1000/s) outlives a token that ends ~1.95 s from now, and its BYE
    // line (the 941st, due after 0.94 s) has to wait for the moment the token expires.
    await world.update({ ...WORLD, linesPerSecond: 1000 });
    await sleep(1000 - (Date.now() % 1000) + 50);
    const exp = inSeconds(2);
    const again = await byeTime(
      await recipe("carol@contoso.test", { token: await tokenFile({ upn: ADMIN, exp }, "t2") }),
    );
    assert.equal(again.exitCode, 115);
    assert.ok(again.at >= exp * 1000 - 5, `BYE ${exp * 1000 - again.at} ms before expiry`);

    await world.update(WORLD);
    const rerun = await run(await recipe("carol@contoso.test"));
    assertReplayed(rerun, "imapsync-2.229-m365/ok_rerun_after_expiry.log", 0);
  });

  it("expires at once with a token that has already expired", async () => {
    const token = await tokenFile({ upn: ADMIN, exp: inSeconds(-60) }, "old-token");
    const out = await run(await recipe("dave@contoso.test", { token }));
    assert.equal(out.result.exitCode, 115);
    assert.equal(out.call?.outcome, "token_expired");
  });
});

describe("imapsync double: command line and process", () => {
  it("rejects an unknown option like Getopt::Long (y1): one line, exit 64", async () => {
    const out = await run(["--bogus", "--user1", "x"]);
    assert.equal(out.result.exitCode, 64);
    assert.equal(out.result.stdout, "");
    assert.equal(
      out.result.stderr,
      readFileSync(path.join(FIXTURES, "imapsync-2.229/y1_unknown_option.log"), "utf8").trimEnd(),
    );
  });

  it("accepts what Getopt accepts: one dash, any case, =value, abbreviations; refuses ambiguity", async () => {
    const args = await recipe("carol@contoso.test");
    const token = args[args.indexOf("--oauthaccesstoken1") + 1] ?? "";
    const variants = [
      "-user1=carol@contoso.test",
      "--USER1",
      "carol@contoso.test",
      "--oauthaccesstoken1=" + token,
      "--justl",
    ];
    const rest = args.filter(
      (a, i) =>
        !["--user1", "--oauthaccesstoken1"].includes(a) &&
        !["--user1", "--oauthaccesstoken1"].includes(args[i - 1] ?? ""),
    );
    assert.equal((await run([...rest, ...variants])).result.exitCode, 0);
    const ambiguous = await run([...args, "--passf", "x"]);
    assert.equal(ambiguous.result.exitCode, 64);
    assert.match(String(ambiguous.result.stderr), /^Option passf is ambiguous/);
    assert.equal((await run([...args, "--port2", "abc"])).result.exitCode, 64);
  });

  it("prints --version only", async () => {
    const out = await run(["--version"]);
    assert.equal(out.result.stdout, "2.229");
  });

  it("records argv, /proc cmdline, secret-looking environment, passfile modes and stdin", async () => {
    const args = await recipe("carol@contoso.test");
    const out = await run(args, {
      env: { ...world.env, IMAPSYNC_PASSWORD1: "dummy", MY_TOKEN: "t" },
    });
    assert.deepEqual(out.call?.argv, args);
    assert.deepEqual(out.call?.cmdline.slice(-args.length), args);
    assert.deepEqual(out.call?.env, {
      IMAPSYNC_DOUBLE_WORLD: world.worldFile,
      IMAPSYNC_PASSWORD1: "dummy",
      MY_TOKEN: "t",
    });
    assert.equal(out.call?.passfiles.passfile2, "0600");
    assert.equal(out.call?.stdin, "char");
  });

  it("asks for password1 when it has none, and waits on an open stdin pipe like imapsync", async () => {
    const args = [...(await recipe("carol@contoso.test")), "--justlogin"];
    const env = { ...world.env };
    const closed = await run(args, { env });
    assert.equal(closed.result.exitCode, 0);
    assert.ok(
      closed.lines.some((l) =>
        l.startsWith("What's the password for carol@contoso.test at 127.0.0.1?"),
      ),
    );
    const withPassword = await run(args);
    assert.ok(!withPassword.lines.some((l) => l.startsWith("What's the password")));

    const child = execa(IMAPSYNC_DOUBLE.file, [...IMAPSYNC_DOUBLE.args, ...args], {
      env,
      stdin: "pipe",
      reject: false,
    });
    const hung = await Promise.race([
      child.then(() => false),
      new Promise((r) => setTimeout(r, 1000, true)),
    ]);
    assert.ok(hung, "still waiting for a password on stdin");
    child.stdin?.end("\n");
    assert.equal((await child).exitCode, 0);
  });

  it("reconnects on one SIGINT, dies of two, and of SIGTERM after its statistics", async () => {
    await world.update({ ...WORLD, linesPerSecond: 400 });
    // frank has no earlier run, so a full replay is the 620-line first sync.
    const args = await recipe("frank@contoso.test");
    const start = (extra: string[] = []) =>
      execa(IMAPSYNC_DOUBLE.file, [...IMAPSYNC_DOUBLE.args, ...args, ...extra], {
        env: { ...world.env, IMAPSYNC_PASSWORD1: "dummy" },
        stdin: "ignore",
        reject: false,
      });
    // Signals are sent once the replay is under way: before that, on a loaded machine, the
    // double may not have installed its handlers yet and would die of the default action.
    const once = (child: ReturnType<typeof start>, signals: [number, NodeJS.Signals][]) =>
      child.stdout.once("data", () => {
        for (const [ms, signal] of signals) setTimeout(() => child.kill(signal), ms);
      });
    const interrupted = start();
    once(interrupted, [[300, "SIGINT"]]);
    const sigint = await interrupted;
    assert.equal(sigint.exitCode, 0);
    assert.match(
      String(sigint.stdout),
      /\nHit 2 ctr-c within 2 seconds to exit the program\n[^]*\nInfo: reconnected to both imap servers\n/,
    );

    const twice = start();
    once(twice, [
      [200, "SIGINT"],
      [500, "SIGINT"],
    ]);
    const doubleSigint = await twice;
    assert.equal(doubleSigint.signal, "SIGINT");
    assert.match(
      String(doubleSigint.stdout),
      /\nGot two signals INT within 2 seconds\. Exiting\.\.\.\n/,
    );

    const terminated = start();
    once(terminated, [[300, "SIGTERM"]]);
    const sigterm = await terminated;
    await world.update(WORLD);
    assert.equal(sigterm.signal, "SIGTERM");
    assert.equal(sigterm.exitCode, undefined);
    const text = String(sigterm.stdout);
    assert.match(
      text,
      new RegExp(
        `\\nGot a signal TERM \\(my PID is ${terminated.pid} my PPID is \\d+\\)\\. Asked to terminate\\n\\+\\+\\+\\+ Statistics\\n`,
      ),
    );
    assert.match(text, /\nKilling myself with signal TERM\n/);
    assert.match(text, /\nExiting with return value 6 \(EXIT_BY_SIGNAL\)/);
    const calls = await doubleCalls(world.stateDir);
    assert.equal(calls.at(-1)?.signal, "SIGTERM");
  });
});
