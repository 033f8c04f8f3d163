// The scheduler under a limit that changes while it runs, and AutoLimit's bookkeeping: what it
// samples from the engine's events, and that throttled attempts of several mailboxes lower it at once.
import assert from "node:assert/strict";
import { describe, it, mock } from "node:test";
import {
  AutoLimit,
  fixedLimit,
  limitFor,
  type ConcurrencyLimit,
} from "../../../src/engine/limit.js";
import type { ConcurrencyChange } from "../../../src/engine/concurrency.js";
import { schedule } from "../../../src/engine/scheduler.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("schedule with a changing limit", () => {
  it("starts more when the limit rises, lets running work end when it falls", async () => {
    let level = 1;
    const listeners = new Set<() => void>();
    const limit: ConcurrencyLimit = {
      ...fixedLimit(1),
      max: 6,
      current: () => level,
      subscribe: (l) => (listeners.add(l), () => listeners.delete(l)),
    };
    const set = (n: number) => {
      level = n;
      for (const l of listeners) l();
    };
    let inFlight = 0;
    const seen: number[] = [];
    const items = Array.from({ length: 30 }, (_, i) => i);
    const run = schedule(
      items,
      { concurrency: limit, signal: new AbortController().signal },
      async () => {
        inFlight++;
        seen.push(inFlight);
        await sleep(20);
        inFlight--;
        return {};
      },
    );
    await sleep(50);
    assert.ok(Math.max(...seen) === 1, `at 1: ${seen}`);
    set(5);
    await sleep(50);
    assert.equal(Math.max(...seen), 5);
    set(2);
    const before = seen.length;
    await sleep(60);
    // Once the five running ones ended, no more than two at a time.
    assert.ok(Math.max(...seen.slice(before + 3)) <= 2, `${seen.slice(before)}`);
    assert.deepEqual(await run, []);
  });
});

describe("AutoLimit", () => {
  it("samples messages, bytes, runs and waiting mailboxes; two mailboxes throttled lower it at once, one does not", () => {
    mock.timers.enable({ apis: ["setInterval", "Date"], now: 0 });
    try {
      const changes: ConcurrencyChange[] = [];
      const limit = new AutoLimit({
        max: 16,
        start: 8,
        mailboxes: 100,
        log: (c) => changes.push(c),
      });
      let woken = 0;
      limit.subscribe(() => woken++);
      for (let i = 0; i < 8; i++) limit.attemptStarted(`m${i}`);
      limit.progress("m0", 10);
      limit.progress("m0", 25);
      limit.attemptEnded("m0", { copied: 30, bytes: 3000, throttled: false });
      limit.mailboxDone("m0");
      assert.equal(limit.current(), 8);
      limit.attemptEnded("m1", { copied: 0, bytes: 0, throttled: true });
      assert.equal(limit.current(), 8, "one mailbox throttled among eight: its own wait");
      limit.attemptStarted("m1");
      limit.attemptEnded("m1", { copied: 0, bytes: 0, throttled: true });
      assert.equal(limit.current(), 8, "the same mailbox again");
      limit.attemptEnded("m2", { copied: 0, bytes: 0, throttled: true });
      assert.equal(limit.current(), 6, "a second mailbox: the tenant is throttled");
      assert.equal(woken, 1);
      assert.match(changes[0]!.reason, /throttled 2 mailboxes/);
      limit.stop();
    } finally {
      mock.timers.reset();
    }
  });

  it("rises while the rate grows (a fake clock, runs that keep copying)", () => {
    mock.timers.enable({ apis: ["setInterval", "Date"], now: 0 });
    try {
      const changes: ConcurrencyChange[] = [];
      const limit = new AutoLimit({
        max: 16,
        start: 2,
        mailboxes: 100,
        log: (c) => changes.push(c),
      });
      const done = new Map<string, number>();
      let started = 0;
      // Each run copies 10 messages a second; the limit is kept filled.
      for (let second = 0; second < 60; second++) {
        while (done.size < limit.current()) {
          const source = `m${started++}`;
          done.set(source, 0);
          limit.attemptStarted(source);
        }
        for (const [source, n] of done) {
          done.set(source, n + 10);
          limit.progress(source, n + 10);
        }
        mock.timers.tick(1000);
      }
      limit.stop();
      assert.ok(limit.current() > 2, JSON.stringify(changes));
      assert.ok(changes.every((c) => c.to > c.from && /grows|probing/.test(c.reason)));
    } finally {
      mock.timers.reset();
    }
  });
});

describe("limitFor", () => {
  const MB = 2 ** 20;
  const auto = (availableMb: number, maxConcurrency = 16) => {
    const lines: string[] = [];
    const limit = limitFor(
      { concurrency: "auto", maxConcurrency },
      {
        mailboxes: 100,
        info: (line) => lines.push(line),
        log: () => undefined,
        availableMemory: () => availableMb * MB,
      },
    );
    limit.stop();
    return { max: limit.max, line: lines.join("\n") };
  };

  it("keeps auto within the memory available (about 200 MB per imapsync run), and says why", () => {
    assert.deepEqual(auto(1000).max, 5);
    assert.match(
      auto(1000).line,
      /at most 5 \(the 1000 MB of memory available fit 5 imapsync runs/,
    );
    assert.equal(auto(100).max, 1, "at least one run, however little memory");
    const roomy = auto(64_000);
    assert.equal(roomy.max, 16);
    assert.match(roomy.line, /at most 16 \(--max-concurrency\)/);
  });

  it("leaves a fixed concurrency as given", () => {
    const limit = limitFor(
      { concurrency: 12, maxConcurrency: 16 },
      { mailboxes: 100, info: () => undefined, log: () => undefined, availableMemory: () => MB },
    );
    assert.equal(limit.current(), 12);
  });
});
