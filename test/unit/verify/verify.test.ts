import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { classifyLines } from "../../../src/imapsync/classify.js";
import {
  compareFolderSizes,
  destinationBefore,
  type FolderComparison,
} from "../../../src/verify/compare.js";
import { parseFolderName, parseFolderSizes } from "../../../src/verify/foldersizes.js";
import { verificationOf } from "../../../src/verify/verification.js";
import {
  FIXTURES,
  fixtureLines,
  parseExitStatus,
  parseTables,
} from "../../helpers/fixture-index.js";

const DIR = "imapsync-2.229-verify";
const lines = (file: string) => fixtureLines(`${DIR}/${file}`);
const compare = (file: string, history = {}) =>
  compareFolderSizes(parseFolderSizes(lines(file)), history);
/** destination folder (UTF-8 form) → "verdict source/destination" */
const byFolder = (c: FolderComparison) =>
  Object.fromEntries(
    c.folders.map((f) => [
      f.destination.display,
      `${f.verdict} ${f.sourceMessages}/${f.destinationMessages ?? "-"}`,
    ]),
  );

interface VerifyRow {
  file: string;
  exit: ReturnType<typeof parseExitStatus>;
  runClass: string;
  verdict: string;
}

/** The rows of INDEX.md, as documented: the run's class and the verdict in bold. */
function verifyRows(): VerifyRow[] {
  const index = readFileSync(path.join(FIXTURES, DIR, "INDEX.md"), "utf8");
  const table = parseTables(index).find((rows) => rows[0] && "run class" in rows[0]);
  assert.ok(table, "INDEX.md has the table of verify runs");
  return table.map((row) => ({
    file: (row.file ?? "").replace(/`/g, ""),
    exit: parseExitStatus(row["exit status"] ?? ""),
    runClass: row["run class"] ?? "",
    verdict: /\*\*(.+?)\*\*/.exec(row["expected verdict, per destination folder"] ?? "")?.[1] ?? "",
  }));
}

describe("verification of the recorded --justfoldersizes runs (fixtures/imapsync-2.229-verify)", () => {
  const rows = verifyRows();

  it("documents ten verify runs", () => assert.equal(rows.length, 10));

  for (const row of rows) {
    it(`${row.file}: class ${row.runClass}, ${row.verdict}`, () => {
      const run = classifyLines(lines(row.file), row.exit);
      assert.equal(run.class, row.runClass);
      const { verification } = verificationOf({
        classification: run,
        sizes: parseFolderSizes(lines(row.file)),
        at: "2026-12-03T09:17:00Z",
        logFile: row.file,
        mapping: [],
      });
      // A run that could not count (its class, or an unreadable listing) is never a verification.
      const verdict = verification.verdict === "failed" ? "not verified" : verification.verdict;
      assert.equal(verdict, row.verdict);
    });
  }

  it("complete: every folder matches, accented names in both forms", () => {
    const c = compare("complete_alice.log");
    assert.deepEqual(byFolder(c), {
      "Éléments envoyés": "match 12/12",
      Archive: "match 5/5",
      "Archive/2023": "match 25/25",
      Drafts: "match 2/2",
      INBOX: "match 120/120",
      "Sent Items": "match 30/30",
    });
    assert.equal(c.folders[0]?.destination.name, "&AMk-l&AOk-ments envoy&AOk-s");
    assert.equal(c.folders[0]?.sourceBytes, 24102);
    assert.equal(c.missingMessages, 0);
  });

  it("extra destination mail: extra, still verified, the destination-only folder listed", () => {
    const first = parseFolderSizes(lines("alice_first_sync.log"));
    assert.equal(first.startDifference, -194);
    assert.equal(destinationBefore(first), 0);
    const c = compare("extra_destination_alice.log", {
      destinationBefore: destinationBefore(first),
    });
    assert.equal(c.verdict, "verified");
    assert.equal(byFolder(c).INBOX, "extra 120/122");
    assert.equal(byFolder(c).Personnel, "destination_only 0/-");
    assert.equal(c.extraMessages, 2);
    assert.match(c.extraNote ?? "", /held no mail before the first run.*2 extra messages/);
  });

  it("partly copied: INBOX missing 15, the rest matches", () => {
    const c = compare("partly_copied_carol.log");
    assert.equal(c.verdict, "missing");
    assert.deepEqual(byFolder(c), { "Éléments envoyés": "match 5/5", INBOX: "missing 40/25" });
    assert.equal(c.missingMessages, 15);
  });

  it("cut short: a folder not on the destination is missing, parents listed only", () => {
    const c = compare("cut_short_dave.log");
    assert.deepEqual(byFolder(c), {
      "Éléments supprimés": "match 3/3",
      "Archives/Réunions 2024": "missing 6/2",
      INBOX: "missing 8/0",
      "Projets/Été/Équipe Zoë": "missing 4/-",
      Archives: "destination_only 0/-",
    });
    assert.equal(c.missingMessages, 4 + 8 + 4);
  });

  it("two source folders mapped to one destination folder are summed, not counted twice", () => {
    const c = compare("sent_merged_erin.log");
    assert.equal(c.verdict, "verified");
    assert.deepEqual(byFolder(c), { "Sent Items": "match 12/12", INBOX: "match 10/10" });
    const sent = c.folders.find((f) => f.destination.name === "Sent Items");
    assert.deepEqual(
      sent?.sources.map((s) => `${s.display}:${s.messages}`),
      ["Éléments envoyés:5", "Sent:7"],
    );
    assert.equal(sent?.destinationBytes, 23815);
  });

  it("a listing broken by an expired token is unreadable, with the line that shows it", () => {
    const c = compare("token_expired_during_sizing_big.log");
    assert.equal(c.verdict, "unreadable");
    assert.match(c.evidence[0] ?? "", /^Host1 Folder INBOX: Could not select: /);
    assert.equal(compare("token_expired_before_listing_big.log").verdict, "unreadable");
    assert.equal(compare("not_delegated_bob.log").verdict, "unreadable");
  });

  it("destination folders of a sync log: the last listing wins", () => {
    const sizes = parseFolderSizes(lines("carol_first_sync_quota.log"));
    const inbox = sizes.rows.find((r) => r.source.name === "INBOX");
    assert.equal(inbox?.destination.count?.messages, 25, "the listing at the end of the run");
    assert.equal(sizes.sourceMessagesAtStart, 45);
  });
});

describe("parseFolderName", () => {
  it("splits the IMAP name from its UTF-8 form only where they correspond", () => {
    assert.deepEqual(parseFolderName("[&AMk-t&AOk-] = [Été]"), {
      name: "&AMk-t&AOk-",
      display: "Été",
    });
    assert.deepEqual(parseFolderName("[INBOX]"), { name: "INBOX", display: "INBOX" });
    // A plain name that happens to contain "] = [" stays whole.
    assert.deepEqual(parseFolderName("[a] = [b]"), { name: "a] = [b", display: "a] = [b" });
  });
});
