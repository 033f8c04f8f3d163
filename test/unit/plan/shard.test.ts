import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import {
  checkWorkDirShard,
  parseShard,
  resolveShard,
  selectShard,
  shardOf,
  shardToRun,
  type Shard,
} from "../../../src/plan/shard.js";
import { MAX_SHARDS } from "../../../src/config/settings.js";
import { assertInputError } from "../../helpers/input-error.js";

const address = fc
  .tuple(
    fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,20}$/),
    fc.constantFrom("contoso.com", "fabrikam.org", "ex.ample.net"),
  )
  .map(([local, domain]) => `${local}@${domain}`);
const addresses = fc.uniqueArray(address, {
  minLength: 1,
  maxLength: 200,
  selector: (a) => a.toLowerCase(),
});
const count = fc.integer({ min: 1, max: 16 });

const mailboxes = (list: string[]) => list.map((source) => ({ source }));

function assignment(list: string[], shards: number): Map<string, number> {
  const result = new Map<string, number>();
  for (let index = 0; index < shards; index++) {
    for (const { source } of selectShard(mailboxes(list), { index, count: shards })) {
      assert.equal(result.has(source), false, `${source} is in two shards`);
      result.set(source, index);
    }
  }
  return result;
}

describe("shard assignment", () => {
  test("the shards partition the list: every mailbox in exactly one, order kept", () => {
    fc.assert(
      fc.property(addresses, count, (list, shards) => {
        const assigned = assignment(list, shards);
        assert.equal(assigned.size, list.length);
        for (let index = 0; index < shards; index++) {
          const part = selectShard(mailboxes(list), { index, count: shards }).map((m) => m.source);
          assert.deepEqual(
            part,
            list.filter((source) => assigned.get(source) === index),
          );
        }
      }),
    );
  });

  test("reordering the list or adding mailboxes moves no other mailbox", () => {
    fc.assert(
      fc.property(addresses, addresses, count, fc.nat(), (list, added, shards, seed) => {
        const before = assignment(list, shards);
        const extra = added.filter((a) => !list.some((b) => b.toLowerCase() === a.toLowerCase()));
        const shuffled = [...list, ...extra].sort(
          (a, b) => ((a.length * 31 + seed) % 7) - ((b.length * 31 + seed) % 7),
        );
        const after = assignment(shuffled, shards);
        for (const [source, index] of before) assert.equal(after.get(source), index, source);
      }),
    );
  });

  test("the address decides, not its case or surrounding blanks", () => {
    fc.assert(
      fc.property(address, count, (a, shards) => {
        assert.equal(shardOf(a.toUpperCase(), shards), shardOf(a, shards));
        assert.equal(shardOf(` ${a}\t`, shards), shardOf(a, shards));
      }),
    );
  });

  test("one shard more moves only the mailboxes the new shard takes", () => {
    fc.assert(
      fc.property(addresses, count, (list, shards) => {
        for (const source of list) {
          const before = shardOf(source, shards);
          const after = shardOf(source, shards + 1);
          if (after !== before) assert.equal(after, shards, `${source} moved to an old shard`);
        }
      }),
    );
  });

  test("balance: each shard within 4 standard deviations of an even split", () => {
    const lists = {
      sequential: Array.from({ length: 10_000 }, (_, i) => `user${i}@contoso.com`),
      names: Array.from(
        { length: 6_000 },
        (_, i) =>
          `${["anna", "bob", "chen", "dora", "émile"][i % 5]}.${i}@${["contoso.com", "fabrikam.org", "a.b"][i % 3]}`,
      ),
    };
    for (const [name, list] of Object.entries(lists)) {
      for (const shards of [2, 3, 5, 8, 16, 50]) {
        const sizes = new Array<number>(shards).fill(0);
        for (const source of list) sizes[shardOf(source, shards)]! += 1;
        const expected = list.length / shards;
        const sd = Math.sqrt(expected * (1 - 1 / shards));
        for (const size of sizes) {
          assert.ok(
            Math.abs(size - expected) <= 4 * sd,
            `${name}, ${shards} shards: a shard of ${size}, expected ${expected.toFixed(0)} ± ${(4 * sd).toFixed(0)}`,
          );
        }
      }
    }
  });

  test("the assignment is a contract across versions: these never change", () => {
    // Every shard's work directory holds the history of exactly its mailboxes; a new hash
    // would leave those histories behind (folder mappings, attempt numbers).
    assert.deepEqual(
      ["alice", "bob", "carol", "big"].map((u) => shardOf(`${u}@contoso.test`, 3)),
      GOLDEN_STANDIN_3,
    );
    assert.deepEqual(
      Array.from({ length: 10 }, (_, i) => shardOf(`user${i}@contoso.com`, 4)),
      GOLDEN_USERS_4,
    );
  });
});

// Recorded from the first version of src/plan/shard.ts (the stand-in's mailboxes over 3 shards
// land in every shard, which the shard simulation relies on).
const GOLDEN_STANDIN_3 = [2, 1, 0, 0];
const GOLDEN_USERS_4 = [0, 2, 2, 2, 3, 1, 2, 0, 1, 1];

describe("--shard INDEX/COUNT, JOB_COMPLETION_INDEX and SHARD_COUNT", () => {
  test("INDEX/COUNT parses, with blanks around the numbers", () => {
    assert.deepEqual(parseShard("0/3", "--shard"), { index: 0, count: 3 });
    assert.deepEqual(parseShard(" 2 / 3 ", "--shard"), { index: 2, count: 3 });
    assert.deepEqual(parseShard("0/1", "--shard"), { index: 0, count: 1 });
  });

  test("malformed or out-of-range shards name the flag and say how to write it", () => {
    for (const text of ["", "3", "1/", "/3", "a/3", "1/3/4", "-1/3", "1.5/3", "1/3x"]) {
      assertInputError(() => parseShard(text, "--shard"), "--shard", /is not INDEX\/COUNT/);
    }
    assertInputError(
      () => parseShard("3/3", "--shard"),
      "--shard",
      /index 3 is out of range for 3 shards \(indexes go from 0 to 2\)/,
    );
    assertInputError(
      () => parseShard("0/0", "--shard"),
      "--shard",
      /not a shard count from 1 to 1000/,
    );
    assertInputError(
      () => parseShard(`0/${MAX_SHARDS + 1}`, "--shard"),
      "--shard",
      /not a shard count/,
    );
  });

  test("the flag wins alone; with SHARD_COUNT both must agree", () => {
    assert.deepEqual(resolveShard({ flag: "1/4", jobCompletionIndex: "3" }), {
      index: 1,
      count: 4,
    });
    assert.deepEqual(resolveShard({ flag: "1/4", count: 4 }), {
      index: 1,
      count: 4,
    });
    assertInputError(
      () => resolveShard({ flag: "1/4", count: 5 }),
      "--shard",
      /1\/4 names 4 shards but SHARD_COUNT says 5/,
    );
  });

  test("in a pod: JOB_COMPLETION_INDEX with SHARD_COUNT", () => {
    const count = 3;
    assert.deepEqual(resolveShard({ jobCompletionIndex: "2", count }), { index: 2, count: 3 });
    assertInputError(
      () => resolveShard({ jobCompletionIndex: "3", count }),
      "JOB_COMPLETION_INDEX",
      /index 3 is out of range for 3 shards/,
    );
    assertInputError(
      () => resolveShard({ jobCompletionIndex: "x", count }),
      "JOB_COMPLETION_INDEX",
      /"x" is not a shard index/,
    );
    assertInputError(
      () => resolveShard({ jobCompletionIndex: "1" }),
      "SHARD_COUNT",
      /JOB_COMPLETION_INDEX is 1 .* no shard count is set/,
    );
  });

  test("a count alone is a count (for --plan); nothing is every mailbox", () => {
    assert.deepEqual(resolveShard({ count: 3 }), { count: 3 });
    assert.deepEqual(resolveShard({ jobCompletionIndex: "", count: 3 }), { count: 3 });
    assert.equal(resolveShard({}), undefined);
  });

  test("a shard of 1 holds everything", () => {
    const shard: Shard = { index: 0, count: 1 };
    const list = mailboxes(["a@x.org", "b@x.org", "c@y.org"]);
    assert.deepEqual(selectShard(list, shard), list);
  });

  test("a run needs an index: a count alone is refused, naming SHARD_COUNT", () => {
    assert.equal(shardToRun(undefined), undefined);
    assert.deepEqual(shardToRun({ index: 1, count: 3 }), { index: 1, count: 3 });
    assertInputError(() => shardToRun({ count: 3 }), "SHARD_COUNT", /Give --shard INDEX\/3/);
  });

  test("a work directory keeps one shard's report", () => {
    const one = { index: 1, count: 3 };
    checkWorkDirShard("r.json", undefined, one);
    checkWorkDirShard("r.json", { shard: { index: 1, count: 3 } }, one);
    checkWorkDirShard("r.json", {}, undefined);
    assertInputError(
      () => checkWorkDirShard("r.json", { shard: { index: 1, count: 4 } }, one),
      "r.json",
      /shard 1\/4's, but this run is shard 1\/3/,
    );
    assertInputError(
      () => checkWorkDirShard("r.json", {}, one),
      "r.json",
      /of a run without shards/,
    );
    assertInputError(
      () => checkWorkDirShard("r.json", { shard: one }, undefined),
      "r.json",
      /but this run is not sharded/,
    );
  });
});
