// ITEMS left at its default (mail): report.json and `migrate --plan --json` are byte for byte what
// the tool wrote before calendars and contacts existed. The expected texts in golden/ were written
// by the build of main before issue 20 (the same scene, through this file with GOLDEN_WRITE set);
// only times and the temporary folder are masked.
import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, it } from "node:test";
import { makeScene, usersAndWorld } from "../helpers/cli-scene.js";
import { ROOT } from "../helpers/env.js";

const GOLDEN = path.join(ROOT, "test/e2e/golden/items-default.json");

/** Times, folders and node's path: the only things that differ from one run or build to the next. */
function masked(text: string, dir: string): string {
  return text
    .replaceAll(dir, "<DIR>")
    .replaceAll(ROOT, "<ROOT>")
    .replace(/"argv":\["[^"]*"/g, '"argv":["<NODE>"')
    .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z/g, "<TIME>")
    .replace(/"sha256:[0-9a-f]{64}"/g, '"<DIGEST>"');
}

describe("ITEMS=mail, the default: the outputs of before", () => {
  it("report.json and --plan --json are unchanged", async () => {
    const { users, world } = usersAndWorld({ alice: "alice-pw", bob: "bob-pw" });
    // bob is not delegated to the admin: a failed mailbox, with its class and remedy.
    const s = await makeScene({
      users,
      world: { ...world, delegations: { "admin@contoso.test": ["alice@contoso.test"] } },
    });
    const migrated = await s.run(["migrate", "--users", s.usersFile, "--concurrency", "1"]);
    assert.equal(migrated.exitCode, 1, migrated.stderr);
    const report = masked(await readFile(path.join(s.workDir, "report.json"), "utf8"), s.dir);
    const planned = await s.run(["migrate", "--users", s.usersFile, "--plan", "--json"]);
    assert.equal(planned.exitCode, 0, planned.stderr);
    const plan = masked(planned.stdout, s.dir);
    if (process.env.GOLDEN_WRITE) {
      await writeFile(GOLDEN, `${JSON.stringify({ report, plan }, null, 2)}\n`);
      return;
    }
    const golden = JSON.parse(await readFile(GOLDEN, "utf8")) as { report: string; plan: string };
    assert.equal(report, golden.report);
    assert.equal(plan, golden.plan);
  });
});
