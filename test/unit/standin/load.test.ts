// The stand-in's load-test settings: a delay per command, equal mailboxes, and throttling that
// depends on the rate of all sessions together (as Exchange Online's does). Each is off by default.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { connect, type Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import { ImapFlow } from "imapflow";
import { dovecotMissing } from "../../../scripts/standin/dovecot.js";
import { RateMeter } from "../../../scripts/standin/front.js";
import { EQUAL_SEED } from "../../../scripts/standin/seed.js";
import { ADMIN, startStandin, type Standin } from "../../../scripts/standin/standin.js";
import { tempDir } from "../../helpers/env.js";

const missing = dovecotMissing();

describe("RateMeter", () => {
  it("counts the commands of the last second only", () => {
    let now = 10_000;
    const meter = new RateMeter(() => now);
    for (let i = 0; i < 5; i++) assert.equal(meter.add(), i + 1);
    now += 500;
    assert.equal(meter.add(), 6);
    now += 600; // the first five are now more than a second old
    assert.equal(meter.perSecond(), 1);
    now += 5000;
    assert.equal(meter.perSecond(), 0);
  });
});

/** One IMAP session: a command and its reply, or several written at once (pipelined). */
async function session(port: number, user: string, token: string) {
  const socket: Socket = connect(port, "127.0.0.1");
  let text = "";
  socket.on("data", (d: Buffer) => (text += d.toString("utf8")));
  /** Every tagged reply of `tags` (in any order: the front answers some itself, relays others). */
  const reply = async (...tags: string[]) => {
    // Only ends a hang: a loaded machine can take seconds to answer.
    const deadline = Date.now() + 60_000;
    while (!tags.every((tag) => new RegExp(`(^|\\r\\n)${tag} `).test(text))) {
      if (Date.now() > deadline) throw new Error(`no reply to ${tags.join(", ")}; got ${text}`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const out = text;
    text = "";
    return out;
  };
  const cmd = (tag: string, line: string) => {
    socket.write(`${tag} ${line}\r\n`);
    return reply(tag);
  };
  /** Writes every command in one go, then waits for all their replies. */
  const batch = (commands: [tag: string, line: string][]) => {
    socket.write(commands.map(([tag, line]) => `${tag} ${line}\r\n`).join(""));
    return reply(...commands.map(([tag]) => tag));
  };
  const sasl = Buffer.from(`user=${user}\x01auth=Bearer ${token}\x01\x01`).toString("base64");
  assert.match(await cmd("a0", `AUTHENTICATE XOAUTH2 ${sasl}`), /a0 OK/);
  return { cmd, batch, close: () => socket.destroy() };
}

describe("stand-in load settings", { skip: missing }, () => {
  let s: Standin;
  let dir: string;
  before(async () => {
    dir = await tempDir("standin-load-");
    s = await startStandin({ dir, bigCount: 10, equal: { count: 3 } });
  });
  after(() => s?.stop());

  it("equal mailboxes: same folders and counts, delegated to the admin, listed alone", async () => {
    const names = ["equal01@contoso.test", "equal02@contoso.test", "equal03@contoso.test"];
    assert.deepEqual(
      s.mailboxes.filter((m) => m.startsWith("equal")),
      names,
    );
    const csv = await readFile(s.equalUsersFile!, "utf8");
    assert.deepEqual(
      csv.trim().split("\n").slice(1),
      names.map((m) => `${m},,,secrets/${m}.pass`),
    );
    const token = await s.oauth.mint({ upn: ADMIN });
    for (const user of names) {
      const imap = new ImapFlow({
        host: "127.0.0.1",
        port: s.ports.front,
        secure: false,
        auth: { user, accessToken: token },
        logger: false,
      });
      await imap.connect();
      try {
        const counts: Record<string, number> = {};
        for (const f of await imap.list())
          counts[f.path] =
            ((await imap.status(f.path, { messages: true })) || undefined)?.messages ?? -1;
        assert.deepEqual(counts, EQUAL_SEED, user);
      } finally {
        await imap.logout();
      }
    }
  });

  it("a delay before every command, changeable while running", async () => {
    const token = await s.oauth.mint({ upn: ADMIN });
    const imap = await session(s.ports.front, "equal01@contoso.test", token);
    try {
      const timed = async () => {
        const start = performance.now();
        for (let i = 0; i < 5; i++) await imap.cmd(`n${i}`, "NOOP");
        return performance.now() - start;
      };
      s.front.setCommandDelay(400);
      const slow = await timed();
      assert.ok(slow >= 2000, `5 commands with a 400 ms delay took ${slow.toFixed(0)} ms`);
      s.front.setCommandDelay(0);
      const fast = await timed();
      // Half the delays gone at least: the round trips themselves vary on a loaded machine.
      assert.ok(fast < slow - 1000, `without delay ${fast.toFixed(0)} ms, with ${slow.toFixed(0)}`);
    } finally {
      imap.close();
    }
  });

  it("over the rate of all sessions together FETCH is throttled with the set backoff, under it not", async () => {
    const token = await s.oauth.mint({ upn: ADMIN });
    const a = await session(s.ports.front, "equal01@contoso.test", token);
    const b = await session(s.ports.front, "equal02@contoso.test", token);
    try {
      await a.cmd("s1", "SELECT INBOX");
      await b.cmd("s1", "SELECT INBOX");
      // Let the logins and selects leave the one-second window before the limit applies.
      await new Promise((resolve) => setTimeout(resolve, 1100));
      s.front.setLoad({ commandsPerSecond: 10, backoffMs: 1500 });
      assert.match(await a.cmd("f1", "UID FETCH 1 (FLAGS)"), /f1 OK/);
      // Neither session alone goes over 10 a second; together they do. Each session's commands
      // are written at once, so that they fall into one second however slowly the machine answers.
      const noops = (n: number) =>
        Array.from({ length: n }, (_, i): [string, string] => [`n${i}`, "NOOP"]);
      assert.match(await a.batch(noops(6)), /n5 OK/);
      const throttled = "NO Request is throttled. Suggested Backoff Time: 1500 milliseconds";
      const second = await b.batch([...noops(4), ["f2", "UID FETCH 1 (FLAGS)"]]);
      assert.match(second, new RegExp(`(^|\r\n)f2 ${throttled}\r\n`));
      assert.equal(second.match(/ OK NOOP/g)?.length, 4, second);
      assert.match(await a.cmd("n9", "NOOP"), /n9 OK/, "only FETCH/APPEND are refused");
      assert.equal(s.front.throttledReplies(), 1);
      await new Promise((resolve) => setTimeout(resolve, 1100));
      assert.match(await b.cmd("f3", "UID FETCH 1 (FLAGS)"), /f3 OK/, "the rate went down");
    } finally {
      s.front.setLoad(undefined);
      a.close();
      b.close();
    }
  });
});
