// `migrate --events jsonl` through the built CLI: standard output carries only JSON lines (an
// outcome per mailbox, totals at the end), the summary goes to standard error.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { makeScene, usersAndWorld } from "../helpers/cli-scene.js";

describe("migrate --events jsonl", () => {
  it("prints every event as a JSON line, the summary on stderr", async () => {
    const { users, world } = usersAndWorld({ ok1: "pw-1", ok2: "pw-2", bad: "pw-3" });
    // bad@ is not delegated to the admin: it ends not_delegated.
    world.delegations = { "admin@contoso.test": ["ok1@contoso.test", "ok2@contoso.test"] };
    const s = await makeScene({ users, world });
    const result = await s.run(["migrate", "--users", s.usersFile, "--events", "jsonl"]);
    assert.equal(result.exitCode, 1, result.stderr);
    const events = result.stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    const finished = events.filter((e) => e.event === "finished");
    assert.deepEqual(Object.fromEntries(finished.map((e) => [e.source, e.class])), {
      "ok1@contoso.test": "ok",
      "ok2@contoso.test": "ok",
      "bad@contoso.test": "not_delegated",
    });
    const totals = events.at(-1)!;
    assert.equal(totals.event, "totals");
    assert.equal(totals.ok, 2);
    assert.equal(totals.failed, 1);
    assert.ok(events.every((e) => typeof e.at === "string"));
    assert.match(result.stderr, /3 mailboxes: /);
    assert.match(result.stderr, /Report: /);
  });
});
