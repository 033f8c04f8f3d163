// Shards through the built CLI against the doubles: --plan with a count and with a shard, each
// shard run in its own work directory (by flag and by JOB_COMPLETION_INDEX), `report merge`,
// and `retry --shard` from the merged report.
import assert from "node:assert/strict";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, it } from "node:test";
import { parse as parseCsv } from "csv-parse/sync";
import type { Report } from "../../src/report/schema.js";
import { ADMIN, makeScene, type Scene } from "../helpers/cli-scene.js";
import { doubleCalls, type World } from "../helpers/imapsync-world.js";

const NAMES = ["alice", "bob", "carol", "dave", "erin", "frank", "gus", "hana", "ivan"];
const address = (name: string) => `${name}@contoso.test`;
const PASSWORD = (name: string) => `${name}-pässword-7`;
/** Where rendezvous hashing puts them among 3 shards (pinned in test/unit/plan/shard.test.ts). */
const SHARD_OF: Record<string, number> = {
  alice: 2,
  bob: 1,
  carol: 0,
  dave: 0,
  erin: 0,
  frank: 0,
  gus: 0,
  hana: 2,
  ivan: 2,
};
// hana's password comes from a file; bob is not delegated to the admin.
const USERS = [
  "source,destination,password,password_file",
  ...NAMES.map((n) =>
    n === "hana" ? `${address(n)},,,secrets/hana.pass` : `${address(n)},,${PASSWORD(n)},`,
  ),
  "",
].join("\n");
const world = (delegated: string[]): World => ({
  delegations: { [ADMIN]: delegated.map(address) },
  passwords: Object.fromEntries(NAMES.map((n) => [address(n), PASSWORD(n)])),
});
const ALL_BUT_BOB = NAMES.filter((n) => n !== "bob");

async function scene(): Promise<Scene> {
  const s = await makeScene({ users: USERS, world: world(ALL_BUT_BOB), signIn: "oauth2c" });
  await mkdir(path.join(s.dir, "secrets"), { recursive: true });
  await writeFile(path.join(s.dir, "secrets/hana.pass"), `${PASSWORD("hana")}\n`, { mode: 0o600 });
  return s;
}

const shardDir = (s: Scene, index: number) => path.join(s.dir, "shards", `shard-${index}`);
const shardEnv = (s: Scene, index: number) => ({ WORK_DIR: shardDir(s, index) });

async function readReport(file: string): Promise<Report> {
  return JSON.parse(await readFile(file, "utf8")) as Report;
}

const classes = (report: Report) =>
  Object.fromEntries(
    report.mailboxes.map((e) => [e.source.split("@")[0], e.status === "ok" ? "ok" : e.class]),
  );

/** How many sync runs of each mailbox the imapsync double saw. */
async function syncRuns(s: Scene): Promise<Record<string, number>> {
  const runs: Record<string, number> = {};
  for (const call of await doubleCalls(s.stateDir)) {
    if (call.mode !== "sync") continue;
    const name = call.user1.split("@")[0] ?? "";
    runs[name] = (runs[name] ?? 0) + 1;
  }
  return runs;
}

interface PlanLine {
  source: string;
  shard?: { index: number; count: number };
}

const planLines = (stdout: string): PlanLine[] =>
  stdout
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as PlanLine);

describe("shards through the CLI", { timeout: 300_000 }, () => {
  it("--plan with a count shows every mailbox's shard; with a shard, only its mailboxes", async () => {
    const s = await scene();
    const all = await s.run(["migrate", "--users", s.usersFile, "--plan", "--json"], {
      SHARD_COUNT: "3",
    });
    assert.equal(all.exitCode, 0, all.stderr);
    const lines = planLines(all.stdout);
    assert.deepEqual(
      lines.map((l) => [l.source.split("@")[0], l.shard]),
      NAMES.map((n) => [n, { index: SHARD_OF[n], count: 3 }]),
    );
    const text = await s.run(["migrate", "--users", s.usersFile, "--plan", "--shard-count", "3"]);
    assert.match(text.stdout, /^# bob@contoso\.test -> bob@contoso\.test \(shard 1\/3\)$/m);
    for (const index of [0, 1, 2]) {
      const one = await s.run([
        "migrate",
        "--users",
        s.usersFile,
        "--plan",
        "--json",
        "--shard",
        `${index}/3`,
      ]);
      assert.equal(one.exitCode, 0, one.stderr);
      assert.deepEqual(
        planLines(one.stdout).map((l) => l.source.split("@")[0]),
        NAMES.filter((n) => SHARD_OF[n] === index),
      );
    }
    const pod = await s.run(["migrate", "--users", s.usersFile, "--plan", "--json"], {
      JOB_COMPLETION_INDEX: "2",
      SHARD_COUNT: "3",
    });
    assert.deepEqual(
      planLines(pod.stdout).map((l) => l.source.split("@")[0]),
      ["alice", "hana", "ivan"],
    );
  });

  it("--plan of a shard that holds no mailbox says so on standard error, exit 0", async () => {
    // alice alone: shard 2 of 3 (SHARD_OF); shards 0 and 1 are empty.
    const s = await makeScene({
      users: `source,destination,password,password_file\n${address("alice")},,${PASSWORD("alice")},\n`,
      world: world(["alice"]),
    });
    const empty = await s.run(["migrate", "--users", s.usersFile, "--plan", "--shard", "1/3"]);
    assert.equal(empty.exitCode, 0, empty.stderr);
    assert.equal(empty.stdout, "");
    assert.match(
      empty.stderr,
      /^Shard 1\/3 holds none of the 1 selected mailboxes: nothing to plan\. .*--plan --shard-count 3 shows every mailbox's shard\.$/m,
    );
    const full = await s.run(["migrate", "--users", s.usersFile, "--plan", "--shard", "2/3"]);
    assert.match(full.stdout, /^# alice@contoso\.test -> alice@contoso\.test \(shard 2\/3\)$/m);
    assert.doesNotMatch(full.stderr, /nothing to plan/);
  });

  it("a shard reads only its own mailboxes' password files", async () => {
    const s = await scene();
    await rm(path.join(s.dir, "secrets/hana.pass")); // hana is in shard 2
    const other = await s.run(
      ["migrate", "--users", s.usersFile, "--shard", "1/3"],
      shardEnv(s, 1),
    );
    assert.equal(other.exitCode, 1, other.stderr); // it ran: bob is not delegated
    assert.doesNotMatch(other.stderr, /hana/);
    const own = await s.run(["migrate", "--users", s.usersFile, "--shard", "2/3"], shardEnv(s, 2));
    assert.equal(own.exitCode, 2, own.stderr);
    assert.match(own.stderr, /hana\.pass does not exist/);
  });

  it("bad shards stop before anything runs, naming the flag or setting", async () => {
    const s = await scene();
    const cases: [string[], Record<string, string>, RegExp][] = [
      [["--shard", "3/3"], {}, /^--shard: shard index 3 is out of range for 3 shards/m],
      [["--shard", "1-3"], {}, /^--shard: "1-3" is not INDEX\/COUNT/m],
      [[], { SHARD_COUNT: "3" }, /^SHARD_COUNT: a shard count \(3\) but no shard index/m],
      [
        [],
        { JOB_COMPLETION_INDEX: "1" },
        /^SHARD_COUNT: JOB_COMPLETION_INDEX is 1 .*no shard count/m,
      ],
      [
        ["--shard", "1/3"],
        { SHARD_COUNT: "4" },
        /^--shard: 1\/3 names 3 shards but SHARD_COUNT says 4/m,
      ],
    ];
    for (const [args, env, message] of cases) {
      const r = await s.run(["migrate", "--users", s.usersFile, ...args], env);
      assert.equal(r.exitCode, 2, `${args.join(" ")} ${JSON.stringify(env)}: ${r.stderr}`);
      assert.match(r.stderr, message);
    }
    assert.deepEqual(await syncRuns(s), {}, "nothing ran");
  });

  it("each shard in its own work directory, merged, equals one machine; retry --shard reruns only that shard", async () => {
    const s = await scene();
    // One machine, the whole list, for comparison.
    const single = await s.run(["migrate", "--users", s.usersFile], {
      WORK_DIR: path.join(s.dir, "single"),
    });
    assert.equal(single.exitCode, 1, single.stderr);
    const singleReport = await readReport(path.join(s.dir, "single/report.json"));
    const before = await syncRuns(s);

    // Shards 0 and 1 by flag, shard 2 as a Kubernetes pod would get it.
    const exits: number[] = [];
    for (const index of [0, 1]) {
      const r = await s.run(
        ["migrate", "--users", s.usersFile, "--shard", `${index}/3`],
        shardEnv(s, index),
      );
      exits.push(r.exitCode ?? -1);
    }
    const pod = await s.run(["migrate", "--users", s.usersFile, "--resume"], {
      ...shardEnv(s, 2),
      JOB_COMPLETION_INDEX: "2",
      SHARD_COUNT: "3",
    });
    exits.push(pod.exitCode ?? -1);
    assert.deepEqual(exits, [0, 1, 0], "only bob's shard has a mailbox not ok");

    // Every mailbox ran exactly once across the shards, in its own shard's directory.
    const after = await syncRuns(s);
    for (const name of NAMES) assert.equal((after[name] ?? 0) - (before[name] ?? 0), 1, name);
    for (const call of (await doubleCalls(s.stateDir)).slice(-NAMES.length)) {
      const name = call.user1.split("@")[0] ?? "";
      assert.ok(
        call.argv.some((arg) => arg.startsWith(shardDir(s, SHARD_OF[name] ?? -1))),
        `${name} ran outside shard-${SHARD_OF[name]}`,
      );
    }
    for (const index of [0, 1, 2]) {
      const report = await readReport(path.join(shardDir(s, index), "report.json"));
      assert.deepEqual(report.shard, { index, count: 3 });
      assert.match(report.usersDigest ?? "", /^sha256:[0-9a-f]{64}$/);
      assert.deepEqual(
        report.mailboxes.map((e) => e.source.split("@")[0]),
        NAMES.filter((n) => SHARD_OF[n] === index),
      );
    }

    const merged = path.join(s.dir, "shards/merged.json");
    const reports = [0, 1, 2].map((i) => path.join(shardDir(s, i), "report.json"));
    const merge = await s.run(["report", "merge", ...reports, "--out", merged]);
    assert.equal(merge.exitCode, 0, merge.stderr);
    assert.equal(merge.stderr, "", "no warning for a complete set of shards");
    const mergedReport = await readReport(merged);
    assert.deepEqual(classes(mergedReport), classes(singleReport));
    assert.equal(classes(mergedReport).bob, "not_delegated");
    assert.deepEqual(mergedReport.mergedFrom, reports);
    const csv = parseCsv(await readFile(path.join(s.dir, "shards/merged.csv"), "utf8"), {
      columns: true,
    }) as { source: string; status: string }[];
    assert.equal(csv.length, NAMES.length);
    assert.match(merge.stdout, /merged\.json, .*merged\.csv and .*merged\.html/);
    const html = await readFile(path.join(s.dir, "shards/merged.html"), "utf8");
    assert.match(html, /merged from 3 shard reports/);
    for (const name of NAMES) assert.ok(html.includes(address(name)), `${name} in merged.html`);
    assert.ok(!NAMES.some((n) => html.includes(PASSWORD(n))), "no password in merged.html");
    const shardHtml = await readFile(path.join(shardDir(s, 1), "report.html"), "utf8");
    assert.match(shardHtml, /shard 1\/3/);
    assert.ok(!shardHtml.includes(address("alice")), "a shard's page lists only its mailboxes");

    // Shard 1 into shard 0's directory: refused, nothing runs.
    const mixed = await s.run(
      ["migrate", "--users", s.usersFile, "--shard", "1/3"],
      shardEnv(s, 0),
    );
    assert.equal(mixed.exitCode, 2, mixed.stderr);
    assert.match(mixed.stderr, /this report is shard 0\/3's, but this run is shard 1\/3/);

    // The merged report is only rerun shard by shard.
    const whole = await s.run(["retry", "--report", merged]);
    assert.equal(whole.exitCode, 2);
    assert.match(whole.stderr, /merged from shard reports.*--shard INDEX\/COUNT/);

    // bob gets his FullAccess; shard 1 reruns him in its own directory.
    await s.setWorld(world(NAMES));
    const mergedBytes = await readFile(merged, "utf8");
    const otherShards = await Promise.all(reports.map((r) => readFile(r, "utf8")));
    const beforeRetry = await syncRuns(s);
    const retry = await s.run(["retry", "--report", merged, "--shard", "1/3"], shardEnv(s, 1));
    assert.equal(retry.exitCode, 0, retry.stderr);
    const afterRetry = await syncRuns(s);
    assert.equal((afterRetry.bob ?? 0) - (beforeRetry.bob ?? 0), 1);
    for (const name of ALL_BUT_BOB) assert.equal(afterRetry[name], beforeRetry[name], name);
    assert.equal(await readFile(merged, "utf8"), mergedBytes, "the merged report is not written");
    assert.equal(await readFile(reports[0]!, "utf8"), otherShards[0]);
    assert.equal(await readFile(reports[2]!, "utf8"), otherShards[2]);
    const shard1 = await readReport(reports[1]!);
    assert.deepEqual(
      shard1.mailboxes.map((e) => [e.source, e.status, e.attempts.length]),
      [["bob@contoso.test", "ok", 2]],
    );

    const again = await s.run(["report", "merge", ...reports, "--out", merged]);
    assert.equal(again.exitCode, 0, again.stderr);
    assert.ok(Object.values(classes(await readReport(merged))).every((c) => c === "ok"));
  });

  it("merge refuses shards of another users file, and never overwrites a shard's report", async () => {
    const s = await scene();
    const a = await s.run(["migrate", "--users", s.usersFile, "--shard", "1/3"], shardEnv(s, 1));
    assert.equal(a.exitCode, 1, a.stderr);
    const other = path.join(s.dir, "other.csv");
    await writeFile(other, USERS.replace("\n", "\n# another list\n"));
    const b = await s.run(["migrate", "--users", other, "--shard", "2/3"], shardEnv(s, 2));
    assert.equal(b.exitCode, 0, b.stderr);
    const reports = [1, 2].map((i) => path.join(shardDir(s, i), "report.json"));
    const out = path.join(s.dir, "merged.json");
    const refused = await s.run(["report", "merge", ...reports, "--out", out]);
    assert.equal(refused.exitCode, 2);
    assert.match(
      refused.stderr,
      /shard-2\/report\.json: this report was written for another users file than .*shard-1\/report\.json/,
    );
    const overwrite = await s.run(["report", "merge", reports[0]!, "--out", reports[0]!]);
    assert.equal(overwrite.exitCode, 2);
    assert.match(overwrite.stderr, /^--out: .* is one of the reports to merge/m);

    // A merged report older than the shard's own report (the list changed since): refused.
    const partial = await s.run(["report", "merge", reports[0]!, "--out", out]);
    assert.equal(partial.exitCode, 0, partial.stderr);
    assert.match(partial.stderr, /warning: no report of shard 0\/3 was given/);
    await writeFile(s.usersFile, `${USERS}# edited\n`);
    const rerun = await s.run(
      ["migrate", "--users", s.usersFile, "--shard", "1/3", "--resume"],
      shardEnv(s, 1),
    );
    assert.equal(rerun.exitCode, 1, rerun.stderr);
    const stale = await s.run(["retry", "--report", out, "--shard", "1/3"], shardEnv(s, 1));
    assert.equal(stale.exitCode, 2, stale.stderr);
    assert.match(stale.stderr, /this report is of another users file than shard 1\/3's own report/);
  });
});
