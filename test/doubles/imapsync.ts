#!/usr/bin/env node
/**
 * A stand-in for imapsync 2.229 that replays REAL recorded logs (fixtures/imapsync-2.229-m365,
 * fixtures/imapsync-2.229, -standin, -throttle and -verify) and ends with their real exit codes. The outcome follows from the
 * inputs, as with the real program: argv (parsed with imapsync's own option table), the token
 * file (a JWT: `upn` and `exp` are read, not verified), the destination password (--passfile2,
 * --password2 or IMAPSYNC_PASSWORD2) and a "world" JSON file named by IMAPSYNC_DOUBLE_WORLD that
 * plays the servers:
 *
 *   { fixturesDir?, stateDir, delegations: { "<admin upn>": ["<mailbox>", ...] },
 *     passwords: { "<user2 or authuser2>": "<password>" }, quota?: ["<mailbox>"],
 *     throttle?: { "<mailbox>": <first N sync attempts throttled> }, linesPerSecond?: number,
 *     throttleWindow?: { "<mailbox>": { productive, windowMs?, refusedRuns?, fromStart? } }
 *       (see windowOutcome),
 *     stall?: { "<mailbox>": <lines printed before the run hangs> },
 *     together?: <runs that must have begun before any replay prints its first line>,
 *     verify?: { "<mailbox>": "<fixtures/imapsync-2.229-verify file its folder sizes replay>" },
 *     destinationLogin?: true }
 *
 * With `destinationLogin`, the destination password is not looked up in `passwords`: it is tried
 * for real, by an IMAP LOGIN at --host2/--port2 (plain TCP), as imapsync's login would (the image
 * test's demo, against the stand-in's destination Dovecot).
 *
 * Like imapsync it writes `PID\nlogfile` to --pidfile, stops at the abort file `<pidfile>abort<PID>`
 * (exit 7), dies of SIGTERM after printing its statistics, reconnects on a single SIGINT, and
 * prompts for password1 when none is given (and hangs on that prompt if stdin is an open pipe).
 * Every invocation is appended to `<stateDir>/calls.jsonl` (argv, /proc cmdline, secret-looking
 * environment, passfile modes, stdin kind, outcome) so tests can assert on what it was given, and
 * its start to `<stateDir>/starts.jsonl` at once (a run that never ends still shows). Like Perl's
 * imapsync (default SIGPIPE), it dies at its next line when its reader is gone (outcome
 * `orphaned`).
 * Not simulated: --pidfilelocking, the Docker context (beyond INT exiting), log files.
 */
import {
  appendFileSync,
  existsSync,
  fstatSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { connect } from "node:net";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { decodeJwt } from "jose";
import type { World as WorldState } from "../helpers/imapsync-world.js";
import { modelScript, type ModelScript } from "./mailbox-model.js";

// ---------------------------------------------------------------------------------------------
// Command line, as Getopt::Long reads it with imapsync 2.229's option table (copied from its
// source): `!` negatable flag, `=s` string, `=i` integer, `=f` number, `@`/`%` repeatable.

const OPTION_TABLE = `debug! debuglist! debugcontent! debugsleep=f debugflags! debugimap! debugimap1!
debugimap2! debugdev! debugmemory! debugfolders! debugssl=i debugcgi! debugenv! debugsig! debuglabels!
simulong=f abort abortbyfile host1=s host2=s port1=i port2=i inet4|ipv4 inet6|ipv6 user1=s user2=s
gmail1 gmail2 office1 office2 exchange1 exchange2 domino1 domino2 domain1=s domain2=s password1=s
password2=s passfile1=s passfile2=s authmd5! authmd51! authmd52! trylogin! oauthdirect1=s
oauthdirect2=s oauthaccesstoken1=s oauthaccesstoken2=s sep1=s sep2=s sanitize! folder=s@ folderrec=s
include=s exclude=s noexclude folderfirst=s folderlast=s prefix1=s prefix2=s subfolder1=s
subfolder2=s fixslash2! regextrans2=s@ mixfolders! skipemptyfolders! regexmess=s noregexmess
skipmess=s pipemess=s pipemesscheck! disarmreadreceipts! regexflag=s@ noregexflag filterflags!
filterbuggyflags! flagscase! syncflagsaftercopy! resyncflags! synclabels! resynclabels!
delete|delete1! delete2! delete2duplicates! delete2folders! delete2foldersonly=s
delete2foldersbutnot=s syncinternaldates! idatefromheader! syncacls! maxsize=i appendlimit=i
truncmess=i minsize=i maxage=f minage=f search=s search1=s search2=s foldersizes! foldersizesatend!
dry! dry1! expunge1|expunge! expunge2! uidexpunge2! subscribed subscribe! subscribeall|subscribe_all!
justbanner! justfolders! justfoldersizes! version help timeout=f timeout1=f timeout2=f skipheader=s
useheader=s wholeheaderifneeded! messageidnodomain! skipsize! allowsizemismatch! fastio1! fastio2!
sslcheck! ssl1! ssl2! ssl1_ssl_version=s ssl2_ssl_version=s sslargs1=s% sslargs2=s% tls1! tls2!
uid1! uid2! authmech1=s authmech2=s authuser1=s authuser2=s proxyauth1 proxyauth2 compress1!
compress2! keepalive1! keepalive2! split1=i split2=i buffersize=i reconnectretry1=i
reconnectretry2=i tests! testsdebug|tests_debug! testsunit=s@ testslive! testslive6! justlogin!
justconnect! tmpdir=s pidfile=s pidfilelocking! sigexit=s@ sigreconnect=s@ sigignore=s@
releasecheck! modulesversion|modules_version! usecache! cacheaftercopy! debugcache! useuid!
addheader! exitwhenover=i exitonload! checkselectable! checkfoldersexist! checkmessageexists!
expungeaftereach! abletosearch! abletosearch1! abletosearch2! showpasswords! maxlinelength=i
maxlinelengthcmd=s minmaxlinelength=i debugmaxlinelength! fixcolonbug! create_folder_old!
maxmessagespersecond=f maxbytespersecond=i maxbytesafter=i maxsleep=f syncduplicates!
skipcrossduplicates! debugcrossduplicates! log! tail! logfile=s logdir=s errorsmax=i errorsdump!
fetch_hash_set=s automap! justautomap! id! f1f2=s@ nof1f2 f1f2h=s% justfolderlists!
delete1emptyfolders checknoabletosearch! dockercontext!`;

type Kind = "flag" | "s" | "i" | "f";
interface OptionDef {
  key: string;
  kind: Kind;
}

/** Every spelling Getopt accepts (aliases, `no`/`no-` negations) → canonical key and kind. */
function optionSpellings(): Map<string, OptionDef> {
  const spellings = new Map<string, OptionDef>();
  for (const spec of OPTION_TABLE.split(/\s+/).filter(Boolean)) {
    const [, names = "", type = ""] = /^([\w|]+)(.*)$/.exec(spec) ?? [];
    const aliases = names.split("|");
    const key = aliases[0] ?? names;
    const kind: Kind = type.startsWith("=") ? (type[1] as Kind) : "flag";
    for (const alias of aliases) {
      spellings.set(alias, { key, kind });
      if (type === "!") {
        spellings.set(`no${alias}`, { key: `no${key}`, kind });
        spellings.set(`no-${alias}`, { key: `no${key}`, kind });
      }
    }
  }
  return spellings;
}

type Options = Map<string, string[]>;

/** Getopt::Long defaults: case ignored, one or two dashes, `=value`, unique abbreviations. */
function parseArgv(argv: string[]): { options: Options } | { usage: string } {
  const spellings = optionSpellings();
  const options: Options = new Map();
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i] ?? "";
    const match = /^--?([^=]+)(?:=(.*))?$/s.exec(word);
    if (!match) continue; // imapsync ignores leftover non-option words
    const given = (match[1] ?? "").toLowerCase();
    let def = spellings.get(given);
    if (!def) {
      const candidates = [...spellings.keys()].filter((name) => name.startsWith(given));
      const keys = new Set(candidates.map((name) => spellings.get(name)?.key));
      if (keys.size > 1) {
        return { usage: `Option ${given} is ambiguous (${candidates.sort().join(", ")})` };
      }
      def = candidates[0] === undefined ? undefined : spellings.get(candidates[0]);
    }
    if (!def) return { usage: `Unknown option: ${given}` };
    let value = match[2];
    if (def.kind !== "flag" && value === undefined) {
      value = argv[++i];
      if (value === undefined) return { usage: `Option ${given} requires an argument` };
    }
    if (def.kind === "i" && !/^-?\d+$/.test(value ?? "")) {
      return { usage: `Value "${value}" invalid for option ${given} (number expected)` };
    }
    if (def.kind === "f" && !/^-?[\d.]+$/.test(value ?? "")) {
      return { usage: `Value "${value}" invalid for option ${given} (real number expected)` };
    }
    options.set(def.key, [...(options.get(def.key) ?? []), value ?? ""]);
  }
  return { options };
}

/** imapsync's own masking (mask_password_value): the word after `-password1/2` is MASKED. */
function imapsyncMask(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i] ?? "";
    out.push(word);
    if (/-password[12]/.test(word) && i + 1 < argv.length) {
      out.push("MASKED");
      i++;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// World and inputs.

/** The world file: what the servers know, plus where fixtures and the call records live. */
type World = WorldState & { fixturesDir?: string; stateDir: string };

const worldFile = process.env.IMAPSYNC_DOUBLE_WORLD;
if (!worldFile) {
  process.stderr.write("imapsync double: set IMAPSYNC_DOUBLE_WORLD to a world JSON file\n");
  process.exit(70);
}
const world = JSON.parse(readFileSync(worldFile, "utf8")) as World;
const fixturesDir = world.fixturesDir ?? path.resolve(import.meta.dirname, "../../../fixtures");
/** Lines per second when replaying a fixture of `lineCount` lines for this run's mailbox. */
function pace(lineCount: number): number {
  // Creating or listing a modelled mailbox's folders is quick: its length is in its copies.
  const listing = has("justfolders") || has("justfoldersizes");
  const modelled = Object.keys(world.mailboxes ?? {}).some((m) => same(m, user1));
  const seconds =
    listing && modelled
      ? undefined
      : Object.entries(world.seconds ?? {}).find(([m]) => same(m, user1))?.[1];
  return seconds ? lineCount / seconds : (world.linesPerSecond ?? 20000);
}
const callsFile = path.join(world.stateDir, "calls.jsonl");
const startedAt = new Date();
appendFileSync(
  path.join(world.stateDir, "starts.jsonl"),
  `${JSON.stringify({ pid: process.pid, argv: process.argv.slice(2), start: startedAt.toISOString() })}\n`,
);

const argv = process.argv.slice(2);
const parsed = parseArgv(argv);
const opts: Options = "options" in parsed ? parsed.options : new Map();
const opt = (key: string): string | undefined => opts.get(key)?.at(-1);
const has = (key: string): boolean => opts.has(key);
const same = (a: string | undefined, b: string | undefined): boolean =>
  a !== undefined && b !== undefined && a.toLowerCase() === b.toLowerCase();

const user1 = opt("user1") ?? "";
const user2 = opt("user2") ?? user1;
const pidFile = opt("pidfile") || undefined;
const abortFile = pidFile ? `${pidFile}abort${process.pid}` : undefined;

/** imapsync reads the first line of a passfile; only the LF goes, a CR stays. */
function firstLine(file: string): string | undefined {
  try {
    return readFileSync(file, "utf8").split("\n")[0];
  } catch {
    return undefined;
  }
}

function fileMode(file: string | undefined): string | null {
  if (!file) return null;
  try {
    return (statSync(file).mode & 0o777).toString(8).padStart(4, "0");
  } catch {
    return null;
  }
}

function stdinKind(): string {
  try {
    const stat = fstatSync(0);
    if (stat.isFIFO()) return "pipe";
    if (stat.isSocket()) return "socket";
    if (stat.isCharacterDevice()) return "char";
    return stat.isFile() ? "file" : "other";
  } catch {
    return "closed";
  }
}

/** Like imapsync: a value naming a readable file means its first line, otherwise the value. */
function accessToken(): { upn?: string; exp?: number } | undefined {
  const value = opt("oauthaccesstoken1") ?? "";
  const token = (existsSync(value) ? firstLine(value) : value) ?? "";
  try {
    const claims = decodeJwt(token);
    // An app-only token names no user: delegations list the app under its client id.
    const upn = [claims.upn, claims.preferred_username, claims.unique_name, claims.appid].find(
      (claim): claim is string => typeof claim === "string",
    );
    return { upn, exp: claims.exp };
  } catch {
    return undefined;
  }
}

/** As imapsync's get_password2: the passfile wins, then the environment, then --password2. */
function password2(): string | undefined {
  const file = opt("passfile2");
  if (file !== undefined) return firstLine(file);
  return process.env.IMAPSYNC_PASSWORD2 || opt("password2");
}

/** Read once, at login, as imapsync 2.229 does: a rewritten token file is not seen. */
const token = accessToken();

/** Perl truth: an empty value counts as no password. A token does not count (2.229's bug). */
const hasPassword1 = Boolean(
  opt("password1") || opt("passfile1") || process.env.IMAPSYNC_PASSWORD1,
);

interface CallRecord {
  user1: string;
  mode: string;
  outcome: string;
  start: string;
  end: string;
}

function previousCalls(): CallRecord[] {
  if (!existsSync(callsFile)) return [];
  return readFileSync(callsFile, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as CallRecord)
    .filter((call) => same(call.user1, user1));
}

// ---------------------------------------------------------------------------------------------
// Fixtures, rewritten for this run: our PID, users, pidfile, command line and --nolog.

const M365 = "imapsync-2.229-m365";
const PLAIN = "imapsync-2.229";
const STANDIN = "imapsync-2.229-standin";
const VERIFY = "imapsync-2.229-verify";
const THROTTLE = "imapsync-2.229-throttle";

class Fixture {
  readonly lines: string[];
  private readonly pid: string;
  private readonly ppid: string;
  private readonly user1: RegExp;
  private readonly user2: RegExp;
  private readonly pidFile: string | undefined;

  /** `lines`: a modelled run's, made of a recording's lines and the model's (see modelled). */
  constructor(name: string, lines?: string[]) {
    const text = lines ? "" : readFileSync(path.join(fixturesDir, name), "utf8");
    this.lines = lines ?? (text.endsWith("\n") ? text.slice(0, -1).split("\n") : text.split("\n"));
    const find = (re: RegExp): string | undefined => {
      for (const line of this.lines) {
        const match = re.exec(line);
        if (match) return match[1];
      }
      return undefined;
    };
    const command = this.lines[this.lines.findIndex((l) => l.startsWith("Command line used")) + 1];
    const word = (re: RegExp): RegExp => {
      const value = re.exec(command ?? "")?.[1] ?? "\0";
      const escaped = value.replace(/[\\^$.*+?()[\]{}|]/g, "\\$&");
      return new RegExp(`(?<![\\w.@-])${escaped}(?![\\w@-])`, "g");
    };
    this.pid = find(/^PID is (\d+)/) ?? "\0";
    this.ppid = find(/^PID is \d+ my PPID is (\d+)/) ?? "\0";
    this.user1 = word(/--user1 (\S+)/);
    this.user2 = word(/--user2 (\S+)/);
    this.pidFile = find(/^PID file is (\S+)/);
  }

  /** The line as this run would print it, or undefined when this run would not print it. */
  render(index: number): string | undefined {
    let line = this.lines[index] ?? "";
    if (this.lines[index - 1]?.startsWith("Command line used")) {
      return `/usr/bin/imapsync ${imapsyncMask(argv).join(" ")}`;
    }
    if (has("nolog")) {
      if (line.startsWith("Writing also my logfile name")) return undefined;
      if (line.startsWith("Log file is ")) return "No log file because of option --nolog";
    }
    // Without --pidfile imapsync uses its shared default (printed only: the double never writes it).
    if (this.pidFile) line = line.split(this.pidFile).join(pidFile ?? "/tmp/imapsync.pid");
    line = line
      .replace(new RegExp(`\\b${this.pid}\\b`, "g"), String(process.pid))
      .replace(new RegExp(`PPID is ${this.ppid}\\b`, "g"), `PPID is ${process.ppid}`);
    const host2 = /host2|user2/i.test(line);
    return line.replace(host2 ? this.user2 : this.user1, () => (host2 ? user2 : user1));
  }

  /** Index of the first line matching re (after `from`), or -1. */
  indexOf(re: RegExp, from = 0): number {
    const found = this.lines.slice(from).findIndex((line) => re.test(line));
    return found < 0 ? -1 : found + from;
  }
}

// ---------------------------------------------------------------------------------------------
// What happens, decided from the inputs as the servers would.

interface Outcome {
  name: string;
  fixture: string;
  exitCode: number;
  /** A modelled mailbox's run: the lines written between the recording's login and its end. */
  script?: ModelScript;
}

function outcome(): Outcome {
  const pick = (name: string, fixture: string, exitCode: number): Outcome => ({
    name,
    fixture,
    exitCode,
  });
  for (const side of ["1", "2"]) {
    const file = opt(`passfile${side}`);
    if (file !== undefined && firstLine(file) === undefined) {
      return pick("passfile_missing", `${PLAIN}/j3_passfile2_missing.log`, 66);
    }
  }
  if (!token) return pick("auth_failed_source", `${PLAIN}/p3_oauth_token_bad.log`, 161);
  const nowMs = Date.now();
  const expMs = token.exp === undefined ? Infinity : token.exp * 1000;
  const expired = pick("token_expired", `${M365}/token_expired_midrun.log`, 115);
  if (expMs <= nowMs) return expired;

  const login2 = opt("authuser2") ?? user2;
  const expected = Object.entries(world.passwords).find(([user]) => same(user, login2))?.[1];
  const accepted = world.destinationLogin
    ? destinationAccepts
    : expected !== undefined && password2() === expected;
  if (!accepted) {
    return pick("auth_failed_destination", `${M365}/auth_failed_destination.log`, 162);
  }
  const delegated =
    same(token.upn, user1) ||
    Object.entries(world.delegations).some(
      ([admin, mailboxes]) => same(admin, token.upn) && mailboxes.some((m) => same(m, user1)),
    );
  if (!delegated) {
    // Office 365 lets the login through and fails what follows it: a login check alone passes,
    // opening the folders shows it (both recorded with the real imapsync in STANDIN).
    if (has("justlogin")) {
      return pick("not_delegated_silent", `${STANDIN}/not_delegated_justlogin_silent.log`, 0);
    }
    if (has("justfoldersizes")) {
      return pick("not_delegated", `${STANDIN}/not_delegated_justfoldersizes.log`, 0);
    }
    return pick("not_delegated", `${M365}/not_delegated_select.log`, 117);
  }
  if (has("justlogin")) return pick("ok", `${PLAIN}/d_justlogin.log`, 0);
  const model = Object.entries(world.mailboxes ?? {}).find(([m]) => same(m, user1))?.[1];
  const modelled = (mode: "sync" | "justfolders" | "justfoldersizes", fixture: string) => ({
    ...pick("ok", fixture, 0),
    script: modelScript({
      folders: model ?? [],
      only: opts.get("folder") ?? [],
      pins: opts.get("f1f2") ?? [],
      search: opt("search1"),
      mode,
      stateDir: world.stateDir,
      user2,
    }),
  });
  if (model && has("justfoldersizes")) {
    return modelled("justfoldersizes", `${STANDIN}/ok_justfoldersizes.log`);
  }
  if (has("justfoldersizes")) return folderSizesOutcome(pick);
  if (model && has("justfolders"))
    return modelled("justfolders", `${M365}/ok_xoauth2_delegated.log`);
  if (has("dry")) return pick("ok", `${PLAIN}/c_dry.log`, 0);

  if (world.quota?.some((m) => same(m, user2))) {
    return pick("quota_exceeded", `${M365}/quota_exceeded.log`, 113);
  }
  const history = previousCalls().filter((call) => call.mode === "sync");
  const windowed = Object.entries(world.throttleWindow ?? {}).find(([m]) => same(m, user1))?.[1];
  if (windowed) return windowOutcome(windowed, history, pick);
  const throttled = Object.entries(world.throttle ?? {}).find(([m]) => same(m, user1))?.[1] ?? 0;
  if (history.length < throttled) return pick("throttled", `${M365}/throttled_fetch.log`, 115);
  if (model) {
    const broken = Object.entries(world.brokenFolder ?? {}).find(([m]) => same(m, user1))?.[1];
    const folders = opts.get("folder");
    if (broken !== undefined && (!folders || folders.includes(broken))) {
      return pick("quota_exceeded", `${M365}/quota_exceeded.log`, 113);
    }
    const run = modelled("sync", `${M365}/ok_xoauth2_delegated.log`);
    const lines = run.script.body.length + 100;
    return expMs < nowMs + (lines / pace(lines)) * 1000 ? expired : run;
  }
  const ok = history.some((call) => call.outcome === "token_expired")
    ? pick("ok", `${M365}/ok_rerun_after_expiry.log`, 0)
    : pick("ok", `${M365}/ok_xoauth2_delegated.log`, 0);
  const lineCount = new Fixture(ok.fixture).lines.length;
  return expMs < nowMs + (lineCount / pace(lineCount)) * 1000 ? expired : ok;
}

/**
 * A mailbox whose budget Exchange Online keeps spending (`world.throttleWindow`), replayed from the
 * runs of fixtures/imapsync-2.229-throttle: a run copies 90 messages and is throttled, which
 * refuses the mailbox for a while (longer than the 3 s its replies suggest): for `windowMs` from
 * that run's end, or for the next `refusedRuns` runs (the same whatever the machine's speed). A
 * run inside the refusal copies nothing; after `productive` runs that copied, the next one outside
 * a refusal copies the rest and ends ok. `fromStart`: refused from the first run on.
 */
function windowOutcome(
  w: NonNullable<World["throttleWindow"]>[string],
  history: CallRecord[],
  pick: (name: string, fixture: string, code: number) => Outcome,
): Outcome {
  const last = history.map((call) => call.outcome).lastIndexOf("throttled");
  const opened = last !== -1 || w.fromStart === true;
  const since =
    last !== -1
      ? Date.parse(history[last]!.end)
      : Date.parse(history[0]?.start ?? startedAt.toISOString());
  const runsSince = history.length - 1 - last;
  const refused =
    opened &&
    ((w.windowMs !== undefined && startedAt.getTime() < since + w.windowMs) ||
      (w.refusedRuns !== undefined && runsSince < w.refusedRuns));
  if (refused) return pick("throttled_at_once", `${THROTTLE}/throttled_at_once.log`, 111);
  if (history.filter((call) => call.outcome === "throttled").length < w.productive)
    return pick("throttled", `${THROTTLE}/throttled_cut_short_first_run.log`, 115);
  return pick("ok", `${THROTTLE}/ok_after_throttling.log`, 0);
}

/**
 * A folder-size listing shows what the destination holds: the recording named for this mailbox in
 * `world.verify` (a migrated mailbox), else the preflight's (an empty destination, or one without
 * room). The exit code is the recording's own.
 */
function folderSizesOutcome(
  pick: (name: string, fixture: string, code: number) => Outcome,
): Outcome {
  const named = Object.entries(world.verify ?? {}).find(([m]) => same(m, user1))?.[1];
  const fixture = named
    ? `${VERIFY}/${named}`
    : world.quota?.some((m) => same(m, user2))
      ? `${STANDIN}/quota_too_small_justfoldersizes.log`
      : `${STANDIN}/ok_justfoldersizes.log`;
  const exiting = new Fixture(fixture).lines.find((l) => l.startsWith("Exiting with return value"));
  const code = Number(/value (\d+)/.exec(exiting ?? "")?.[1] ?? 0);
  return pick(code === 0 ? "ok" : "failed", fixture, code);
}

// ---------------------------------------------------------------------------------------------
// Replay and process control.

function print(line: string): void {
  // Straight to fd 1, like Perl's autoflushed STDOUT: process.stdout would queue on a full pipe
  // and lose the queue at process.exit. EAGAIN (a non-blocking pipe that is full) is retried.
  let rest = Buffer.from(`${line}\n`);
  while (rest.length > 0) {
    try {
      rest = rest.subarray(writeSync(1, rest));
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "EPIPE") {
        record("orphaned", undefined, { exitCode: null, signal: "SIGPIPE" });
        process.exit(141);
      }
      if (code !== "EAGAIN") throw error;
    }
  }
}

function printRange(fixture: Fixture, from: number, to = fixture.lines.length): void {
  for (let i = from; i < to; i++) {
    const line = fixture.render(i);
    if (line !== undefined) print(line);
  }
}

/** Passfile modes are taken at the start, while the caller certainly still holds the files. */
const passfiles = {
  passfile1: fileMode(opt("passfile1")),
  passfile2: fileMode(opt("passfile2")),
};
/** A pidfile found at the start was left by an earlier run (imapsync would overwrite it). */
const pidfileExisted = pidFile !== undefined && existsSync(pidFile);

function record(outcomeName: string, fixture: string | undefined, exit: object): void {
  const cmdline = readFileSync("/proc/self/cmdline", "utf8").split("\0").slice(0, -1);
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => /^IMAPSYNC_|PASS|TOKEN|SECRET/i.test(name)),
  );
  const call = {
    argv,
    cmdline,
    env,
    cwd: process.cwd(),
    pid: process.pid,
    user1,
    mode: has("justlogin")
      ? "justlogin"
      : has("justfoldersizes")
        ? "preflight"
        : has("justfolders")
          ? "justfolders"
          : has("dry")
            ? "dry"
            : "sync",
    outcome: outcomeName,
    fixture,
    ...exit,
    passfiles,
    pidfileExisted,
    stdin: stdinKind(),
    start: startedAt.toISOString(),
    end: new Date().toISOString(),
  };
  appendFileSync(callsFile, `${JSON.stringify(call)}\n`);
}

function finish(outcomeName: string, fixture: string | undefined, exitCode: number): never {
  if (pidFile) rmSync(pidFile, { force: true });
  if (abortFile) rmSync(abortFile, { force: true });
  record(outcomeName, fixture, { exitCode, signal: null });
  process.exit(exitCode);
}

let dying = false;

/** imapsync prints its statistics, then kills itself with the signal it got (k1, k3). */
function dieBySignal(signal: "SIGTERM" | "SIGINT", fixture: string): void {
  dying = true;
  const tail = new Fixture(
    signal === "SIGTERM" ? `${PLAIN}/k1_sigterm.log` : `${PLAIN}/k3_double_sigint_nondocker.log`,
  );
  const name = signal.slice(3);
  printRange(tail, tail.indexOf(new RegExp(`^Got a signal ${name} .*Asked to terminate`)));
  if (pidFile) rmSync(pidFile, { force: true });
  record("interrupted", fixture, { exitCode: null, signal });
  process.removeAllListeners(signal);
  process.kill(process.pid, signal);
}

const forever = (): Promise<never> => new Promise(() => setInterval(() => undefined, 1000));

let lastSigint = 0;
function installSignals(fixture: string): void {
  process.on("SIGTERM", () => dieBySignal("SIGTERM", fixture));
  process.on("SIGINT", () => {
    const now = Date.now();
    if (has("dockercontext") || now - lastSigint < 2000) {
      if (!has("dockercontext")) print("Got two signals INT within 2 seconds. Exiting...\n");
      return dieBySignal("SIGINT", fixture);
    }
    lastSigint = now;
    // On a plain host one INT only reconnects both sides (k2).
    const k2 = new Fixture(`${PLAIN}/k2_sigint_nondocker.log`);
    const from = k2.indexOf(/^Got a signal INT/);
    printRange(k2, from, k2.indexOf(/^Info: reconnected to both imap servers/) + 1);
  });
}

async function stdinLine(): Promise<void> {
  for await (const chunk of process.stdin) if (String(chunk).includes("\n")) break;
}

/** The prompt imapsync prints when it has no password1 (s2), placed before the host1 login. */
function promptLines(): string[] {
  const s2 = new Fixture(`${PLAIN}/s2_missing_password1_with_token.log`);
  const from = s2.indexOf(/^If you are afraid of giving password/) - 1;
  const to = s2.indexOf(/^Got it$/, from) + 1;
  const lines: string[] = [];
  for (let i = from; i < to; i++) lines.push(s2.render(i) ?? "");
  return lines;
}

/** Paths that only this run knows: our abort file, the passfile that could not be read. */
function specialise(line: string): string {
  if (abortFile && /pidabort\d+/.test(line)) return line.replace(/\S*pidabort\d+/, abortFile);
  const missing = ["passfile1", "passfile2"].find((o) => {
    const file = opt(o);
    return file !== undefined && firstLine(file) === undefined;
  });
  if (missing && line.startsWith("Failure: file from parameter --passfile")) {
    return `Failure: file from parameter --${missing} ${opt(missing)} does not exist or is not readable`;
  }
  return line;
}

/**
 * A modelled run's lines: the recording's up to its folder-size listing, the model's, then the
 * recording's end (--justfoldersizes: from its sizing time; a copy: its statistics, with the
 * model's counts, without the lines comparing whole mailboxes).
 */
function modelled(
  fixtureName: string,
  script: ModelScript,
): { lines: string[]; after: (index: number) => void } {
  const recorded = new Fixture(fixtureName);
  const listing = recorded.indexOf(/^Folders sizes before the synchronization/);
  const head = recorded.lines.slice(0, listing + 1);
  const after = (index: number) => script.effects.get(index - head.length)?.();
  if (has("justfoldersizes")) {
    const end = recorded.lines.slice(recorded.indexOf(/^Time spent on sizing/));
    return { lines: [...head, ...script.body, ...end], after };
  }
  const tail = recorded.lines
    .slice(recorded.indexOf(/^\+\+\+\+ Statistics/))
    .filter((line) => !/^(Start|Final) difference|^The sync |^There is no unidentified/.test(line))
    .map((line) =>
      line
        .replace(/^(Messages transferred\s+: )\d+/, `$1${script.transferred}`)
        .replace(
          /^(Total bytes transferred\s+: )\d+ \([\d.]+ KiB\)/,
          `$1${script.bytes} (${(script.bytes / 1024).toFixed(3)} KiB)`,
        ),
    );
  return { lines: [...head, ...script.body, ...tail], after };
}

/**
 * A barrier: waits until `count` runs other than `--version` have begun. Runs that a tool starts
 * one after the other would never get past it, whatever the machine's speed.
 */
async function othersBegun(count: number): Promise<void> {
  const begun = () =>
    readFileSync(path.join(world.stateDir, "starts.jsonl"), "utf8")
      .split("\n")
      .filter((line) => line !== "" && !line.includes('"--version"')).length;
  while (begun() < count) await sleep(20);
}

async function replay(chosen: Outcome): Promise<never> {
  const made = chosen.script && modelled(chosen.fixture, chosen.script);
  const fixture = new Fixture(chosen.fixture, made?.lines);
  installSignals(chosen.fixture);
  if (pidFile) writeFileSync(pidFile, `${process.pid}\n`);
  const stallAt = Object.entries(world.stall ?? {}).find(([m]) => same(m, user1))?.[1];
  const expiresAt = (token?.exp ?? Infinity) * 1000;
  const byeAt = chosen.name === "token_expired" ? fixture.indexOf(/AccessTokenExpired/) : -1;
  const loginAt = fixture.indexOf(/^Host1: connecting and login/);
  if (world.together) await othersBegun(world.together);
  const start = Date.now();
  for (let i = 0; i < fixture.lines.length; i++) {
    // A stalled run (hung on the network) prints nothing more and no longer sees the abort file.
    if (i === stallAt || dying) await forever();
    if (abortFile && existsSync(abortFile)) {
      const v1 = new Fixture(`${PLAIN}/v1_abortfile.log`);
      const from = v1.indexOf(/^Asked to terminate by file/);
      for (let j = from; j < v1.lines.length; j++) {
        const line = v1.render(j);
        if (line !== undefined) print(specialise(line));
      }
      finish("interrupted", chosen.fixture, 7);
    }
    if (i === loginAt && !hasPassword1) {
      for (const line of promptLines()) print(line);
      // Like Perl's <STDIN>: /dev/null answers at once, an open pipe is waited on.
      if (stdinKind() === "pipe" || stdinKind() === "socket") await stdinLine();
    }
    if (i === byeAt && expiresAt > Date.now()) await sleep(expiresAt - Date.now());
    const due = start + (i * 1000) / pace(fixture.lines.length);
    if (due - Date.now() >= 1) await sleep(due - Date.now());
    if (dying) await forever();
    const line = fixture.render(i);
    if (line !== undefined) print(specialise(line));
    made?.after(i);
  }
  finish(chosen.name, chosen.fixture, chosen.exitCode);
}

if ("usage" in parsed) {
  // Getopt's complaint is all imapsync prints for a bad option (y1).
  process.stderr.write(`${parsed.usage}\n`);
  finish("usage", undefined, 64);
}
if (has("version")) {
  print("2.229");
  finish("version", undefined, 0);
}
/** LOGIN at the destination: true when the server says OK. */
async function imapLogin(host: string, port: number, user: string, password: string) {
  const quote = (text: string) => `"${text.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
  const socket = connect({ host, port });
  socket.setEncoding("utf8");
  let text = "";
  let sent = false;
  try {
    for await (const chunk of socket) {
      text += String(chunk);
      if (!sent && /^\* OK.*\r\n/.test(text)) {
        socket.write(`a1 LOGIN ${quote(user)} ${quote(password)}\r\n`);
        sent = true;
      }
      const answer = /^a1 (OK|NO|BAD)/m.exec(text)?.[1];
      if (answer) return answer === "OK";
    }
    return false;
  } finally {
    socket.destroy();
  }
}

const destinationAccepts =
  world.destinationLogin === true &&
  (await imapLogin(
    opt("host2") ?? "127.0.0.1",
    Number(opt("port2") ?? 143),
    opt("authuser2") ?? user2,
    password2() ?? "",
  ).catch(() => false));

await replay(outcome());
