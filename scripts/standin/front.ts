// The IMAP front before the source Dovecot: what Office 365 does and Dovecot does not
// (test-environment.md §5, microsoft-365.md §6). It parses only client→server (CRLF lines, literals
// passed through unparsed) and acts at command boundaries; server→client bytes pass through raw
// once a session is authenticated.
//
//   startFront({ port?, upstreamPort, verify, isDelegated, throttle?, load?, commandDelayMs? })
//     → { port, setThrottle(), setLoad(), setCommandDelay(), stop() }
//
// * greeting and pre-authentication capabilities like Exchange Online (AUTH=PLAIN AUTH=XOAUTH2);
// * AUTHENTICATE XOAUTH2: invalid or expired token → `NO AUTHENTICATE failed.`; valid token whose
//   user may not open the mailbox in `user=` → `OK AUTHENTICATE completed.`, then every command
//   `BAD User is authenticated but not connected.`; otherwise the login goes on to Dovecot;
// * the first command after the token's `exp` → `* BYE Session invalidated - AccessTokenExpired`;
// * throttling on demand: after N matching commands, `NO Request is throttled. Suggested Backoff
//   Time: N milliseconds`, and `* BYE Connection closed. 14` after repeated errors; counted per
//   session, or per mailbox across its connections with a refusal window that outlasts the
//   suggested figure (a reconnect does not reset a mailbox's budget, as with Exchange Online);
// * throttling that depends on load, as Exchange Online's does: once the commands of all sessions
//   together exceed a rate, FETCH/APPEND get the same `NO Request is throttled` until it drops;
// * a delay before every command (a distant server: what makes parallel runs pay off);
// * basic auth (LOGIN, AUTHENTICATE PLAIN) refused, as in a tenant with basic auth disabled.
import { randomBytes } from "node:crypto";
import { connect, createServer, type Socket } from "node:net";
import { listenOnLoopback } from "./ports.js";
import type { TokenClaims } from "./oauth-server.js";

export interface ThrottleSettings {
  /** Matching commands a session may send before it is throttled. */
  afterCommands: number;
  backoffMs?: number;
  /** Throttled replies before the session is closed (Office 365: about 10). */
  byeAfterErrors?: number;
  /** Command names counted, `UID FETCH` style. Default: FETCH, UID FETCH, APPEND. */
  commands?: string[];
  /** Only sessions of these mailboxes (lower case); all when absent. */
  mailboxes?: string[];
  /**
   * Count per mailbox, across its connections: once a mailbox passed `afterCommands`, every
   * matching command of it is refused for this long (longer than `backoffMs`: the suggestion is a
   * hint), whatever it reconnects; then it counts from zero again. Absent: per session.
   */
  windowMs?: number;
}

/** Exchange Online throttles a tenant whose clients ask too much at once, not one session. */
export interface LoadThrottle {
  /** Commands per second, all sessions together, above which matching commands are refused. */
  commandsPerSecond: number;
  backoffMs?: number;
  /** Command names refused while over the rate. Default: FETCH, UID FETCH, APPEND. */
  commands?: string[];
}

export interface FrontOptions {
  port?: number;
  upstreamPort: number;
  verify(token: string): Promise<TokenClaims | undefined>;
  /** May `tokenUser` (a upn, or an app's client id) open `mailbox`? */
  isDelegated(tokenUser: string, mailbox: string): Promise<boolean>;
  throttle?: ThrottleSettings;
  load?: LoadThrottle;
  /** Milliseconds the front waits before it handles each command (0: none). */
  commandDelayMs?: number;
  /** One line per session event (never a token). */
  log?: (line: string) => void;
}

export interface Front {
  port: number;
  setThrottle(t: ThrottleSettings | undefined): void;
  setLoad(t: LoadThrottle | undefined): void;
  setCommandDelay(ms: number): void;
  /** Throttled replies sent so far, all sessions together. */
  throttledReplies(): number;
  stop(): Promise<void>;
}

export const GREETING = `* OK The Microsoft Exchange IMAP4 service is ready. [${randomBytes(24).toString("base64")}]\r\n`;
const CAPABILITY =
  "* CAPABILITY IMAP4 IMAP4rev1 AUTH=PLAIN AUTH=XOAUTH2 SASL-IR UIDPLUS ID UNSELECT CHILDREN IDLE NAMESPACE LITERAL+\r\n";
export const NOT_CONNECTED = "BAD User is authenticated but not connected.";
export const EXPIRED_BYE = "* BYE Session invalidated - AccessTokenExpired";
export const THROTTLE_BYE = "* BYE Connection closed. 14";
const DEFAULT_THROTTLED = ["FETCH", "UID FETCH", "APPEND"];
const DEFAULT_BACKOFF_MS = 299609;

/** Commands seen in the last second, in ten 100 ms buckets: constant memory at any rate. */
export class RateMeter {
  private readonly buckets = new Array<number>(10).fill(0);
  private bucketStart = 0;

  constructor(private readonly now: () => number = Date.now) {}

  private advance(): void {
    const slot = Math.floor(this.now() / 100);
    const gone = Math.min(10, slot - this.bucketStart);
    for (let i = 1; i <= gone; i++) this.buckets[(this.bucketStart + i) % 10] = 0;
    if (gone > 0) this.bucketStart = slot;
  }

  /** Counts one command; returns the commands of the last second, this one included. */
  add(): number {
    this.advance();
    this.buckets[this.bucketStart % 10]!++;
    return this.perSecond();
  }

  perSecond(): number {
    this.advance();
    return this.buckets.reduce((sum, n) => sum + n, 0);
  }
}

/** What every session of one front shares: the settings that change at run time, the load. */
interface Shared {
  throttle?: ThrottleSettings;
  load?: LoadThrottle;
  commandDelayMs: number;
  meter: RateMeter;
  throttled: number;
  /** With a refusal window: each mailbox's matching commands since its last window, and its end. */
  budgets: Map<string, { counted: number; refusedUntil: number }>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A literal announced at the end of a line: its size, and whether the client waits for `+`. */
export function literalAtEnd(line: string): { size: number; sync: boolean } | undefined {
  const m = /\{(\d+)(\+?)\}$/.exec(line);
  return m ? { size: Number(m[1]), sync: m[2] !== "+" } : undefined;
}

/** `A1 UID FETCH 1:* (FLAGS)` → { tag: "A1", name: "UID FETCH", args: ["1:*", ...] } */
export function parseCommand(line: string): { tag: string; name: string; rest: string } {
  const [tag = "", word = "", ...more] = line.split(" ");
  const upper = word.toUpperCase();
  if (upper === "UID" && more.length > 0)
    return { tag, name: `UID ${more[0]!.toUpperCase()}`, rest: more.slice(1).join(" ") };
  return { tag, name: upper, rest: more.join(" ") };
}

/** SASL XOAUTH2 initial response → user and bearer token (microsoft-365.md §4). */
export function decodeXoauth2(b64: string): { user: string; token: string } | undefined {
  const text = Buffer.from(b64, "base64").toString("utf8");
  const m = /^user=([^\x01]*)\x01auth=Bearer ([^\x01]+)\x01\x01$/.exec(text); // eslint-disable-line no-control-regex
  return m ? { user: m[1]!, token: m[2]! } : undefined;
}

type Mode = "preauth" | "passthrough" | "not-connected" | "closed";

class Session {
  private mode: Mode = "preauth";
  private line = Buffer.alloc(0);
  /** Octets of a literal still to come, and whether they go upstream or nowhere. */
  private literalLeft = 0;
  private literalForward = true;
  /** The next line continues the current command (after a literal, IDLE or a SASL challenge). */
  private continuation: "none" | "forward" | "discard" | "idle" | "sasl" = "none";
  private saslTag = "";
  private upstream?: Socket;
  private expiresAt = Infinity;
  private mailbox = "";
  private counted = 0;
  private errors = 0;
  private busy: Promise<void> = Promise.resolve();

  constructor(
    private readonly client: Socket,
    private readonly opts: FrontOptions,
    private readonly shared: Shared,
  ) {
    client.write(GREETING);
    client.on("data", (chunk: Buffer) => {
      // Commands are handled one after the other, even when one waits for Dovecot.
      this.busy = this.busy
        .then(() => this.feed(chunk))
        .catch((error: unknown) => this.fail(error));
    });
    client.on("close", () => this.close());
    client.on("error", () => this.close());
  }

  private log(text: string): void {
    this.opts.log?.(`${this.mailbox || "-"} ${text}`);
  }

  private fail(error: unknown): void {
    this.log(`error ${String(error)}`);
    this.close();
  }

  private close(): void {
    if (this.mode === "closed") return;
    this.mode = "closed";
    this.client.destroy();
    this.upstream?.destroy();
  }

  private say(text: string): void {
    if (this.mode !== "closed") this.client.write(`${text}\r\n`);
  }

  private async feed(chunk: Buffer): Promise<void> {
    let data = chunk;
    while (data.length > 0 && this.mode !== "closed") {
      if (this.literalLeft > 0) {
        const part = data.subarray(0, this.literalLeft);
        if (this.literalForward) this.upstream?.write(part);
        this.literalLeft -= part.length;
        data = data.subarray(part.length);
        continue;
      }
      const eol = data.indexOf("\r\n");
      if (eol < 0) {
        this.line = Buffer.concat([this.line, data]);
        return;
      }
      const raw = Buffer.concat([this.line, data.subarray(0, eol + 2)]);
      this.line = Buffer.alloc(0);
      data = data.subarray(eol + 2);
      await this.onLine(raw);
    }
  }

  private async onLine(raw: Buffer): Promise<void> {
    const line = raw.subarray(0, raw.length - 2).toString("utf8");
    const literal = literalAtEnd(line);
    const kind = this.continuation;
    this.continuation = "none";
    if (kind === "sasl") return this.authenticate(this.saslTag, line);
    if (kind === "forward" || kind === "idle") return this.forward(raw, literal);
    if (kind === "discard") return this.skipLiteral(literal);
    if (this.shared.commandDelayMs > 0) await sleep(this.shared.commandDelayMs);
    if (this.mode === "closed") return;
    const cmd = parseCommand(line);
    const rate = this.shared.meter.add();
    if (this.mode === "preauth") return this.preauth(cmd, literal);
    if (Date.now() >= this.expiresAt) {
      this.log("token expired: BYE");
      this.say(EXPIRED_BYE);
      this.close();
      return;
    }
    if (this.mode === "not-connected") return this.notConnected(cmd, literal);
    const backoffMs = this.throttled(cmd.name, rate);
    if (backoffMs !== undefined) {
      this.skipLiteral(literal);
      this.errors++;
      this.shared.throttled++;
      this.say(
        `${cmd.tag} NO Request is throttled. Suggested Backoff Time: ${backoffMs} milliseconds`,
      );
      if (this.errors >= (this.shared.throttle?.byeAfterErrors ?? 10)) {
        this.log("throttled too often: BYE");
        this.say(THROTTLE_BYE);
        this.close();
      }
      return;
    }
    this.forward(raw, literal);
    if (cmd.name === "IDLE") this.continuation = "idle";
  }

  private forward(raw: Buffer, literal: ReturnType<typeof literalAtEnd>): void {
    this.upstream?.write(raw);
    if (literal) {
      this.literalLeft = literal.size;
      this.literalForward = true;
      this.continuation = "forward";
    }
  }

  /** A command refused by the front: a synchronizing literal is never sent (no `+` from us). */
  private skipLiteral(literal: ReturnType<typeof literalAtEnd>): void {
    if (literal && !literal.sync) {
      this.literalLeft = literal.size;
      this.literalForward = false;
      this.continuation = "discard";
    }
  }

  /** The backoff to suggest when this command is refused, undefined when it goes through. */
  private throttled(name: string, rate: number): number | undefined {
    const load = this.shared.load;
    if (
      load &&
      rate > load.commandsPerSecond &&
      (load.commands ?? DEFAULT_THROTTLED).includes(name)
    )
      return load.backoffMs ?? DEFAULT_BACKOFF_MS;
    const t = this.shared.throttle;
    if (!t) return undefined;
    if (t.mailboxes && !t.mailboxes.includes(this.mailbox.toLowerCase())) return undefined;
    if (!(t.commands ?? DEFAULT_THROTTLED).includes(name)) return undefined;
    const backoffMs = t.backoffMs ?? DEFAULT_BACKOFF_MS;
    if (t.windowMs === undefined) {
      this.counted++;
      return this.counted > t.afterCommands ? backoffMs : undefined;
    }
    const budget = this.shared.budgets.get(this.mailbox) ?? { counted: 0, refusedUntil: 0 };
    this.shared.budgets.set(this.mailbox, budget);
    const now = Date.now();
    if (now < budget.refusedUntil) return backoffMs;
    if (++budget.counted <= t.afterCommands) return undefined;
    this.log(`throttled for ${t.windowMs} ms`);
    budget.counted = 0;
    budget.refusedUntil = now + t.windowMs;
    return backoffMs;
  }

  private notConnected(
    cmd: ReturnType<typeof parseCommand>,
    literal: ReturnType<typeof literalAtEnd>,
  ) {
    this.skipLiteral(literal);
    if (cmd.name === "LOGOUT") {
      this.say("* BYE Microsoft Exchange Server IMAP4 server signing off.");
      this.say(`${cmd.tag} OK LOGOUT completed.`);
      this.close();
      return;
    }
    this.say(`${cmd.tag} ${NOT_CONNECTED}`);
  }

  private async preauth(
    cmd: ReturnType<typeof parseCommand>,
    literal: ReturnType<typeof literalAtEnd>,
  ): Promise<void> {
    this.skipLiteral(literal);
    switch (cmd.name) {
      case "CAPABILITY":
        this.say(CAPABILITY.trimEnd());
        this.say(`${cmd.tag} OK CAPABILITY completed.`);
        return;
      case "NOOP":
      case "ID":
        this.say(`${cmd.tag} OK ${cmd.name} completed.`);
        return;
      case "LOGOUT":
        this.notConnected(cmd, undefined);
        return;
      case "LOGIN":
        this.say(`${cmd.tag} NO LOGIN failed.`);
        return;
      case "AUTHENTICATE": {
        const [mechanism = "", initial] = cmd.rest.split(" ");
        if (mechanism.toUpperCase() !== "XOAUTH2") {
          this.say(`${cmd.tag} NO AUTHENTICATE failed.`);
          return;
        }
        if (initial === undefined) {
          this.saslTag = cmd.tag;
          this.continuation = "sasl";
          this.say("+ ");
          return;
        }
        return this.authenticate(cmd.tag, initial);
      }
      default:
        this.say(`${cmd.tag} BAD Command received in Invalid state.`);
    }
  }

  private async authenticate(tag: string, b64: string): Promise<void> {
    const sasl = decodeXoauth2(b64);
    const claims = sasl && (await this.opts.verify(sasl.token));
    if (!sasl || !claims) {
      this.log("AUTHENTICATE refused: invalid or expired token");
      this.say(`${tag} NO AUTHENTICATE failed.`);
      return;
    }
    this.mailbox = sasl.user.toLowerCase();
    const tokenUser = (claims.upn ?? claims.appid).toLowerCase();
    this.expiresAt = claims.exp * 1000;
    if (tokenUser !== this.mailbox && !(await this.opts.isDelegated(tokenUser, this.mailbox))) {
      this.log(`token of ${tokenUser} not delegated: not connected`);
      this.mode = "not-connected";
      this.say(`${tag} OK AUTHENTICATE completed.`);
      return;
    }
    const ok = await this.loginUpstream(b64);
    if (this.mode === "closed") return;
    if (!ok) {
      this.log("Dovecot refused the login");
      this.say(`${tag} NO AUTHENTICATE failed.`);
      return;
    }
    this.log(`authenticated as ${tokenUser}`);
    this.mode = "passthrough";
    this.say(`${tag} OK AUTHENTICATE completed.`);
  }

  /** Opens the Dovecot session; from its tagged OK on, Dovecot's bytes flow to the client raw. */
  private loginUpstream(b64: string): Promise<boolean> {
    return new Promise((resolve) => {
      const up = connect(this.opts.upstreamPort, "127.0.0.1");
      let buffered = "";
      let greeted = false;
      const onData = (chunk: Buffer) => {
        buffered += chunk.toString("latin1");
        let eol: number;
        while ((eol = buffered.indexOf("\r\n")) >= 0) {
          const line = buffered.slice(0, eol);
          buffered = buffered.slice(eol + 2);
          if (!greeted) {
            greeted = true;
            up.write(`L AUTHENTICATE XOAUTH2 ${b64}\r\n`);
          } else if (line.startsWith("+")) {
            up.write("\r\n"); // Dovecot's JSON error challenge wants an empty answer
          } else if (line.startsWith("L ")) {
            up.off("data", onData);
            if (!line.startsWith("L OK")) {
              up.destroy();
              resolve(false);
              return;
            }
            this.upstream = up;
            up.on("data", (data: Buffer) => this.client.write(data));
            up.on("close", () => this.close());
            resolve(true);
            return;
          }
        }
      };
      up.on("data", onData);
      up.on("error", () => resolve(false));
      this.client.once("close", () => up.destroy());
    });
  }
}

export async function startFront(opts: FrontOptions): Promise<Front> {
  const shared: Shared = {
    throttle: opts.throttle,
    load: opts.load,
    commandDelayMs: opts.commandDelayMs ?? 0,
    meter: new RateMeter(),
    throttled: 0,
    budgets: new Map(),
  };
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    new Session(socket, opts, shared);
  });
  const port = await listenOnLoopback(server, opts.port);
  return {
    port,
    setThrottle: (t) => {
      shared.throttle = t;
      shared.budgets.clear();
    },
    setLoad: (t) => {
      shared.load = t;
    },
    setCommandDelay: (ms) => {
      shared.commandDelayMs = ms;
    },
    throttledReplies: () => shared.throttled,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
