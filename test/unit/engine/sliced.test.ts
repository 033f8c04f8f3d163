// How many of a sliced mailbox's slices run at once, from what its throttling taught: the rule
// alone, values written by hand.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { AT_ONCE_SHARE, slicesAtOnce } from "../../../src/engine/sliced.js";

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
