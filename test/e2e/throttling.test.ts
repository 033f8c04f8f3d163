// Throttling through the built CLI, with the imapsync double replaying the real runs of
// fixtures/imapsync-2.229-throttle: a throttled mailbox waits (longer when refused again right
// after a wait) and ends ok whatever --max-attempts says; the wait is in the events and the
// report while it lasts; THROTTLE_GIVE_UP gives a mailbox up, and the summary says why.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { makeScene, runSpans, usersAndWorld } from "../helpers/cli-scene.js";
import { waitFor } from "../helpers/env.js";

interface Event {
  at: string;
  event: string;
  source?: string;
  class?: string;
  delayMs?: number;
  nextAttemptAt?: string | null;
}

describe("throttling through the CLI", { timeout: 180_000 }, () => {
  it("waits out the throttling, longer when refused at once, and ends ok with --max-attempts 1", async () => {
    // A run copies 90 messages and is throttled (Office 365 suggests 3 s); the next run is
    // refused at once and copies nothing; the one after copies the rest.
    const { users, world } = usersAndWorld(
      { alice: "alice-pass" },
      { throttleWindow: { "alice@contoso.test": { productive: 1, refusedRuns: 1 } } },
    );
    const s = await makeScene({
      users,
      world,
      // One attempt that copies nothing would give a mailbox up: throttled ones do not count.
      env: { MAX_ATTEMPTS: "1", MAX_BACKOFF: "10s" },
    });
    const bg = s.start(["migrate", "--users", s.usersFile, "--events", "jsonl"]);
    let stdout = "";
    bg.child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    const events = () =>
      stdout
        .split("\n")
        .filter((line) => line.startsWith("{"))
        .map((line) => JSON.parse(line) as Event);
    const waits = () => events().filter((e) => e.event === "waiting");
    await waitFor(() => waits().length > 0, 60_000, "the first wait");
    // While it waits, the report says until when.
    const first = waits()[0]!;
    const waiting = (await s.report()).mailboxes[0]!;
    assert.equal(waiting.status, "pending");
    assert.equal(waiting.class, "throttled");
    assert.equal(waiting.nextAttemptAt, first.nextAttemptAt);
    assert.match(waiting.remedy ?? "", /waits 3 seconds, as Office 365 suggested, then reruns it/);

    const result = await bg.child;
    assert.equal(result.exitCode, 0, bg.stderr());
    const [w1, w2] = waits();
    assert.equal(waits().length, 2);
    assert.equal(w1?.class, "throttled");
    assert.equal(w1?.delayMs, 3000);
    // Refused at once after its wait: doubled, less up to a fifth at random.
    assert.ok(w2 && w2.delayMs! >= 4800 && w2.delayMs! <= 6000, `second wait ${w2?.delayMs}`);
    for (const w of [w1!, w2!]) {
      const ahead = Date.parse(w.nextAttemptAt!) - Date.parse(w.at);
      assert.ok(Math.abs(ahead - w.delayMs!) < 1000, `next try ${ahead} ms ahead`);
    }
    // Each run started no sooner than its wait allowed.
    const spans = (await runSpans(s.stateDir)).sort((a, b) => a.start - b.start);
    assert.deepEqual(
      spans.map((r) => r.outcome),
      ["throttled", "throttled_at_once", "ok"],
    );
    assert.ok(spans[1]!.start - spans[0]!.end! >= 3000 - 50, "the first wait");
    assert.ok(spans[2]!.start - spans[1]!.end! >= w2!.delayMs! - 50, "the second wait");

    const report = await s.report();
    const entry = report.mailboxes[0]!;
    assert.equal(entry.status, "ok");
    assert.deepEqual(
      entry.attempts.map((a) => [a.class, a.messagesTransferred]),
      [
        ["throttled", 90],
        ["throttled", 0],
        ["ok", 32],
      ],
    );
    assert.ok(!("nextAttemptAt" in entry), "no next try once it is done");
    assert.match(result.stderr, /alice@contoso\.test +ok +ok +3 +122/);
  });

  it("gives a mailbox up once THROTTLE_GIVE_UP passes without a copied message; the summary says why", async () => {
    const { users, world } = usersAndWorld(
      { bob: "bob-pass" },
      {
        throttleWindow: {
          "bob@contoso.test": { productive: 0, windowMs: 3_600_000, fromStart: true },
        },
      },
    );
    const s = await makeScene({ users, world, env: { THROTTLE_GIVE_UP: "2s" } });
    const result = await s.run(["migrate", "--users", s.usersFile]);
    const output = `${result.stdout}\n${result.stderr}`;
    assert.equal(result.exitCode, 1, output);
    const entry = (await s.report()).mailboxes[0]!;
    assert.equal(entry.status, "failed");
    assert.equal(entry.class, "throttled");
    // Waits of 1 s (--max-backoff 1s in the scene): given up at the first end 2 s or more after
    // the first start, however slow the machine.
    assert.ok(entry.attempts.length >= 2, `${entry.attempts.length} attempts`);
    assert.ok(entry.attempts.every((a) => a.class === "throttled" && a.messagesTransferred === 0));
    assert.match(
      entry.remedy ?? "",
      /\(gave up: throttled, and no message copied for \d+ seconds \(THROTTLE_GIVE_UP 2s\)\)$/,
    );
    assert.match(output, /bob@contoso\.test +failed +throttled/);
    assert.match(
      output,
      /- bob@contoso\.test: Exchange Online throttled this mailbox and suggested waiting 3 seconds: .*lower the concurrency, spread the migration over more hours, or ask Microsoft support .*THROTTLE_GIVE_UP 2s/,
    );
  });
});
