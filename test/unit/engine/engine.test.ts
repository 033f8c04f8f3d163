// The engine alone: a fake attempt runner (no imapsync), a fake token keeper, a real report store
// in a temporary folder, and a clock that runs 10 000 times faster, so hours of waits take
// milliseconds. Each retry class, token expiry mid-run, throttling, a leftover and an
// interruption.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { describe, it } from "node:test";
import type { AttemptIo, AttemptResult } from "../../../src/engine/attempt.js";
import type { Clock } from "../../../src/engine/clock.js";
import { runEngine, type EngineDeps } from "../../../src/engine/engine.js";
import { MISSING_REMEDY, WAITING_FOR_TOKEN } from "../../../src/outcomes/remedies.js";
import { planAttempt, planMailboxes, type MailboxPlan } from "../../../src/plan/plan.js";
import { newReport, ReportStore } from "../../../src/report/store.js";
import { TokenError } from "../../../src/errors.js";
import type { StoredToken } from "../../../src/token/claims.js";
import { RUN_CLASSES, type RunClass } from "../../../src/outcomes/classes.js";
import type { Mailbox } from "../../../src/users/types.js";
import type { Progress } from "../../../src/imapsync/classification.js";
import type { ReportEntry } from "../../../src/report/schema.js";
import type { Ui } from "../../../src/view/ui.js";
import { parseFolderSizes } from "../../../src/verify/foldersizes.js";
import { testConfig } from "../../helpers/config.js";
import { fixtureLines } from "../../helpers/fixture-index.js";
import { tempDir, waitFor } from "../../helpers/env.js";

/** Virtual time runs SPEED times faster than real time. */
const SPEED = 10_000;
function fastClock(): Clock & { elapsedMs(): number } {
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
  /** A verify run: the fixtures/imapsync-2.229-verify listing it prints. */
  listing?: string;
  /** The classifier saw a kill (SIGKILL, a shell's "Killed"): ours when we stopped the run. */
  killed?: boolean;
}

interface FakeRun {
  plan: MailboxPlan;
  password: string | undefined;
}

/** A runner that plays each mailbox's script and records every plan it was given. */
function fakeRunner(scripts: Record<string, Scripted[]>, onStart?: (plan: MailboxPlan) => void) {
  const runs: FakeRun[] = [];
  const runner = async (plan: MailboxPlan, io: AttemptIo): Promise<AttemptResult> => {
    const script = scripts[plan.mailbox.source] ?? [];
    const step = script[runs.filter((r) => r.plan.mailbox.source === plan.mailbox.source).length];
    runs.push({ plan, password: io.password });
    const attempt = {
      start: new Date().toISOString(),
      exitCode: null,
      logFile: plan.files.logFile,
    };
    await io.started?.(attempt);
    onStart?.(plan);
    io.progress?.({ done: 1, total: 2 });
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
    const listing = step?.listing
      ? parseFolderSizes(fixtureLines(`imapsync-2.229-verify/${step.listing}`))
      : undefined;
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
        folders: plan.attempt === 1 ? [{ source: "INBOX", destination: "INBOX" }] : [],
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
  scripts: Record<string, Scripted[]>,
  tokenKeeper = fakeTokens(),
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
  const { ui, events, waits } = recordingUi();
  const clock = fastClock();
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
};

describe("engine with a fake runner: verification after the copy", () => {
  it("verifies a copy that ended ok; missing mail leaves the status ok, with its remedy", async () => {
    const s = await scene(["a", "c"], {
      a: [
        { class: "ok", copied: 5 },
        { class: "ok", listing: "complete_alice.log" },
      ],
      c: [
        { class: "ok", copied: 5 },
        { class: "ok", listing: "partly_copied_carol.log" },
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
        { class: "ok", listing: "complete_alice.log" },
      ],
      // EX_OK, but the listing broke: retried like a lost connection, up to MAX_ATTEMPTS.
      b: [
        { class: "ok" },
        ...Array.from({ length: 3 }, () => ({
          class: "ok" as const,
          listing: "token_expired_during_sizing_big.log",
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
      assert.ok(Date.now() - started < 2000, `${cls} took ${Date.now() - started} ms`);
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
      b: [{ class: "throttled", backoffMs: 3_600_000 }, { class: "throttled" }],
    });
    const started = Date.now();
    let aRemedy = "";
    // The remedy as saved with the mailbox's wait (each change is saved through the journal).
    s.deps.store.saveEntry = ((saveEntry) => (entry: ReportEntry) => {
      if (s.entry("a").status === "pending" && s.entry("a").attempts.length === 1)
        aRemedy = s.entry("a").remedy ?? "";
      return saveEntry(entry);
    })(s.deps.store.saveEntry.bind(s.deps.store));
    await runEngine(s.plans, { ...s.deps, limits: { ...s.deps.limits, maxAttempts: 2 } });
    assert.deepEqual(
      s.waits.map((w) => [w.source, w.delayMs]),
      [
        ["a@contoso.test", 120_000],
        ["b@contoso.test", 600_000],
      ],
    );
    assert.match(aRemedy, /waits the suggested 2 minutes/);
    assert.ok(s.clock.elapsedMs() >= 600_000, `virtual ${s.clock.elapsedMs()} ms`);
    assert.ok(Date.now() - started < 2000, `real ${Date.now() - started} ms`);
    assert.equal(s.entry("a").status, "ok");
    assert.equal(s.entry("b").status, "failed");
    assert.match(s.entry("b").remedy ?? "", /gave up after 2 attempts that copied nothing/);
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
