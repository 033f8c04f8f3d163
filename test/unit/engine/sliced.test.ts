// How many of a sliced mailbox's slices run at once, from what its throttling taught: the rule
// alone, values written by hand.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { countAndDecide, type AttemptCounts } from "../../../src/engine/engine.js";
import {
  AT_ONCE_SHARE,
  slicedMailboxes,
  slicesAtOnce,
  withMargin,
} from "../../../src/engine/sliced.js";
import { sliceResult } from "../../helpers/attempts.js";

const learnt = { refused: true, stillRefused: false, waitedEnough: false, allowance: 200 };

describe("slicesAtOnce", () => {
  it("all of them until the mailbox is first refused", () => {
    assert.equal(
      slicesAtOnce(4, {
        refused: false,
        stillRefused: false,
        waitedEnough: false,
        copiedSinceRefusal: 0,
      }),
      4,
    );
  });

  it("one while it is still refused: the one that tries whether the wait was enough", () => {
    assert.equal(slicesAtOnce(4, { ...learnt, stillRefused: true, copiedSinceRefusal: 0 }), 1);
  });

  it("all after the wait that got its last episode through: nothing to try", () => {
    const waited = { ...learnt, stillRefused: true, waitedEnough: true };
    assert.equal(slicesAtOnce(4, { ...waited, copiedSinceRefusal: 0 }), 4);
    // Still one near its budget, and one while its allowance is unknown.
    assert.equal(slicesAtOnce(4, { ...waited, copiedSinceRefusal: 150 }), 1);
    assert.equal(slicesAtOnce(4, { ...waited, allowance: undefined, copiedSinceRefusal: 0 }), 1);
  });

  it("one while what it is allowed between two refusals is unknown, or was nothing", () => {
    const unknown = {
      refused: true,
      stillRefused: false,
      waitedEnough: false,
      copiedSinceRefusal: 0,
    };
    assert.equal(slicesAtOnce(4, unknown), 1);
    assert.equal(slicesAtOnce(4, { ...unknown, allowance: 0 }), 1);
  });

  it("all while under three quarters of its allowance since its last refusal, then one", () => {
    assert.equal(AT_ONCE_SHARE, 0.75);
    assert.equal(slicesAtOnce(4, { ...learnt, copiedSinceRefusal: 0 }), 4);
    assert.equal(slicesAtOnce(4, { ...learnt, copiedSinceRefusal: 149 }), 4);
    assert.equal(slicesAtOnce(4, { ...learnt, copiedSinceRefusal: 150 }), 1);
    assert.equal(slicesAtOnce(4, { ...learnt, copiedSinceRefusal: 260 }), 1);
  });
});

describe("withMargin", () => {
  it("a tenth more than the remembered wait, at least a second", () => {
    assert.equal(withMargin(21_000), 23_100);
    assert.equal(withMargin(5000), 6000);
    assert.equal(withMargin(90_000), 99_000);
  });
});

describe("slicedMailboxes: one refusal met by several slices", () => {
  it("slices refused together after the same wait double it once, not once each", () => {
    let now = 0;
    const sliced = slicedMailboxes(4, () => now);
    const limits = { maxAttempts: 3, maxBackoffMs: 600_000, throttleGiveUpMs: 0 };
    // A slice's attempt, settled as the engine settles it: shared counts, the policy, then back.
    const settle = (started: number, copied: number) => {
      const history: AttemptCounts = {
        total: 0,
        unproductive: 0,
        throttledAgain: 0,
        throttled: false,
      };
      const attempt = { start: new Date(started).toISOString(), exitCode: null, logFile: "" };
      const result = sliceResult(attempt, "throttled", copied, 3000);
      sliced.share("big", history, result);
      const decision = countAndDecide(
        history,
        { class: "throttled", backoffMs: 3000, lostConnection: false, copied },
        now,
        { limits, signal: new AbortController().signal, random: () => 0 },
      );
      assert.ok(decision.retry);
      sliced.learn("big", history, result, decision.throttle);
      return decision.delayMs;
    };
    // Refused after copying: the suggestion, 3 s.
    now = 10_000;
    assert.equal(settle(0, 50), 3000);
    // Two slices start when it is over and are both refused at once: not enough, 6 s; the second
    // is the same refusal, 6 s too (12 s if each doubled it).
    now = 13_500;
    assert.equal(settle(13_000, 0), 6000);
    assert.equal(settle(13_000, 0), 6000);
    // One started after that refusal and refused too: doubled again.
    now = 20_000;
    assert.equal(settle(19_500, 0), 12_000);
  });
});
