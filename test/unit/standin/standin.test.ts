// The Microsoft 365 stand-in against a real IMAP client (imapflow) and raw IMAP: Office 365
// behaviours of the front, delegation and token expiry, throttling, quota, non-ASCII folders.
import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import { ImapFlow } from "imapflow";
import { decodeJwt } from "jose";
import { dovecotMissing, instanceDirs, masterPid } from "../../../scripts/standin/dovecot.js";
import { EXPIRED_BYE, NOT_CONNECTED, THROTTLE_BYE } from "../../../scripts/standin/front.js";
import { APP_CLIENT_ID } from "../../../scripts/standin/oauth-server.js";
import { ADMIN, startStandin, type Standin } from "../../../scripts/standin/standin.js";
import { tempDir } from "../../helpers/env.js";

const missing = dovecotMissing();
const BIG = 3000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A bare IMAP connection: send a command, get every line up to its tagged reply. */
class Raw {
  private text = "";
  private waiters: (() => void)[] = [];
  closed = false;
  private constructor(private readonly socket: Socket) {
    socket.on("data", (d: Buffer) => {
      this.text += d.toString("utf8");
      this.waiters.splice(0).forEach((w) => w());
    });
    socket.on("close", () => {
      this.closed = true;
      this.waiters.splice(0).forEach((w) => w());
    });
    socket.on("error", () => undefined); // seen as "closed"
  }
  static async open(port: number): Promise<{ raw: Raw; greeting: string }> {
    const raw = new Raw(connect(port, "127.0.0.1"));
    return { raw, greeting: await raw.until((t) => t.includes("\r\n")) };
  }
  /**
   * Waits until `done(text)` holds or the connection closed; returns and consumes the text. The
   * bound only ends a hang: a loaded machine can take seconds to answer.
   */
  async until(done: (text: string) => boolean, ms = 60_000): Promise<string> {
    const deadline = Date.now() + ms;
    while (!done(this.text) && !this.closed) {
      if (Date.now() > deadline) throw new Error(`no reply in ${ms} ms; got ${this.text}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 100);
      });
    }
    const text = this.text;
    this.text = "";
    return text;
  }
  async cmd(tag: string, line: string): Promise<string> {
    return this.send(`${tag} ${line}`, tag);
  }
  /** Sends a raw line (e.g. the answer to a `+` challenge) and waits for `tag`'s reply. */
  async send(line: string, tag: string, orChallenge = false): Promise<string> {
    this.socket.write(`${line}\r\n`);
    return this.until(
      (t) => new RegExp(`(^|\\r\\n)${tag} `).test(t) || (orChallenge && t.startsWith("+ ")),
    );
  }
  /** Resolves once the server closed the connection; throws if it stays open. */
  async closedByServer(ms = 60_000): Promise<void> {
    await this.until(() => false, ms);
  }
  close(): void {
    this.socket.destroy();
  }
}

const xoauth2 = (user: string, token: string) =>
  Buffer.from(`user=${user}\x01auth=Bearer ${token}\x01\x01`).toString("base64");

async function login(port: number, user: string, token: string) {
  const { raw } = await Raw.open(port);
  let reply = await raw.send(`a1 AUTHENTICATE XOAUTH2 ${xoauth2(user, token)}`, "a1", true);
  // Dovecot's refusal starts with a JSON challenge the client must answer with an empty line.
  if (reply.startsWith("+ ")) reply = await raw.send("", "a1");
  return { raw, reply };
}

async function count(imap: ImapFlow, folder: string): Promise<number | undefined> {
  const status = await imap.status(folder, { messages: true });
  return status ? status.messages : undefined;
}

function client(s: Standin, user: string, auth: { accessToken: string } | { pass: string }) {
  const destination = "pass" in auth;
  return new ImapFlow({
    host: "127.0.0.1",
    port: destination ? s.ports.destination : s.ports.front,
    secure: false,
    auth: { user, ...auth },
    logger: false,
  });
}

describe("Microsoft 365 stand-in", { skip: missing }, () => {
  let s: Standin;
  let dir: string;
  before(async () => {
    dir = await tempDir("standin-");
    s = await startStandin({ dir, bigCount: BIG });
  });
  after(() => s?.stop());

  it("greets and advertises like Exchange Online (XOAUTH2, no OAUTHBEARER)", async () => {
    const { raw, greeting } = await Raw.open(s.ports.front);
    try {
      assert.match(greeting, /^\* OK The Microsoft Exchange IMAP4 service is ready\. \[/);
      const caps = await raw.cmd("c1", "CAPABILITY");
      assert.match(caps, /AUTH=PLAIN AUTH=XOAUTH2/);
      assert.doesNotMatch(caps, /OAUTHBEARER/);
      assert.match(await raw.cmd("c2", 'LOGIN alice@contoso.test "x"'), /c2 NO LOGIN failed\./);
    } finally {
      raw.close();
    }
  });

  it("a delegated admin token opens alice: folders, counts, accented names in modified UTF-7", async () => {
    const token = await s.oauth.mint({ upn: ADMIN });
    const imap = client(s, "alice@contoso.test", { accessToken: token });
    await imap.connect();
    try {
      const counts: Record<string, number> = {};
      for (const f of await imap.list()) counts[f.path] = (await count(imap, f.path)) ?? -1;
      assert.equal(counts.INBOX, 120);
      assert.equal(counts["Éléments envoyés"], 12);
      assert.equal(counts["Archive/2023"], 25);
    } finally {
      await imap.logout();
    }
    const { raw, reply } = await login(s.ports.front, "alice@contoso.test", token);
    try {
      assert.match(reply, /a1 OK AUTHENTICATE completed\./);
      assert.match(await raw.cmd("a2", 'LIST "" "*"'), /"&AMk-l&AOk-ments envoy&AOk-s"/);
    } finally {
      raw.close();
    }
  });

  it("passes literals through: an APPEND via the front lands in the source", async () => {
    const imap = client(s, "alice@contoso.test", {
      accessToken: await s.oauth.mint({ upn: ADMIN }),
    });
    await imap.connect();
    try {
      const before = (await count(imap, "Drafts")) ?? 0;
      await imap.append("Drafts", "Subject: draft\r\n\r\nbody with {5}\r\n", ["\\Seen"]);
      assert.equal(await count(imap, "Drafts"), before + 1);
    } finally {
      await imap.logout();
    }
  });

  it("a mailbox not delegated to the token's user: login succeeds, then BAD not connected", async () => {
    const token = await s.oauth.mint({ upn: ADMIN });
    const { raw, reply } = await login(s.ports.front, "bob@contoso.test", token);
    try {
      assert.match(reply, /a1 OK AUTHENTICATE completed\./);
      assert.equal(await raw.cmd("a2", "SELECT INBOX"), `a2 ${NOT_CONNECTED}\r\n`);
      // A synchronizing literal is refused without `+`, so the client never sends it.
      assert.equal(await raw.cmd("a3", "APPEND INBOX {10}"), `a3 ${NOT_CONNECTED}\r\n`);
    } finally {
      raw.close();
    }
    // imapflow logs in, then gives up when its first commands (CAPABILITY, NAMESPACE) get BAD.
    const imap = client(s, "bob@contoso.test", { accessToken: token });
    await assert.rejects(imap.connect());
    imap.close();
  });

  it("delegation can be granted and revoked between logins, also for app tokens", async () => {
    const admin = await s.oauth.mint({ upn: ADMIN });
    await s.grant(ADMIN, "bob@contoso.test", true);
    try {
      const { raw } = await login(s.ports.front, "bob@contoso.test", admin);
      assert.match(await raw.cmd("a2", "SELECT INBOX"), /a2 OK/);
      raw.close();
    } finally {
      await s.grant(ADMIN, "bob@contoso.test", false);
    }
    const app = await s.oauth.mint({ appId: APP_CLIENT_ID });
    const alice = await login(s.ports.front, "alice@contoso.test", app);
    assert.match(await alice.raw.cmd("a2", "SELECT INBOX"), /a2 OK/);
    alice.raw.close();
    const bob = await login(s.ports.front, "bob@contoso.test", app);
    assert.equal(await bob.raw.cmd("a2", "SELECT INBOX"), `a2 ${NOT_CONNECTED}\r\n`);
    bob.raw.close();
  });

  it("the source Dovecot itself refuses an undelegated mailbox (passdb chain)", async () => {
    const admin = await s.oauth.mint({ upn: ADMIN });
    const direct = await login(
      s.ports.source,
      "carol@contoso.test",
      await s.oauth.mint({ appId: APP_CLIENT_ID }),
    );
    direct.raw.close();
    assert.match(direct.reply, /NO \[AUTHENTICATIONFAILED\]/);
    const delegated = await login(s.ports.source, "alice@contoso.test", admin);
    delegated.raw.close();
    assert.match(delegated.reply, /a1 OK/);
    const own = await login(
      s.ports.source,
      "bob@contoso.test",
      await s.oauth.mint({ upn: "bob@contoso.test" }),
    );
    own.raw.close();
    assert.match(own.reply, /a1 OK/);
  });

  it("refuses invalid and foreign tokens with NO AUTHENTICATE failed.", async () => {
    const bad = await login(s.ports.front, "alice@contoso.test", "not-a-token");
    bad.raw.close();
    assert.equal(bad.reply, "a1 NO AUTHENTICATE failed.\r\n");
    const imap = client(s, "alice@contoso.test", { accessToken: "not-a-token" });
    await assert.rejects(imap.connect());
    imap.close();
  });

  it("token expiry: BYE AccessTokenExpired at the next command, then the stale token is refused", async () => {
    // Long enough for the login and SELECT on a loaded machine; then wait for the exp itself.
    const token = await s.oauth.mint({ upn: ADMIN }, 10);
    const { raw, reply } = await login(s.ports.front, "alice@contoso.test", token);
    assert.match(reply, /a1 OK/);
    assert.match(await raw.cmd("a2", "SELECT INBOX"), /a2 OK/);
    await sleep(decodeJwt(token).exp! * 1000 - Date.now() + 200);
    const bye = await raw.cmd("a3", "UID FETCH 1:3 (FLAGS)");
    assert.equal(bye, `${EXPIRED_BYE}\r\n`);
    await raw.closedByServer();
    const again = await login(s.ports.front, "alice@contoso.test", token);
    again.raw.close();
    assert.equal(again.reply, "a1 NO AUTHENTICATE failed.\r\n");
  });

  it("throttles on demand, then closes the connection after repeated errors", async () => {
    s.front.setThrottle({
      afterCommands: 2,
      backoffMs: 1234,
      byeAfterErrors: 3,
      mailboxes: ["alice@contoso.test"],
    });
    try {
      const { raw } = await login(
        s.ports.front,
        "alice@contoso.test",
        await s.oauth.mint({ upn: ADMIN }),
      );
      assert.match(await raw.cmd("a2", "SELECT INBOX"), /a2 OK/);
      assert.match(await raw.cmd("a3", "UID FETCH 1 (FLAGS)"), /a3 OK/);
      assert.match(await raw.cmd("a4", "FETCH 1 (FLAGS)"), /a4 OK/);
      const throttled = "NO Request is throttled. Suggested Backoff Time: 1234 milliseconds";
      assert.equal(await raw.cmd("a5", "UID FETCH 2 (FLAGS)"), `a5 ${throttled}\r\n`);
      assert.match(await raw.cmd("a6", "NOOP"), /a6 OK/);
      assert.equal(await raw.cmd("a7", "UID FETCH 2 (FLAGS)"), `a7 ${throttled}\r\n`);
      assert.equal(
        await raw.cmd("a8", "UID FETCH 2 (FLAGS)"),
        `a8 ${throttled}\r\n${THROTTLE_BYE}\r\n`,
      );
      await raw.closedByServer();
      // Other mailboxes are not throttled.
      const carol = await login(
        s.ports.front,
        "carol@contoso.test",
        await s.oauth.mint({ upn: ADMIN }),
      );
      await carol.raw.cmd("b1", "SELECT INBOX");
      for (const tag of ["b2", "b3", "b4"])
        assert.match(await carol.raw.cmd(tag, "FETCH 1 (FLAGS)"), / OK/);
      carol.raw.close();
    } finally {
      s.front.setThrottle(undefined);
    }
  });

  it("a mailbox's refusal window holds across its connections and outlasts the figure it suggests", async () => {
    const backoffMs = 300;
    const windowMs = 3000;
    s.front.setThrottle({
      afterCommands: 2,
      backoffMs,
      windowMs,
      byeAfterErrors: 1000,
      mailboxes: ["alice@contoso.test"],
    });
    const throttled = `NO Request is throttled. Suggested Backoff Time: ${backoffMs} milliseconds`;
    const open = async () => {
      const { raw } = await login(
        s.ports.front,
        "alice@contoso.test",
        await s.oauth.mint({ upn: ADMIN }),
      );
      assert.match(await raw.cmd("s1", "SELECT INBOX"), /s1 OK/);
      return raw;
    };
    try {
      const first = await open();
      assert.match(await first.cmd("f1", "FETCH 1 (FLAGS)"), /f1 OK/);
      assert.match(await first.cmd("f2", "FETCH 2 (FLAGS)"), /f2 OK/);
      const refusedAt = Date.now();
      assert.equal(await first.cmd("f3", "FETCH 3 (FLAGS)"), `f3 ${throttled}\r\n`);
      first.close();
      // A new connection of the same mailbox is still inside the window; keep asking until the
      // window ends, as a client that ignored the suggestion would.
      const second = await open();
      const refusals: number[] = [];
      let n = 0;
      for (;;) {
        const reply = await second.cmd(`g${++n}`, "FETCH 1 (FLAGS)");
        if (!reply.includes("throttled")) break;
        refusals.push(Date.now() - refusedAt);
        await sleep(50);
      }
      const openedAfter = Date.now() - refusedAt;
      assert.ok(refusals.length > 0, "the reconnect did not reset the mailbox's budget");
      assert.ok(
        refusals.some((ms) => ms > backoffMs),
        `still refused after the suggested ${backoffMs} ms: ${refusals.join(", ")}`,
      );
      assert.ok(openedAfter >= windowMs, `the window ended after ${openedAfter} ms`);
      // Then it counts from zero again: one more command, then refused.
      assert.match(await second.cmd("h1", "FETCH 1 (FLAGS)"), /h1 OK/);
      assert.equal(await second.cmd("h2", "FETCH 1 (FLAGS)"), `h2 ${throttled}\r\n`);
      second.close();
    } finally {
      s.front.setThrottle(undefined);
    }
  });

  it("the big mailbox holds several thousand messages", async () => {
    const imap = client(s, "big@contoso.test", { accessToken: await s.oauth.mint({ upn: ADMIN }) });
    await imap.connect();
    try {
      assert.equal(await count(imap, "INBOX"), BIG);
    } finally {
      await imap.logout();
    }
  });

  it("destination: passwords, accented folders survive, carol is over quota", async () => {
    const alice = client(s, "alice@contoso.test", {
      pass: s.destinationPassword("alice@contoso.test"),
    });
    await alice.connect();
    try {
      await alice.mailboxCreate("Éléments envoyés");
      await alice.append("Éléments envoyés", "Subject: é\r\n\r\nbody\r\n");
      const names = (await alice.list()).map((f) => f.path);
      assert.ok(names.includes("Éléments envoyés"), names.join(", "));
    } finally {
      await alice.logout();
    }
    const carol = client(s, "carol@contoso.test", {
      pass: s.destinationPassword("carol@contoso.test"),
    });
    await carol.connect();
    try {
      const big = `Subject: big\r\n\r\n${"x".repeat(70_000)}\r\n`;
      await assert.rejects(
        carol.append("INBOX", big),
        (error: Error & { response?: string; responseText?: string }) =>
          /OVERQUOTA|Quota exceeded/i.test(
            `${error.message} ${error.response ?? ""} ${error.responseText ?? ""}`,
          ),
      );
    } finally {
      await carol.logout();
    }
    const wrong = client(s, "alice@contoso.test", { pass: "wrong" });
    await assert.rejects(wrong.connect());
    wrong.close();
  });
});

describe("stand-in start and stop", { skip: missing }, () => {
  it("stop ends every process it started, open sessions included", async () => {
    const dir = await tempDir("standin-stop-");
    const s = await startStandin({ dir, bigCount: 10 });
    const session = await login(
      s.ports.front,
      "alice@contoso.test",
      await s.oauth.mint({ upn: ADMIN }),
    );
    assert.match(session.reply, /a1 OK/);
    const masters = await Promise.all(
      ["source", "destination"].map((n) => masterPid(instanceDirs(dir, n))),
    );
    assert.ok(masters.every((pid) => pid !== undefined));
    await s.stop();
    for (const pid of masters)
      assert.throws(() => process.kill(pid!, 0), `dovecot ${pid} still running`);
    await session.raw.closedByServer();
    const after = await Raw.open(s.ports.front);
    assert.equal(after.greeting, "");
    assert.ok(after.raw.closed, "nothing listens any more");
  });
});

if (missing) it("stand-in tests", (t) => t.skip(missing));
