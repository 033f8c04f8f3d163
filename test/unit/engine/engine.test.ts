// The engine alone: a fake attempt runner (no imapsync), a fake token keeper, a real report store
// in a temporary folder, and a clock that runs 10 000 times faster, so hours of waits take
// milliseconds. Each retry class, token expiry mid-run, throttling, a leftover and an
// interruption.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { describe, it } from "node:test";
import type { AttemptIo, AttemptResult, AttemptRunner } from "../../../src/engine/attempt.js";
import type { Clock } from "../../../src/engine/clock.js";
import { runEngine, type EngineDeps } from "../../../src/engine/engine.js";
import { fixedLimit, type ConcurrencyLimit } from "../../../src/engine/limit.js";
import { MISSING_REMEDY, WAITING_FOR_TOKEN } from "../../../src/outcomes/remedies.js";
import { MAX_TOTAL_ATTEMPTS } from "../../../src/outcomes/retry-policy.js";
import { planAttempt, planMailboxes, type MailboxPlan } from "../../../src/plan/plan.js";
import { newReport, ReportStore } from "../../../src/report/store.js";
import { formatRemedies, formatSummary } from "../../../src/report/summary.js";
import { TokenError } from "../../../src/errors.js";
import type { StoredToken } from "../../../src/token/claims.js";
import { RUN_CLASSES, type RunClass } from "../../../src/outcomes/classes.js";
import type { Mailbox } from "../../../src/users/types.js";
import type { Progress } from "../../../src/imapsync/classification.js";
import type { FolderPair, ReportEntry } from "../../../src/report/schema.js";
import { PlainUi, type Ui } from "../../../src/view/ui.js";
import { parseFolderSizes } from "../../../src/verify/foldersizes.js";
import { sliceResult } from "../../helpers/attempts.js";
import { testConfig } from "../../helpers/config.js";
import { fixtureLines } from "../../helpers/fixture-index.js";
import { tempDir, waitFor } from "../../helpers/env.js";
import { sink } from "../../helpers/sink.js";

type TestClock = Clock & { elapsedMs(): number };

/** Less than the shortest real wait of a retry (15 s): what proves a wait was virtual. */
const REAL_WAIT_MS = 10_000;

/** Virtual time runs SPEED times faster than real time. */
const SPEED = 10_000;
function fastClock(): TestClock {
  const start = Date.now();
  const now = () => start + (Date.now() - start) * SPEED;
  return {
    now,
    setTimeout: (callback, ms) => setTimeout(callback, ms / SPEED),
    clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
    elapsedMs: () => now() - start,
  };
}

/** What one fake attempt ends with. */
interface Scripted {
  class: RunClass;
  copied?: number;
  backoffMs?: number;
  lostConnection?: boolean;
  stalled?: boolean;
  /** Runs until the engine is interrupted, then ends interrupted. */
  untilInterrupted?: boolean;
  /** The folder-size listing it prints: a file below fixtures/. */
  listing?: string;
  /** Its `Folder i/n [f1] -> [f2]` lines (default: INBOX in a first attempt). */
  folders?: FolderPair[];
  /** The classifier saw a kill (SIGKILL, a shell's "Killed"): ours when we stopped the run. */
  killed?: boolean;
  /** The progress it reports (default: 1 of 2). */
  progress?: Progress[];
}

/** A mailbox's attempts: a list played in order, or a server that decides as each one starts. */
type Script = Scripted[] | (() => Scripted);

interface FakeRun {
  plan: MailboxPlan;
  password: string | undefined;
}

/** A runner that plays each mailbox's script and records every plan it was given. */
function fakeRunner(scripts: Record<string, Script>, onStart?: (plan: MailboxPlan) => void) {
  const runs: FakeRun[] = [];
  const runner = async (plan: MailboxPlan, io: AttemptIo): Promise<AttemptResult> => {
    const script = scripts[plan.mailbox.source] ?? [];
    const attempt = {
      start: new Date().toISOString(),
      exitCode: null,
      logFile: plan.files.logFile,
    };
    await io.started?.(attempt);
    const step =
      typeof script === "function"
        ? script()
        : script[runs.filter((r) => r.plan.mailbox.source === plan.mailbox.source).length];
    runs.push({ plan, password: io.password });
    onStart?.(plan);
    for (const progress of step?.progress ?? [{ done: 1, total: 2 }]) io.progress?.(progress);
    if (step?.untilInterrupted) {
      await new Promise<void>((resolve) => {
        if (io.signal.aborted) resolve();
        io.signal.addEventListener("abort", () => resolve());
      });
    }
    const cls = step?.untilInterrupted ? "interrupted" : (step?.class ?? "ok");
    const copied = step?.copied ?? 0;
    Object.assign(attempt, {
      end: new Date().toISOString(),
      class: cls,
      messagesTransferred: copied,
    });
    const listing = step?.listing ? parseFolderSizes(fixtureLines(step.listing)) : undefined;
    return {
      attempt,
      copied,
      ...(listing ? { folderSizes: listing } : {}),
      exit: {
        code: cls === "ok" ? 0 : 11,
        signal: null,
        ...(step?.stalled ? { stalled: true } : {}),
      },
      classification: {
        class: cls,
        evidence: [],
        stats: { messagesTransferred: copied },
        folders:
          step?.folders ?? (plan.attempt === 1 ? [{ source: "INBOX", destination: "INBOX" }] : []),
        backoffMs: step?.backoffMs,
        lostConnection: step?.lostConnection ?? false,
        ...(step?.killed ? { killedFromOutside: true } : {}),
      },
    };
  };
  return { runner, runs };
}

function token(name: string): StoredToken {
  return {
    accessToken: name,
    expiresAt: new Date(Date.now() + 3_600_000),
    obtainedAt: new Date(),
    claims: {},
  };
}

/** A token keeper that hands out t1, t2... and says which token each renewal replaced. */
function fakeTokens(failWith?: TokenError) {
  let current = token("t1");
  const renewedAfter: string[] = [];
  let keepFreshStopped = false;
  return {
    renewedAfter,
    stopped: () => keepFreshStopped,
    keeper: {
      fresh: async () => {
        if (failWith) throw failWith;
        return current;
      },
      renewAfterExpiry: async (stale: StoredToken) => {
        renewedAfter.push(stale.accessToken);
        current = token(`t${renewedAfter.length + 1}`);
        return current;
      },
      keepFresh: () => () => {
        keepFreshStopped = true;
      },
    },
  };
}

function recordingUi() {
  const events: string[] = [];
  const waits: { source: string; reason: string; delayMs: number }[] = [];
  const ui: Ui = {
    info: (m) => void events.push(`info ${m}`),
    warn: (m) => void events.push(`warn ${m}`),
    attemptStarted: (s, n) => void events.push(`start ${s} ${n}`),
    progress: (s, p: Progress) => void events.push(`progress ${s} ${p.done}/${p.total}`),
    waiting: (entry, reason, delayMs) => void waits.push({ source: entry.source, reason, delayMs }),
    finished: (e: ReportEntry) => void events.push(`finished ${e.source} ${e.status}`),
    concurrency: (c) => void events.push(`concurrency ${c.from} ${c.to}`),
    close: async () => {},
  };
  return { ui, events, waits };
}

/** What the report held each time a waiting mailbox was saved (its remedy, its next try). */
function savedWhileWaiting(store: ReportStore) {
  const saved: { source: string; remedy?: string; nextAttemptAt?: string }[] = [];
  const saveEntry = store.saveEntry.bind(store);
  store.saveEntry = (entry: ReportEntry) => {
    if (entry.status === "pending" && entry.attempts.length > 0)
      saved.push({
        source: entry.source,
        remedy: entry.remedy,
        nextAttemptAt: entry.nextAttemptAt,
      });
    return saveEntry(entry);
  };
  return saved;
}

const mailbox = (name: string, extra: Partial<Mailbox> = {}): Mailbox => ({
  source: `${name}@contoso.test`,
  destination: `${name}@example.org`,
  password: `${name}-pass`,
  extraArgs: [],
  line: 2,
  ...extra,
});

async function scene(
  names: string[],
  scripts: Record<string, Script>,
  tokenKeeper = fakeTokens(),
  options: { clock?: TestClock; ui?: Ui } = {},
) {
  const workDir = await tempDir("engine-");
  const config = testConfig({ workDir, concurrency: 2, maxAttempts: 3, maxBackoffMs: 600_000 });
  const mailboxes = names.map((n) => mailbox(n));
  const store = new ReportStore(newReport("users.csv", mailboxes, undefined, new Date()), {
    json: path.join(workDir, "report.json"),
    csv: path.join(workDir, "report.csv"),
  });
  const plans = planMailboxes({ mode: "sync", mailboxes, usersFile: "users.csv", config });
  const { runner, runs } = fakeRunner(
    Object.fromEntries(Object.entries(scripts).map(([n, s]) => [`${n}@contoso.test`, s])),
  );
  const tokens = tokenKeeper;
  const recording = recordingUi();
  const { events, waits } = recording;
  const ui = options.ui ?? recording.ui;
  const clock = options.clock ?? fastClock();
  const controller = new AbortController();
  const deps: EngineDeps = {
    runAttempt: runner,
    tokens: tokens.keeper,
    store,
    ui,
    clock,
    replan: (mode, plan, entry) => planAttempt(mode, plan.mailbox, "users.csv", config, entry),
    password: async (plan) =>
      plan.password.kind === "inline" ? plan.password.password : undefined,
    limits: { ...config, concurrency: 2 },
    loginHint: "admin@contoso.test",
    stallTimeoutMs: 600_000,
    signal: controller.signal,
  };
  const entry = (name: string) => store.entry(`${name}@contoso.test`);
  return { deps, plans, runs, tokens, events, waits, clock, controller, entry, store, workDir };
}

const RETRIED: Record<RunClass, boolean> = {
  ok: false,
  not_delegated: false,
  token_expired: true,
  auth_failed_source: false,
  auth_failed_destination: false,
  connect_failed_source: true,
  connect_failed_destination: true,
  tls_failed: false,
  throttled: true,
  quota_exceeded: false,
  partial: true,
  interrupted: false,
  other: false,
  mailbox_not_enabled: false,
};

describe("engine with a fake runner: verification after the copy", () => {
  it("verifies a copy that ended ok; missing mail leaves the status ok, with its remedy", async () => {
    const s = await scene(["a", "c"], {
      a: [
        { class: "ok", copied: 5 },
        { class: "ok", listing: "imapsync-2.229-verify/complete_alice.log" },
      ],
      c: [
        { class: "ok", copied: 5 },
        { class: "ok", listing: "imapsync-2.229-verify/partly_copied_carol.log" },
      ],
    });
    await runEngine(s.plans, { ...s.deps, verifyAfterCopy: true });
    assert.deepEqual(s.runs.map((r) => `${r.plan.mailbox.source[0]}:${r.plan.mode}`).sort(), [
      "a:sync",
      "a:verify",
      "c:sync",
      "c:verify",
    ]);
    assert.equal(s.entry("a").verification?.verdict, "verified");
    assert.equal(s.entry("a").attempts.length, 1, "a verify run is not a copy attempt");
    assert.equal(s.entry("c").status, "ok");
    assert.equal(s.entry("c").verification?.verdict, "missing");
    assert.equal(s.entry("c").remedy, MISSING_REMEDY);
    assert.match(
      s.runs.find((r) => r.plan.mode === "verify")?.plan.files.logFile ?? "",
      /verify\.log$/,
    );
  });

  it("a verify run whose token expired gets a fresh token and runs again; it is never verified", async () => {
    const s = await scene(["a", "b"], {
      a: [
        { class: "ok" },
        { class: "token_expired" },
        { class: "ok", listing: "imapsync-2.229-verify/complete_alice.log" },
      ],
      // EX_OK, but the listing broke: retried like a lost connection, up to MAX_ATTEMPTS.
      b: [
        { class: "ok" },
        ...Array.from({ length: 3 }, () => ({
          class: "ok" as const,
          listing: "imapsync-2.229-verify/token_expired_during_sizing_big.log",
        })),
      ],
    });
    await runEngine(s.plans, { ...s.deps, verifyAfterCopy: true });
    assert.deepEqual(s.tokens.renewedAfter, ["t1"]);
    assert.equal(s.entry("a").verification?.verdict, "verified");
    const b = s.entry("b").verification;
    assert.equal(b?.verdict, "failed");
    assert.equal(b?.class, "other");
    assert.equal(s.runs.filter((r) => r.plan.mailbox.source.startsWith("b@")).length, 4);
    assert.equal(s.entry("b").status, "ok", "the copy's status stays");
  });
});

describe("engine with a fake runner", () => {
  it("each class: rerun when a rerun can help, final status otherwise", async () => {
    for (const cls of RUN_CLASSES) {
      const started = Date.now();
      const s = await scene(["a"], { a: [{ class: cls }, { class: "ok" }] });
      await runEngine(s.plans, s.deps);
      const expected = RETRIED[cls] ? ["1", "2"] : ["1"];
      assert.deepEqual(
        s.runs.map((r) => String(r.plan.attempt)),
        expected,
        cls,
      );
      const status =
        RETRIED[cls] || cls === "ok" ? "ok" : cls === "interrupted" ? "interrupted" : "failed";
      assert.equal(s.entry("a").status, status, cls);
      assert.equal(s.entry("a").attempts.length, expected.length, cls);
      // Waits go through the virtual clock: a real one would take 15 s or more. The bound is
      // far from what a loaded machine needs for the run itself (milliseconds).
      assert.ok(Date.now() - started < REAL_WAIT_MS, `${cls} took ${Date.now() - started} ms`);
    }
  });

  it("other is rerun only when the connection was lost, and a stalled run counts as lost", async () => {
    const s = await scene(["a", "b"], {
      a: [{ class: "other", lostConnection: true }, { class: "ok" }],
      b: [{ class: "ok", stalled: true }, { class: "ok" }],
    });
    await runEngine(s.plans, s.deps);
    assert.equal(s.runs.filter((r) => r.plan.mailbox.source.startsWith("a@")).length, 2);
    assert.equal(s.runs.filter((r) => r.plan.mailbox.source.startsWith("b@")).length, 2);
    assert.deepEqual(
      s.waits.find((w) => w.source.startsWith("b@"))?.reason,
      "the run went silent (STALL_TIMEOUT)",
    );
  });

  it("a retried mailbox gets its next plan: attempt 2, its own log, the first run's mapping pinned", async () => {
    const s = await scene(["a"], { a: [{ class: "partial" }, { class: "ok" }] });
    await runEngine(s.plans, s.deps);
    const [first, second] = s.runs.map((r) => r.plan);
    assert.equal(second?.attempt, 2);
    assert.notEqual(first?.files.logFile, second?.files.logFile);
    assert.match(second?.files.logFile ?? "", /attempt-2\.log$/);
    assert.deepEqual(second?.folders, [{ source: "INBOX", destination: "INBOX" }]);
    assert.ok(second?.argv.includes("INBOX=INBOX"), second?.argv.join(" "));
    assert.equal(s.runs[1]?.password, "a-pass");
  });

  it("a first run cut short pins every folder on the reruns, those it never reached as its listing mapped them", async () => {
    // Throttled in the third folder: no `Folder 4/4` line, but the listing before the copy names
    // Sent Items and where it goes (fixtures/imapsync-2.229-throttle).
    const reached = [
      { source: "&AMk-l&AOk-ments envoy&AOk-s", destination: "&AMk-l&AOk-ments envoy&AOk-s" },
      { source: "Archive", destination: "Archive" },
      { source: "INBOX", destination: "INBOX" },
    ];
    const s = await scene(["a"], {
      a: [
        {
          class: "throttled",
          copied: 90,
          backoffMs: 3000,
          folders: reached,
          listing: "imapsync-2.229-throttle/throttled_cut_short_first_run.log",
        },
        { class: "ok", copied: 210 },
      ],
    });
    await runEngine(s.plans, s.deps);
    assert.deepEqual(s.entry("a").folders, [
      ...reached,
      { source: "Sent Items", destination: "Sent Items" },
    ]);
    const rerun = s.runs[1]?.plan.argv ?? [];
    assert.ok(rerun.includes("Sent Items=Sent Items"), rerun.join(" "));
    assert.ok(rerun.includes("INBOX=INBOX"), rerun.join(" "));
  });

  it("token expiry mid-run: the expired token is renewed (not a fresh() of the same) and the mailbox reruns at once", async () => {
    const s = await scene(["a", "b"], {
      a: [{ class: "token_expired", copied: 40 }, { class: "ok" }],
      b: [{ class: "ok" }],
    });
    await runEngine(s.plans, s.deps);
    assert.deepEqual(s.tokens.renewedAfter, ["t1"]);
    assert.deepEqual(s.waits, [
      { source: "a@contoso.test", reason: "the access token expired", delayMs: 0 },
    ]);
    assert.equal(s.entry("a").status, "ok");
    assert.deepEqual(
      s.entry("a").attempts.map((a) => a.class),
      ["token_expired", "ok"],
    );
    assert.ok(s.tokens.stopped(), "the refresh timer is stopped at the end");
  });

  it("throttling: waits what Office 365 suggested, capped by MAX_BACKOFF, and the remedy says so", async () => {
    const s = await scene(["a", "b"], {
      a: [{ class: "throttled", backoffMs: 120_000 }, { class: "ok" }],
      b: [{ class: "throttled", backoffMs: 3_600_000 }, { class: "ok" }],
    });
    const started = Date.now();
    const saved = savedWhileWaiting(s.deps.store);
    await runEngine(s.plans, s.deps);
    assert.deepEqual(
      s.waits.map((w) => [w.source, w.delayMs]),
      [
        ["a@contoso.test", 120_000],
        ["b@contoso.test", 600_000],
      ],
    );
    const remedy = (m: string) => saved.find((w) => w.source.startsWith(m))?.remedy ?? "";
    assert.match(remedy("a@"), /the tool waits 2 minutes, as Office 365 suggested, then reruns it/);
    assert.match(
      remedy("b@"),
      /waits 10 minutes \(--max-backoff; Office 365 suggested 60 minutes\)/,
    );
    for (const m of ["a@", "b@"])
      assert.match(
        remedy(m),
        /If the tenant stays throttled, lower the concurrency, spread the migration over more hours, or ask Microsoft support for a temporary relief/,
      );
    assert.ok(s.clock.elapsedMs() >= 600_000, `virtual ${s.clock.elapsedMs()} ms`);
    assert.ok(Date.now() - started < REAL_WAIT_MS, `real ${Date.now() - started} ms`);
    assert.equal(s.entry("a").status, "ok");
    assert.equal(s.entry("b").status, "ok");
  });

  it("a leftover imapsync holds its mailbox until it ends; the others run meanwhile", async () => {
    const leftover = { pid: 4242, pidFile: "/x/run/a.pid", mailbox: "A@contoso.test" };
    let checks = 0;
    const remedies: string[] = [];
    const s = await scene(["a", "b"], { a: [{ class: "ok" }], b: [{ class: "ok" }] });
    await runEngine(s.plans, {
      ...s.deps,
      leftovers: [leftover],
      isRunning: (l) => {
        remedies.push(s.entry("a").remedy ?? "");
        return l === leftover && ++checks <= 3;
      },
    });
    assert.equal(checks, 4, "looked again until it ended");
    assert.match(remedies.at(-1) ?? "", /PID 4242.*--stop-leftovers/);
    assert.deepEqual(
      s.runs.map((r) => r.plan.mailbox.source),
      ["b@contoso.test", "a@contoso.test"],
      "b ran while a waited",
    );
    assert.equal(s.entry("a").status, "ok");
  });

  it("a run killed from outside says so; one killed by our own stop does not", async () => {
    const outside = await scene(["a"], { a: [{ class: "interrupted", killed: true }] });
    await runEngine(outside.plans, outside.deps);
    assert.equal(outside.entry("a").status, "interrupted");
    assert.match(outside.entry("a").remedy ?? "", /killed from outside, not stopped by this tool/);

    const ours = await scene(["a"], { a: [{ class: "ok", untilInterrupted: true, killed: true }] });
    const run = runEngine(ours.plans, ours.deps);
    await waitFor(() => ours.runs.length > 0, 5_000, "the run's start");
    ours.controller.abort("SIGTERM");
    await run;
    assert.equal(ours.entry("a").status, "interrupted");
    assert.match(ours.entry("a").remedy ?? "", /stopped on purpose/);
  });

  it("an interruption stops the running mailbox (interrupted, not retried) and starts nothing else", async () => {
    const s = await scene(["a", "b", "c"], { a: [{ class: "ok", untilInterrupted: true }] });
    const deps = { ...s.deps, limits: { ...s.deps.limits, concurrency: 1 } };
    const run = runEngine(s.plans, deps);
    await new Promise<void>((resolve) => {
      const poll = setInterval(() => {
        if (s.runs.length > 0) {
          clearInterval(poll);
          resolve();
        }
      }, 1);
    });
    s.controller.abort("SIGINT");
    await run;
    assert.deepEqual(
      s.runs.map((r) => r.plan.mailbox.source),
      ["a@contoso.test"],
    );
    assert.equal(s.entry("a").status, "interrupted");
    assert.equal(s.entry("b").status, "pending");
    assert.equal(s.entry("c").status, "pending");
    const saved = JSON.parse(await readFile(path.join(s.workDir, "report.json"), "utf8")) as {
      mailboxes: ReportEntry[];
    };
    assert.deepEqual(
      saved.mailboxes.map((e) => e.status),
      ["interrupted", "pending", "pending"],
      "the report on disk says so too",
    );
  });

  it("no token: nothing starts, every mailbox waits for one, the failure reaches the caller", async () => {
    const failure = new TokenError("nobody signed in");
    const s = await scene(["a", "b"], {}, fakeTokens(failure));
    await assert.rejects(runEngine(s.plans, s.deps), failure);
    assert.deepEqual(s.runs, []);
    assert.equal(s.entry("a").remedy, WAITING_FOR_TOKEN);
    assert.equal(s.entry("b").status, "pending");
  });

  it("progress and attempt starts reach the UI; the report is saved while it runs", async () => {
    const s = await scene(["a"], { a: [{ class: "ok", copied: 3 }] });
    await runEngine(s.plans, s.deps);
    assert.deepEqual(s.events, [
      "start a@contoso.test 1",
      "progress a@contoso.test 1/2",
      "finished a@contoso.test ok",
    ]);
    const saved = JSON.parse(await readFile(path.join(s.workDir, "report.json"), "utf8")) as {
      mailboxes: ReportEntry[];
    };
    assert.equal(saved.mailboxes[0]?.attempts[0]?.messagesTransferred, 3);
  });
});

/**
 * Time that moves only when a timer is due: the earliest timer fires at the next turn of the event
 * loop, and the clock then reads its due time. Hours of waits take no real time, and every time
 * the engine reads is exact however busy the machine is (an attempt itself takes no time).
 */
const VIRTUAL_START = Date.parse("2026-11-29T22:00:00.000Z");

function virtualClock(start = VIRTUAL_START): TestClock {
  let now = start;
  const timers = new Map<object, { at: number; callback: () => void }>();
  const fireEarliest = () => {
    let earliest: [object, { at: number; callback: () => void }] | undefined;
    for (const timer of timers) if (!earliest || timer[1].at < earliest[1].at) earliest = timer;
    if (!earliest) return;
    timers.delete(earliest[0]);
    now = Math.max(now, earliest[1].at);
    earliest[1].callback();
  };
  return {
    now: () => now,
    setTimeout: (callback, ms) => {
      const handle = {};
      timers.set(handle, { at: now + Math.max(0, ms), callback });
      setImmediate(fireEarliest);
      return handle;
    },
    clearTimeout: (handle) => void timers.delete(handle as object),
    elapsedMs: () => now - start,
  };
}

/**
 * One mailbox of `messages` behind Exchange Online's throttling, as the stand-in's front plays it:
 * an attempt copies up to `perAttempt` of what is missing and is then refused for `windowMs`,
 * longer than the `suggestMs` it names; an attempt that starts inside that window copies nothing.
 * Refusals may also begin before the first attempt (`refusedUntil`). Its progress is imapsync's:
 * from the top of the mailbox, what is there already counted first.
 */
interface ServerOptions {
  messages: number;
  perAttempt: number;
  windowMs: number;
  suggestMs: number;
  refusedUntil?: number;
}

function throttlingServer(clock: Clock, o: ServerOptions) {
  let there = 0;
  let refusedUntil = o.refusedUntil ?? Number.NEGATIVE_INFINITY;
  const copies: number[] = [];
  const script = (): Scripted => {
    const before = { done: there, total: o.messages };
    if (clock.now() < refusedUntil) {
      copies.push(0);
      return { class: "throttled", copied: 0, backoffMs: o.suggestMs, progress: [before] };
    }
    const copied = Math.min(o.perAttempt, o.messages - there);
    there += copied;
    copies.push(copied);
    const progress = [before, { done: there, total: o.messages }];
    if (there === o.messages) return { class: "ok", copied, progress };
    refusedUntil = clock.now() + o.windowMs;
    return { class: "throttled", copied, backoffMs: o.suggestMs, progress };
  };
  return { script, copies };
}

const HOUR = 3_600_000;
/** 300 messages copied in one go once it gets through, suggesting Exchange Online's 5 minutes. */
const ALL_AT_ONCE = { messages: 300, perAttempt: 300, windowMs: 0, suggestMs: 300_000 };

/** A scene of one mailbox `a` behind a throttling server, on a virtual clock, its live view the plain one. */
async function throttledScene(server: ServerOptions, limits: Partial<EngineDeps["limits"]> = {}) {
  const clock = virtualClock();
  const stream = sink();
  const ui = new PlainUi(["a@contoso.test"], { stream, env: {}, now: () => new Date(clock.now()) });
  const { script, copies } = throttlingServer(clock, server);
  const s = await scene(["a"], { a: script }, fakeTokens(), { clock, ui });
  const saved = savedWhileWaiting(s.deps.store);
  const run = async () => {
    await runEngine(s.plans, {
      ...s.deps,
      limits: { ...s.deps.limits, ...limits },
      // The jitter at its least: every grown wait is the doubled figure itself.
      random: () => 0,
    });
    await ui.close();
  };
  return { ...s, clock, stream, saved, run, waits: () => printedWaits(stream), copies };
}

/** The waits a plain view printed ("next try at … (in 21s)"), in order. */
function printedWaits(stream: { text(): string }): string[] {
  return [...stream.text().matchAll(/next try at \S+ \(in (\S+)\)/g)].map((m) => m[1] ?? "");
}

describe("engine: throttling is a wait, never a failure (virtual clock)", () => {
  it("throttled and productive attempts alternating end ok; --max-attempts 3 does not give it up", async () => {
    // The case of the issue: 90 messages, then refused for 4 s with a suggestion of 3 s.
    const s = await throttledScene({
      messages: 300,
      perAttempt: 90,
      windowMs: 4000,
      suggestMs: 3000,
    });
    await s.run();
    const a = s.entry("a");
    assert.equal(a.status, "ok");
    assert.deepEqual(s.copies, [90, 0, 90, 0, 90, 0, 30]);
    assert.deepEqual(
      a.attempts.map((t) => t.messagesTransferred),
      [90, 0, 90, 0, 90, 0, 30],
    );
    // 3 s after a productive attempt (still inside the 4 s window), then doubled: 6 s. A whole
    // mailbox starts each episode again from the suggestion (issue 17's rule), unlike a sliced
    // one, which starts from the wait its last episode needed (below).
    assert.deepEqual(s.waits(), ["3s", "6s", "3s", "6s", "3s", "6s"]);
    assert.equal(s.clock.elapsedMs(), 27_000);
    assert.deepEqual(
      s.saved.slice(0, 2).map((w) => w.nextAttemptAt),
      ["2026-11-29T22:00:03.000Z", "2026-11-29T22:00:09.000Z"],
    );
    assert.match(s.saved[0]?.remedy ?? "", /waits 3 seconds, as Office 365 suggested/);
    assert.match(
      s.saved[1]?.remedy ?? "",
      /waits 6 seconds \(Office 365 suggested 3 seconds, but the mailbox was throttled again right after its last wait/,
    );
    assert.match(
      s.stream.text(),
      /Z a@contoso\.test: throttled, next try at 2026-11-29T22:00:03Z \(in 3s\): Office 365 throttled the mailbox\n/,
    );
    const onDisk = await readFile(path.join(s.workDir, "report.json"), "utf8");
    assert.doesNotMatch(onDisk, /nextAttemptAt/, "no next try once it is done");
  });

  it("throttled for longer than every suggested figure: the waits grow, and it ends ok", async () => {
    // Refused from the start for 70 minutes, suggesting 5 minutes each time.
    const s = await throttledScene(
      { ...ALL_AT_ONCE, refusedUntil: VIRTUAL_START + 70 * 60_000 },
      { maxBackoffMs: HOUR },
    );
    await s.run();
    assert.equal(s.entry("a").status, "ok");
    assert.deepEqual(s.waits(), ["5m00s", "10m00s", "20m00s", "40m00s"]);
    assert.deepEqual(
      s.entry("a").attempts.map((t) => t.class),
      ["throttled", "throttled", "throttled", "throttled", "ok"],
    );
    assert.equal(s.clock.elapsedMs(), 75 * 60_000);
  });

  it("more than 50 throttled attempts still end ok, each message counted once", async () => {
    const s = await throttledScene({
      messages: 300,
      perAttempt: 10,
      windowMs: 4000,
      suggestMs: 3000,
    });
    await s.run();
    const a = s.entry("a");
    assert.equal(a.status, "ok");
    assert.ok(a.attempts.length > MAX_TOTAL_ATTEMPTS, `${a.attempts.length} attempts`);
    assert.equal(a.attempts.filter((t) => t.class === "throttled").length, 58);
    // The report, the summary and the live totals each say 300: nothing counted twice.
    const sum = a.attempts.reduce((n, t) => n + (t.messagesTransferred ?? 0), 0);
    assert.equal(sum, 300);
    assert.match(formatSummary(s.store.report)[1] ?? "", /ok\s+ok\s+59\s+300$/);
    assert.match(
      s.stream.text(),
      /totals: 1\/1 done \(1 ok, 0 failed\)[^\n]*; 300 messages,[^\n]*\n$/,
    );
  });

  it("gives up only once THROTTLE_GIVE_UP passes without a copied message, and says so", async () => {
    const s = await throttledScene(
      { ...ALL_AT_ONCE, refusedUntil: Number.POSITIVE_INFINITY },
      { throttleGiveUpMs: 2 * HOUR },
    );
    await s.run();
    const a = s.entry("a");
    assert.equal(a.status, "failed");
    assert.equal(a.class, "throttled");
    // 5 min, then 10 min (--max-backoff) each: the attempt at 125 min is the first past 2 h.
    assert.equal(s.clock.elapsedMs(), 125 * 60_000);
    assert.equal(a.attempts.length, 14);
    assert.equal(
      a.remedy,
      "Exchange Online throttled this mailbox and suggested waiting 5 minutes: run it again later " +
        "(`retry`, or `migrate --resume`), which copies only what is missing. If the tenant stays " +
        "throttled, lower the concurrency, spread the migration over more hours, or ask Microsoft " +
        "support for a temporary relief of the throttling limits. (gave up: throttled, and no " +
        "message copied for 2.1 hours (THROTTLE_GIVE_UP 2h00m))",
    );
    assert.deepEqual(formatRemedies(s.store.report), [
      "What to do:",
      `- a@contoso.test: ${a.remedy}`,
    ]);
    assert.match(
      s.stream.text(),
      /a@contoso\.test: failed \(throttled\): .*THROTTLE_GIVE_UP 2h00m/,
    );
  });

  it("a copied message starts THROTTLE_GIVE_UP's time again", async () => {
    // 10 messages an attempt, then refused for an hour: copies at 0, 75 and 150 minutes, never
    // 2 h apart, though the mailbox is throttled for more than 2 h in all.
    const s = await throttledScene(
      { messages: 30, perAttempt: 10, windowMs: HOUR, suggestMs: 300_000 },
      { throttleGiveUpMs: 2 * HOUR, maxBackoffMs: HOUR },
    );
    await s.run();
    assert.equal(s.entry("a").status, "ok");
    assert.equal(s.clock.elapsedMs(), 150 * 60_000);
    // After each copy the wait starts again from the suggestion.
    assert.deepEqual(s.waits(), [
      "5m00s",
      "10m00s",
      "20m00s",
      "40m00s",
      "5m00s",
      "10m00s",
      "20m00s",
      "40m00s",
    ]);
  });
});

/**
 * A big mailbox in four slices of 50 messages behind Exchange Online's throttling, on a virtual
 * clock: once all four run, slice s1's first attempt is refused 1 s later; the other first
 * attempts copy until they are stopped (20 messages by then). Later attempts copy what their slice
 * still misses, in 10 s. A slice of `refusedBeforeTheStop` was refused itself (its log shows the
 * refusal) just before the stop reached it. (No timer ends the others, nor refuses s1 before all have started: the
 * virtual clock jumps to the next timer while the engine saves or starts something.)
 */
function slicedThrottlingServer(clock: Clock, refusedBeforeTheStop: string[] = []) {
  const there = new Map<string, number>();
  const spans: { slice: string; start: number; end: number }[] = [];
  const copies: number[] = [];
  /** Each running first attempt, and how it would be refused. */
  const firstRuns = new Map<string, () => void>();
  /** The most attempts running at once before the mailbox was first throttled, and after. */
  const mostAtOnce = { before: 0, after: 0 };
  let running = 0;
  const runner = async (plan: MailboxPlan, io: AttemptIo): Promise<AttemptResult> => {
    const id = plan.slice!.id;
    const attempt = { start: new Date(clock.now()).toISOString(), exitCode: null, logFile: "" };
    await io.started?.(attempt);
    const start = clock.now();
    const first = !spans.some((s) => s.slice === id);
    running++;
    const phase = spans.length < 4 ? "before" : "after";
    mostAtOnce[phase] = Math.max(mostAtOnce[phase], running);
    const before = there.get(id) ?? 0;
    const [cls, copied] = await new Promise<[RunClass, number]>((resolve) => {
      if (!first) return void clock.setTimeout(() => resolve(["ok", 50 - before]), 10_000);
      if (id !== "s1") io.signal.addEventListener("abort", () => resolve(["interrupted", 20]));
      firstRuns.set(id, () => clock.setTimeout(() => resolve(["throttled", 0]), 1000));
      if (firstRuns.size === 4) firstRuns.get("s1")!();
    });
    running--;
    there.set(id, before + copied);
    copies.push(copied);
    spans.push({ slice: id, start, end: clock.now() });
    const refused = cls === "throttled" || (first && refusedBeforeTheStop.includes(id));
    return sliceResult(attempt, cls, copied, refused ? 30_000 : undefined);
  };
  return { runner, there, spans, copies, mostAtOnce };
}

/**
 * The engine on big's slices `s1`…`sN` (folders F1…FN) against a fake server: a sync replans
 * within its own slice, as migrate's replan does; no jitter.
 */
async function runSlices(
  s: Awaited<ReturnType<typeof scene>>,
  runAttempt: AttemptRunner,
  o: {
    slices: number;
    concurrency: number;
    maxSlices: number;
    maxAttempts?: number;
    verifyAfterCopy?: boolean;
    /** The limit the engine tells of each attempt (default: a fixed `concurrency`). */
    limit?: ConcurrencyLimit;
  },
): Promise<void> {
  const config = testConfig({
    workDir: s.workDir,
    concurrency: o.concurrency,
    ...(o.maxAttempts === undefined ? {} : { maxAttempts: o.maxAttempts }),
  });
  const slices = Array.from({ length: o.slices }, (_, i) => ({
    id: `s${i + 1}`,
    folders: [`F${i + 1}`],
  }));
  await runEngine([{ ...s.plans[0]!, slices }], {
    ...s.deps,
    runAttempt,
    replan: (mode, plan, entry) =>
      planAttempt(mode, plan.mailbox, "users.csv", config, entry, mode === "sync" ? plan : {}),
    limits: {
      ...s.deps.limits,
      concurrency: o.limit ?? o.concurrency,
      maxSlices: o.maxSlices,
      ...(o.maxAttempts === undefined ? {} : { maxAttempts: o.maxAttempts }),
    },
    random: () => 0,
    verifyAfterCopy: o.verifyAfterCopy ?? false,
  });
}

describe("engine: a big mailbox's slices and Exchange Online's throttling (virtual clock)", () => {
  it("one slice refused stops its running siblings: paused, not throttled nor failed; then one slice at a time", async () => {
    const clock = virtualClock();
    const s = await scene(["big"], {}, fakeTokens(), { clock });
    const server = slicedThrottlingServer(clock);
    // --max-attempts 1: a paused attempt counted as one would give its slice up.
    await runSlices(s, server.runner, { slices: 4, concurrency: 4, maxSlices: 4, maxAttempts: 1 });
    const big = s.entry("big");
    assert.equal(big.status, "ok");
    assert.deepEqual(
      big.slices?.map((slice) => [
        slice.id,
        slice.status,
        slice.attempts.map((a) => `${a.class}${a.reason ? `/${a.reason}` : ""}`),
      ]),
      [
        ["s1", "ok", ["throttled", "ok"]],
        ["s2", "ok", ["interrupted/paused", "ok"]],
        ["s3", "ok", ["interrupted/paused", "ok"]],
        ["s4", "ok", ["interrupted/paused", "ok"]],
      ],
    );
    // Every message of every slice copied once: 20 before the stop, the other 30 after.
    assert.deepEqual([...server.there.values()], [50, 50, 50, 50]);
    assert.equal(
      server.copies.reduce((a, b) => a + b, 0),
      200,
    );
    // All stopped at 1 s, when s1 was refused; none runs again before the 30 s it suggested are
    // over, and then one at a time (Exchange Online budgets the mailbox: its cap 4 → 1), 10 s each.
    assert.deepEqual(
      server.spans.slice(0, 4).map((span) => span.end - VIRTUAL_START),
      [1000, 1000, 1000, 1000],
    );
    for (const span of server.spans.slice(4)) assert.ok(span.start - VIRTUAL_START >= 31_000);
    assert.equal(server.mostAtOnce.after, 1);
    assert.equal(server.mostAtOnce.before, 4);
    assert.equal(clock.elapsedMs(), 71_000);
    // Recorded, so that retry, --resume and the next migrate run them one at a time as well.
    assert.equal(big.throttledWhileSliced, "2026-11-29T22:00:01.000Z");
  });

  it("slices that end together: the mailbox is verified once", async () => {
    const listing = "imapsync-2.229-verify/complete_alice.log";
    const s = await scene(["big"], {
      big: [{ class: "ok" }, { class: "ok" }, { class: "ok", listing }, { class: "ok", listing }],
    });
    await runSlices(s, s.deps.runAttempt, {
      slices: 2,
      concurrency: 2,
      maxSlices: 2,
      verifyAfterCopy: true,
    });
    assert.deepEqual(
      s.runs.map((r) => `${r.plan.slice?.id ?? "whole"} ${r.plan.mode}`),
      ["s1 sync", "s2 sync", "whole verify"],
    );
    assert.equal(s.entry("big").verification?.verdict, "verified");
  });

  it("a sibling refused itself before the stop reached it is a throttled attempt, not paused", async () => {
    const clock = virtualClock();
    const s = await scene(["big"], {}, fakeTokens(), { clock });
    const server = slicedThrottlingServer(clock, ["s2", "s3"]);
    // What --concurrency auto hears of each attempt.
    const heard: string[] = [];
    const limit = {
      ...fixedLimit(4),
      attemptEnded: (key: string, ended: { throttled: boolean }) =>
        void heard.push(`${key.split("#")[1]} ${ended.throttled ? "throttled" : "not throttled"}`),
    };
    await runSlices(s, server.runner, {
      slices: 4,
      concurrency: 4,
      maxSlices: 4,
      maxAttempts: 1,
      limit,
    });
    const big = s.entry("big");
    assert.equal(big.status, "ok");
    assert.deepEqual(heard.slice(0, 4).sort(), [
      "s1 throttled",
      "s2 throttled",
      "s3 throttled",
      "s4 not throttled",
    ]);
    // Their logs show the server's refusal, their exit the stop: the server saw three refusals.
    assert.deepEqual(
      big.slices?.map((slice) =>
        slice.attempts.map((a) => `${a.class}${a.reason ? `/${a.reason}` : ""}`),
      ),
      [
        ["throttled", "ok"],
        ["throttled", "ok"],
        ["throttled", "ok"],
        ["interrupted/paused", "ok"],
      ],
    );
    assert.deepEqual([...server.there.values()], [50, 50, 50, 50]);
  });
});

/**
 * Exchange Online's budget of one mailbox, whichever run spends it: after `perWindow` messages the
 * mailbox is refused for `windowMs` (longer than the `suggestMs` it names), then counts again.
 * An attempt of a slice copies what its slice misses, up to what the budget still allows.
 */
function mailboxBudgetServer(
  clock: Clock,
  o: { perSlice: number; perWindow: number; windowMs: number; suggestMs: number; later?: number },
) {
  const there = new Map<string, number>();
  let left = o.perWindow;
  let windows = 0;
  let refusedUntil = Number.NEGATIVE_INFINITY;
  const attempts: string[] = [];
  const runner = async (plan: MailboxPlan, io: AttemptIo): Promise<AttemptResult> => {
    const id = plan.slice!.id;
    const attempt = { start: new Date(clock.now()).toISOString(), exitCode: null, logFile: "" };
    await io.started?.(attempt);
    const missing = o.perSlice - (there.get(id) ?? 0);
    const open = clock.now() >= refusedUntil;
    const copied = open ? Math.min(missing, left) : 0;
    left -= copied;
    there.set(id, (there.get(id) ?? 0) + copied);
    const cls: RunClass = copied === missing ? "ok" : "throttled";
    if (cls === "throttled" && open) {
      refusedUntil = clock.now() + o.windowMs;
      // From its third window on, the mailbox may be allowed `later` messages instead.
      left = ++windows >= 2 ? (o.later ?? o.perWindow) : o.perWindow;
    }
    attempts.push(`${(clock.now() - VIRTUAL_START) / 1000}s ${id} ${copied} ${cls}`);
    return sliceResult(attempt, cls, copied, cls === "throttled" ? o.suggestMs : undefined);
  };
  return { runner, there, attempts };
}

/**
 * Exchange Online's budget of one mailbox as time goes, whichever run spends it: each running
 * attempt copies one message of its slice every `msPerMessage` (telling its progress as
 * imapsync's copy lines do) while the mailbox has budget left; the message after the
 * `perWindow`th is refused, and so is every attempt running then (each sends its next command
 * within milliseconds) and every one starting in the next `windowMs`; then the budget is whole
 * again. A stopped attempt ends at once, interrupted.
 */
function timedBudgetServer(
  clock: Clock,
  o: {
    perSlice: number;
    perWindow: number;
    windowMs: number;
    suggestMs: number;
    msPerMessage: number;
  },
) {
  const there = new Map<string, number>();
  let left = o.perWindow;
  let refusedUntil = Number.NEGATIVE_INFINITY;
  /** When the budget ran out, and how many attempts were running then (each refused). */
  const refusals: { at: number; running: number }[] = [];
  /** Attempts that started while the mailbox was refused. */
  let refusedAtStart = 0;
  const running = new Map<string, (cls: RunClass) => void>();
  const runsAtOnce: number[] = [];
  /** When each attempt that was not refused at once started. */
  const starts: number[] = [];
  const runner = async (plan: MailboxPlan, io: AttemptIo): Promise<AttemptResult> => {
    const id = plan.slice!.id;
    const attempt = { start: new Date(clock.now()).toISOString(), exitCode: null, logFile: "" };
    let copied = 0;
    // Set going before the report is saved: the virtual clock moves while the disk is written,
    // and slices started together must copy together.
    const ended = new Promise<RunClass>((resolve) => {
      if (clock.now() < refusedUntil) {
        refusedAtStart++;
        return resolve("throttled");
      }
      let timer: unknown;
      let over = false;
      const end = (c: RunClass) => {
        over = true;
        clock.clearTimeout(timer);
        running.delete(id);
        resolve(c);
      };
      running.set(id, end);
      runsAtOnce.push(running.size);
      starts.push(clock.now() - VIRTUAL_START);
      io.signal.addEventListener("abort", () => end("interrupted"), { once: true });
      const tick = () => {
        if (left === 0) {
          refusedUntil = clock.now() + o.windowMs;
          left = o.perWindow;
          refusals.push({ at: clock.now() - VIRTUAL_START, running: running.size });
          for (const stop of [...running.values()]) stop("throttled");
          return;
        }
        left--;
        copied++;
        there.set(id, (there.get(id) ?? 0) + 1);
        io.progress?.({ done: there.get(id)!, total: o.perSlice, copiedMessages: copied });
        // The progress it told may have stopped it (its mailbox near its budget).
        if (over) return;
        if (there.get(id) === o.perSlice) return end("ok");
        timer = clock.setTimeout(tick, o.msPerMessage);
      };
      if ((there.get(id) ?? 0) === o.perSlice) return end("ok");
      timer = clock.setTimeout(tick, o.msPerMessage);
    });
    await io.started?.(attempt);
    const cls = await ended;
    return sliceResult(attempt, cls, copied, cls === "throttled" ? o.suggestMs : undefined);
  };
  return { runner, there, refusals, runsAtOnce, starts, refusedAtStart: () => refusedAtStart };
}

/**
 * big's slices (one at a time) against a mailbox budget on the virtual clock, its plain view
 * recorded: `run` runs the engine to the end, `waits` reads the waits it printed.
 */
async function budgetScene(o: Parameters<typeof mailboxBudgetServer>[1], slices: number) {
  const clock = virtualClock();
  const stream = sink();
  const ui = new PlainUi(["big@contoso.test"], {
    stream,
    env: {},
    now: () => new Date(clock.now()),
  });
  const s = await scene(["big"], {}, fakeTokens(), { clock, ui });
  const server = mailboxBudgetServer(clock, o);
  const run = async () => {
    await runSlices(s, server.runner, { slices, concurrency: 1, maxSlices: 1 });
    await ui.close();
  };
  return { s, server, run, waits: () => printedWaits(stream) };
}

describe("engine: a sliced mailbox learns how long Exchange Online refuses it (virtual clock)", () => {
  it("its slices share one doubling, and each new episode starts at the wait the last one needed", async () => {
    // Refused for 10 s after every 100 messages, suggesting 3 s: the stand-in's figures.
    const { s, server, run, waits } = await budgetScene(
      { perSlice: 300, perWindow: 100, windowMs: 10_000, suggestMs: 3000 },
      2,
    );
    const remedies: string[] = [];
    const saveEntry = s.store.saveEntry.bind(s.store);
    s.store.saveEntry = (entry: ReportEntry) => {
      remedies.push(entry.remedy ?? "");
      return saveEntry(entry);
    };
    await run();
    assert.equal(s.entry("big").status, "ok");
    assert.deepEqual([...server.there.values()], [300, 300]);
    assert.deepEqual(server.attempts, [
      // The first episode learns the window by doubling: 3 s, 6 s, 12 s.
      "0s s1 100 throttled",
      "3s s1 0 throttled",
      "9s s1 0 throttled",
      // Through after 21 s: the next episodes wait that at once with its margin (a tenth more,
      // 23.1 s), and are refused once each.
      "21s s1 100 throttled",
      "44.1s s1 100 ok",
      // Another slice, refused at once: the mailbox's wait, not a fresh 3 s.
      "44.1s s2 0 throttled",
      "67.2s s2 100 throttled",
      "90.3s s2 100 throttled",
      "113.4s s2 100 ok",
    ]);
    assert.deepEqual(waits(), ["3s", "6s", "12s", "23s", "23s", "23s", "23s"]);
    // The remedy states the wait used, and why it is not the suggestion.
    assert.ok(
      remedies.some((remedy) =>
        /slice s1: .*waits 23 seconds \(Office 365 suggested 3 seconds, but the last time this mailbox was throttled it was refused until about then: that wait and a margin\)/.test(
          remedy,
        ),
      ),
      JSON.stringify(remedies),
    );
  });

  it("allowed much less than the time before, it forgets the remembered wait and learns again", async () => {
    // 100 messages a window, then 20 from the third window on (another client spends the rest).
    const { s, server, run, waits } = await budgetScene(
      { perSlice: 260, perWindow: 100, windowMs: 10_000, suggestMs: 3000, later: 20 },
      1,
    );
    await run();
    assert.equal(s.entry("big").status, "ok");
    assert.deepEqual(server.attempts, [
      "0s s1 100 throttled",
      "3s s1 0 throttled",
      "9s s1 0 throttled",
      "21s s1 100 throttled",
      // 20 where 100 went through before: back to the suggestion, doubled again.
      "44.1s s1 20 throttled",
      "47.1s s1 0 throttled",
      "53.1s s1 0 throttled",
      "65.1s s1 20 throttled",
      "88.2s s1 20 ok",
    ]);
    assert.deepEqual(waits(), ["3s", "6s", "12s", "23s", "3s", "6s", "12s", "23s"]);
  });

  it("once refused, its slices run at once well under its budget and one alone near its end: one refusal per later episode", async () => {
    const clock = virtualClock();
    const s = await scene(["big"], {}, fakeTokens(), { clock });
    // 4 slices of 300 messages, 10 a second each; 200 messages a window, then refused for 10 s
    // (3 s suggested).
    const server = timedBudgetServer(clock, {
      perSlice: 300,
      perWindow: 200,
      windowMs: 10_000,
      suggestMs: 3000,
      msPerMessage: 100,
    });
    await runSlices(s, server.runner, { slices: 4, concurrency: 4, maxSlices: 4 });
    const big = s.entry("big");
    assert.equal(big.status, "ok");
    // Every message of every slice copied once.
    assert.deepEqual([...server.there.values()], [300, 300, 300, 300]);
    const [first, ...later] = server.refusals;
    // The first refusal meets every slice: nothing was known yet.
    assert.equal(first?.running, 4);
    // 1,200 messages at 200 a window: the budget runs out 4 more times, each on one slice alone.
    assert.equal(later.length, 4, JSON.stringify(server.refusals));
    for (const refusal of later) assert.equal(refusal.running, 1, JSON.stringify(server.refusals));
    // After a refusal one slice tries whether the wait was enough, not four: the first episode's
    // two (3 s, then 6 s, before 12 s got through); later episodes wait what got it through.
    assert.ok(server.refusedAtStart() <= 2, `${server.refusedAtStart()} refused as they started`);
    // After that wait, known to be enough, slices start together, without one trying first.
    // (Not after every one: on the virtual clock a slice's report save may outlast the wait.)
    const together = later.slice(0, -1).filter(({ at }) => {
      const next = server.starts.find((start) => start > at);
      return server.starts.filter((start) => start === next).length >= 2;
    });
    assert.ok(together.length >= 1, JSON.stringify(server.starts));
    // And slices did run at once after the first refusal (at most 4, the cap).
    const afterFirst = server.runsAtOnce.slice(4);
    assert.ok(Math.max(...afterFirst) >= 2, JSON.stringify(server.runsAtOnce));
    assert.ok(Math.max(...server.runsAtOnce) <= 4);
    // Those stopped near the budget are paused, never refused, and say why.
    const attempts = big.slices!.flatMap((slice) => slice.attempts);
    const paused = attempts.filter((a) => a.reason === "paused");
    assert.ok(paused.length >= 3, `${paused.length} paused`);
    for (const a of paused) assert.equal(a.class, "interrupted");
  });
});
