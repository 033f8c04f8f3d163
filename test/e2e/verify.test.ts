// verify and migrate --verify through the built CLI, against the imapsync double replaying the
// recorded --justfoldersizes runs (fixtures/imapsync-2.229-verify), one mailbox per recorded case.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { describe, it } from "node:test";
import { parse } from "csv-parse/sync";
import { MISSING_REMEDY } from "../../src/outcomes/remedies.js";
import type { ReportEntry } from "../../src/report/schema.js";
import { makeScene, usersAndWorld } from "../helpers/cli-scene.js";
import { doubleCalls } from "../helpers/imapsync-world.js";

/** mailbox name → the recorded listing its verify run replays, and the verdict expected. */
const CASES: Record<string, [string, string]> = {
  alice: ["complete_alice.log", "verified"],
  amelie: ["extra_destination_alice.log", "verified"],
  carol: ["partly_copied_carol.log", "missing"],
  dave: ["cut_short_dave.log", "missing"],
  david: ["accented_dave.log", "verified"],
  erin: ["sent_merged_erin.log", "verified"],
  big: ["token_expired_at_login_big.log", "failed"],
  bigger: ["token_expired_before_listing_big.log", "failed"],
  biggest: ["token_expired_during_sizing_big.log", "failed"],
};

function scene(names: string[], extra: Record<string, string> = {}) {
  const passwords = Object.fromEntries(names.map((n) => [n, `${n}-pw`]));
  const { users, world } = usersAndWorld(passwords, {
    verify: Object.fromEntries(
      names.filter((n) => CASES[n]).map((n) => [`${n}@contoso.test`, CASES[n]![0]]),
    ),
  });
  // bob is in the users file but delegated to nobody.
  world.delegations = {
    [Object.keys(world.delegations)[0]!]: names
      .filter((n) => n !== "bob")
      .map((n) => `${n}@contoso.test`),
  };
  return makeScene({ users, world, env: { MAX_ATTEMPTS: "2", ...extra } });
}

const entryOf = (entries: ReportEntry[], name: string) =>
  entries.find((e) => e.source === `${name}@contoso.test`)!;

describe("verify (built CLI, recorded listings)", () => {
  it("gives each recorded case its verdict, keeps the copy's status, and writes csv and html", async () => {
    const names = [...Object.keys(CASES), "bob"];
    const s = await scene(names);
    const migrated = await s.run(["migrate", "--users", s.usersFile]);
    assert.equal(migrated.exitCode, 1, "bob is not delegated");
    const result = await s.run(["verify", "--users", s.usersFile]);
    assert.equal(result.exitCode, 1, result.stderr);
    const report = await s.report();
    for (const [name, [, verdict]] of Object.entries(CASES)) {
      const entry = entryOf(report.mailboxes, name);
      assert.equal(
        entry.verification?.verdict,
        verdict,
        `${name}: ${JSON.stringify(entry.verification)}`,
      );
      assert.equal(entry.status, "ok", `${name}: the copy's status stays`);
    }
    const bob = entryOf(report.mailboxes, "bob");
    assert.equal(bob.verification?.verdict, "failed");
    assert.equal(bob.verification?.class, "not_delegated");
    assert.equal(bob.status, "failed");

    const carol = entryOf(report.mailboxes, "carol");
    assert.equal(carol.verification?.missingMessages, 15);
    // Nearly full (imapsync's "% full" warning): the quota first, then the rerun and verify.
    assert.match(carol.remedy ?? "", /^The destination mailbox is full: raise its quota/);
    assert.ok(carol.remedy?.endsWith(`Then ${MISSING_REMEDY}.`), carol.remedy);
    assert.equal(entryOf(report.mailboxes, "dave").remedy, MISSING_REMEDY);
    const inbox = carol.verification?.folders.find((f) => f.destination.name === "INBOX");
    assert.deepEqual(
      [inbox?.verdict, inbox?.sourceMessages, inbox?.destinationMessages],
      ["missing", 40, 25],
    );
    const erin = entryOf(report.mailboxes, "erin").verification!;
    assert.equal(erin.folders.find((f) => f.destination.name === "Sent Items")?.sourceMessages, 12);
    assert.ok(
      entryOf(report.mailboxes, "david").verification?.folders.some(
        (f) => f.destination.display === "Projets/Été/Équipe Zoë",
      ),
    );
    assert.equal(entryOf(report.mailboxes, "amelie").verification?.extraMessages, 2);

    // The token cases: classified like any run, never verified.
    assert.equal(entryOf(report.mailboxes, "big").verification?.class, "auth_failed_source");
    for (const name of ["bigger", "biggest"]) {
      const v = entryOf(report.mailboxes, name).verification!;
      assert.equal(v.class, "other", name);
      assert.match(v.evidence.join("\n"), /Could not select/, name);
      assert.match(v.remedy ?? "", /could not read every folder/, name);
    }
    const calls = await doubleCalls(s.stateDir);
    const verifyRuns = (name: string) =>
      calls.filter((c) => c.user1 === `${name}@contoso.test` && c.mode === "preflight").length;
    assert.equal(verifyRuns("big"), 1, "a refused login is not retried");
    assert.equal(verifyRuns("bigger"), 2, "an unreadable listing is retried (MAX_ATTEMPTS=2)");
    // The mapping the copy recorded is passed with --f1f2.
    const aliceVerify = calls.find(
      (c) => c.user1 === "alice@contoso.test" && c.mode === "preflight",
    );
    assert.ok(aliceVerify?.argv.includes("--justfoldersizes"));
    assert.ok(aliceVerify?.argv.includes("--f1f2"), aliceVerify?.argv.join(" "));

    const rows = parse(await readFile(path.join(s.workDir, "report.csv"), "utf8"), {
      columns: true,
    }) as Record<string, string>[];
    const carolRow = rows.find((r) => r.source === "carol@contoso.test");
    assert.deepEqual([carolRow?.verification, carolRow?.missing_messages], ["missing", "15"]);
    assert.equal(rows.find((r) => r.source === "alice@contoso.test")?.verification, "verified");
    const html = await readFile(path.join(s.workDir, "report.html"), "utf8");
    assert.equal(html.match(/<tbody /g)?.length, names.length);
    assert.match(html, /missing \(15 messages\)/);
    assert.match(
      result.stdout,
      /dave@contoso\.test: rerun migrate for this mailbox \(incremental\), then verify again/,
    );
  });
});

describe("migrate --verify (built CLI)", () => {
  it("marks a mailbox with a missing folder not ok, with its remedy; --resume and retry rerun it", async () => {
    const s = await scene(["alice", "dave"]);
    const result = await s.run(["migrate", "--users", s.usersFile, "--verify"]);
    assert.equal(result.exitCode, 1, `${result.stdout}\n${result.stderr}`);
    const report = await s.report();
    assert.equal(entryOf(report.mailboxes, "alice").verification?.verdict, "verified");
    const dave = entryOf(report.mailboxes, "dave");
    assert.equal(dave.status, "ok", "the copy itself ended ok");
    assert.equal(dave.verification?.verdict, "missing");
    assert.equal(dave.remedy, MISSING_REMEDY);
    assert.match(result.stdout, /dave@contoso\.test\s+ok, missing\s+ok\s+1\s+\d+\s+missing 16/);
    assert.match(
      result.stdout,
      new RegExp(`- dave@contoso\\.test: ${MISSING_REMEDY.replace(/[()]/g, "\\$&")}`),
    );
    assert.match(result.stdout, /1 ok, 1 ok, missing|1 ok, missing, 1 ok/);

    // --resume reruns the mailbox whose verification found mail missing, and only it.
    const plan = await s.run(["migrate", "--users", s.usersFile, "--resume", "--plan", "--json"]);
    const planned = plan.stdout
      .trim()
      .split("\n")
      .map((l) => (JSON.parse(l) as { source: string }).source);
    assert.deepEqual(planned, ["dave@contoso.test"]);
    const retry = await s.run(["retry", "--report", path.join(s.workDir, "report.json")]);
    const after = await s.report();
    assert.equal(entryOf(after.mailboxes, "dave").attempts.length, 2, retry.stderr);
    // The rerun copy made the old verification stale: not verified yet, so done again.
    assert.equal(entryOf(after.mailboxes, "dave").verification, undefined);
    assert.equal(retry.exitCode, 0, retry.stderr);
  });
});
