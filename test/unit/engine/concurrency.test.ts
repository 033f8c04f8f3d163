// The controller of `--concurrency auto` against a simulated server (load-model.ts): it finds the
// level where the rate stops growing, backs off a saturated CPU, lowers by a quarter at once when
// several mailboxes are throttled (not for one alone), and
// keeps within --max-concurrency; its wall time is compared with fixed levels in the same model.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConcurrencyController } from "../../../src/engine/concurrency.js";
import { simulate, type LoadModel } from "./load-model.js";

const FIXED = [1, 2, 4, 8, 12];

function bestFixed(model: LoadModel, mailboxes: number, messages: number) {
  const runs = FIXED.map((fixed) => ({
    fixed,
    ...simulate(model, mailboxes, messages, { fixed }),
  }));
  return runs.reduce((a, b) => (b.wallMs < a.wallMs ? b : a));
}

/** The level most ticks of the second half of the run were at. */
function settledLevel(levels: number[]): number {
  const counts = new Map<number, number>();
  for (const l of levels.slice(levels.length / 2)) counts.set(l, (counts.get(l) ?? 0) + 1);
  return [...counts].reduce((a, b) => (b[1] > a[1] ? b : a))[0];
}

describe("concurrency controller", () => {
  // A distant server: each run is latency-bound; the server serves 60 msg/s in all (knee at 6).
  const distant: LoadModel = {
    perRun: 10,
    startupMs: 2000,
    serverCap: 60,
    cpus: 2,
    cpuMsPerMessage: 2,
  };

  it("climbs while the rate grows and settles where it stops (server knee at 6)", () => {
    const auto = simulate(distant, 200, 300, { auto: { max: 16 } });
    const level = settledLevel(auto.levels);
    assert.ok(level >= 5 && level <= 9, `settled at ${level}`);
    assert.ok(auto.changes.some((c) => c.to > c.from && /still grows|probing/.test(c.reason)));
    assert.ok(auto.changes.some((c) => c.to < c.from && /stopped growing/.test(c.reason)));
    const best = bestFixed(distant, 200, 300);
    assert.ok(
      auto.wallMs <= best.wallMs / 0.9,
      `auto ${auto.wallMs / 1000} s, best fixed (${best.fixed}) ${best.wallMs / 1000} s`,
    );
  });

  it("16 equal mailboxes, rate growing up to 12 runs: auto within 1/0.9 of the best fixed level", () => {
    const model: LoadModel = { ...distant, serverCap: 120 };
    const auto = simulate(model, 16, 300, { auto: { max: 16 } });
    const best = bestFixed(model, 16, 300);
    assert.ok(
      auto.wallMs <= best.wallMs / 0.9,
      `auto ${auto.wallMs / 1000} s, best fixed (${best.fixed}) ${best.wallMs / 1000} s`,
    );
  });

  it("lowers when the CPU available is saturated, and says so", () => {
    // 2 CPUs, 45 ms of CPU per message: 44 msg/s at most, reached by 5 runs of 10 msg/s.
    const cpuBound: LoadModel = { perRun: 10, startupMs: 2000, cpus: 2, cpuMsPerMessage: 45 };
    const auto = simulate(cpuBound, 100, 300, { auto: { max: 16 } });
    const down = auto.changes.find(
      (c) => c.to < c.from && /CPU available is saturated/.test(c.reason),
    );
    assert.ok(down, JSON.stringify(auto.changes));
    const level = settledLevel(auto.levels);
    assert.ok(level >= 3 && level <= 5, `settled at ${level}`);
  });

  it("lowers at once on throttling: fewer throttled attempts than a fixed 8, and no later", () => {
    const throttling: LoadModel = {
      ...distant,
      serverCap: undefined,
      throttleAbove: 55,
      backoffMs: 30_000,
    };
    const auto = simulate(throttling, 100, 300, { auto: { max: 16 } });
    const fixed8 = simulate(throttling, 100, 300, { fixed: 8 });
    assert.ok(
      auto.throttled < fixed8.throttled,
      `auto ${auto.throttled}, fixed 8 ${fixed8.throttled}`,
    );
    assert.ok(
      auto.wallMs <= fixed8.wallMs,
      `auto ${auto.wallMs / 1000} s, fixed 8 ${fixed8.wallMs / 1000} s`,
    );
    const lowered = auto.changes.find((c) => /throttled/.test(c.reason));
    assert.ok(
      lowered &&
        lowered.to === Math.max(1, Math.min(lowered.from - 1, Math.floor(lowered.from * 0.75))),
    );
  });

  it("several mailboxes throttled: lowered at the moment it is reported, once for a burst", () => {
    const c = new ConcurrencyController({ max: 16, start: 8 });
    assert.equal(c.throttled(5000, { mailbox: "a" }), undefined, "one mailbox alone");
    assert.equal(c.throttled(5050, { mailbox: "a" }), undefined, "the same one again");
    assert.deepEqual(
      { ...c.throttled(5100, { mailbox: "b" }), reason: undefined },
      { from: 8, to: 6, reason: undefined },
    );
    assert.equal(c.current, 6);
    assert.equal(
      c.throttled(5200, { mailbox: "c", startedAt: 4000 }),
      undefined,
      "attempts older than the lowering are the same episode",
    );
    assert.equal(c.throttled(9000, { mailbox: "d", startedAt: 6000 }), undefined);
    assert.equal(c.throttled(9000, { mailbox: "e", startedAt: 6000 })?.to, 4);
  });

  it("one mailbox throttled again and again among many does not drive the level down", () => {
    const c = new ConcurrencyController({ max: 16, start: 8, settleMs: 0 });
    // Its waits grow from 300 s: throttled at 0, 5, 15, 35 and 75 minutes.
    for (const minute of [0, 5, 15, 35, 75])
      assert.equal(c.throttled(minute * 60_000, { mailbox: "big" }), undefined, `${minute} min`);
    assert.equal(c.current, 8);
  });

  it("widespread means a quarter of the level within 5 minutes, and never fewer than two mailboxes", () => {
    const at16 = new ConcurrencyController({ max: 16, start: 16 });
    for (const mailbox of ["a", "b", "c"])
      assert.equal(at16.throttled(1000, { mailbox }), undefined, `${mailbox}: 3 of 16`);
    const change = at16.throttled(1000, { mailbox: "d" });
    assert.equal(change?.to, 12);
    assert.match(change?.reason ?? "", /throttled 4 mailboxes within 5 min/);
    // Two mailboxes five minutes apart are two mailboxes' own affairs.
    const at4 = new ConcurrencyController({ max: 16, start: 4 });
    assert.equal(at4.throttled(0, { mailbox: "a" }), undefined);
    assert.equal(at4.throttled(5 * 60_000, { mailbox: "b" }), undefined);
    assert.equal(at4.throttled(5 * 60_000 + 1000, { mailbox: "c" })?.to, 3);
  });

  it("never goes above --max-concurrency nor below 1, and does not raise with nothing waiting", () => {
    const capped = simulate(distant, 100, 300, { auto: { max: 3 } });
    assert.ok(Math.max(...capped.levels) <= 3 && Math.min(...capped.levels) >= 1);
    const c = new ConcurrencyController({ max: 16, start: 2, settleMs: 0, windowMs: 1000 });
    for (let at = 0, n = 0; at <= 10_000; at += 1000, n += 20)
      assert.equal(
        c.sample({ at, messages: n * (at / 1000), bytes: 0, running: 2, waiting: 0 }),
        undefined,
      );
    assert.equal(c.current, 2);
  });
});
