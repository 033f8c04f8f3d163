import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  searchOf,
  sliceBreakingOption,
  sliceMailbox,
  sliceThreshold,
} from "../../../src/plan/slicing.js";
import { knownSizes } from "../../../src/plan/sizes.js";
import {
  cutsFound,
  imapDate,
  nextProbes,
  recordProbes,
  startCuts,
} from "../../../src/plan/probes.js";
import type { Report } from "../../../src/report/schema.js";

const MB = 1_000_000;
/** `n` messages of a megabyte each. */
const folder = (name: string, n: number) => ({ folder: name, messages: n, bytes: n * MB });

describe("sliceThreshold", () => {
  it("auto: a mailbox's share is all sizes over the runs at once; a number wins", () => {
    assert.equal(sliceThreshold([4000, 150, 150, 500], "auto", 4), 1200);
    assert.equal(sliceThreshold([4000], 10, 4), 10);
  });
});

describe("sliceMailbox", () => {
  it("leaves a mailbox no bigger than the threshold whole (16 equal mailboxes: none sliced)", () => {
    const sizes = [folder("INBOX", 100), folder("Sent", 50)];
    assert.equal(sliceMailbox(sizes, { above: 150 * MB, maxSlices: 4 }), undefined);
  });

  it("spreads folders over as many slices as shares, at most maxSlices, largest into the lightest", () => {
    const sizes = [
      folder("INBOX", 500),
      folder("Sent", 400),
      folder("Archive", 300),
      folder("Éléments envoyés", 200),
      folder("Drafts", 0),
    ];
    assert.deepEqual(sliceMailbox(sizes, { above: 500 * MB, maxSlices: 2 }), [
      { id: "s1", folders: ["INBOX", "Éléments envoyés", "Drafts"] },
      { id: "s2", folders: ["Sent", "Archive"] },
    ]);
    assert.equal(sliceMailbox(sizes, { above: 500 * MB, maxSlices: 4 })?.length, 3);
    // A mailbox of a few hundred kilobytes is never worth slicing, however short the list.
    const tiny = [{ folder: "INBOX", messages: 120, bytes: 385_000 }];
    assert.equal(sliceMailbox(tiny, { above: 24_000, maxSlices: 4 }), undefined);
  });

  it("splits a folder bigger than a slice at its probed dates, each range a slice of its own", () => {
    const sizes = [folder("INBOX", 2600), folder("Sent", 700), folder("Archive", 700)];
    const boundaries = new Map([["INBOX", ["1-Mar-2024", "1-Sep-2024"]]]);
    assert.deepEqual(
      sliceMailbox(sizes, { above: 1000 * MB, maxSlices: 4, boundaries, firstId: 5 }),
      [
        { id: "s5", folders: ["INBOX"], before: "1-Mar-2024" },
        { id: "s6", folders: ["INBOX"], since: "1-Mar-2024", before: "1-Sep-2024" },
        { id: "s7", folders: ["INBOX"], since: "1-Sep-2024" },
        { id: "s8", folders: ["Sent", "Archive"] },
      ],
    );
    assert.equal(
      searchOf({ since: "1-Mar-2024", before: "1-Sep-2024" }),
      "SINCE 1-Mar-2024 BEFORE 1-Sep-2024",
    );
    assert.equal(searchOf({}), undefined);
  });
});

describe("sliceBreakingOption", () => {
  it("finds options that choose folders or messages, in imapsync's spellings", () => {
    assert.equal(sliceBreakingOption(["--include", "^INBOX"]), "--include");
    assert.equal(sliceBreakingOption(["--maxage=30"]), "--maxage=30");
    assert.equal(sliceBreakingOption(["-SUBSCRIBED"]), "-SUBSCRIBED");
    assert.equal(sliceBreakingOption(["--search", "ALL"]), "--search");
    assert.equal(sliceBreakingOption(["--delete2folders"]), "--delete2folders");
    assert.equal(sliceBreakingOption(["--nofoldersizes", "--exclude", "^Junk"]), undefined);
  });
});

describe("knownSizes", () => {
  it("takes check.json's listing, or a later verification's source counts", () => {
    const entry = { destination: "x", status: "ok" as const, attempts: [] };
    const check: Report = {
      schemaVersion: 1,
      startedAt: "2026-12-01T00:00:00Z",
      usersFile: "/u.csv",
      mailboxes: [
        {
          ...entry,
          source: "a@x",
          sizes: [folder("INBOX", 10)],
          attempts: [{ start: "2026-12-01T00:00:00Z", exitCode: 0, logFile: "l" }],
        },
        { ...entry, source: "b@x", sizes: [folder("INBOX", 20)] },
      ],
    };
    const previous: Report = {
      ...check,
      mailboxes: [
        {
          ...entry,
          source: "a@x",
          verification: {
            at: "2026-12-02T00:00:00Z",
            verdict: "verified",
            class: "ok",
            logFile: "v",
            mapping: [],
            folders: [
              {
                destination: { name: "INBOX", display: "INBOX" },
                sources: [{ name: "INBOX", display: "INBOX", messages: 12, bytes: 12 * MB }],
                verdict: "match",
                sourceMessages: 12,
                sourceBytes: 12 * MB,
              },
            ],
            missingMessages: 0,
            extraMessages: 0,
            evidence: [],
          },
        },
      ],
    };
    const sizes = knownSizes(check, previous);
    assert.deepEqual(sizes.get("a@x"), [folder("INBOX", 12)]);
    assert.deepEqual(sizes.get("b@x"), [folder("INBOX", 20)]);
  });
});

describe("date cuts by bisection", () => {
  const DAY = 86_400_000;
  const today = Date.UTC(2026, 11, 7);
  /** Messages one an hour from 1 Jan 2023 (the stand-in's seed), or all on one day. */
  const countSince = (dates: number[]) => (day: number) => dates.filter((d) => d >= day).length;
  const run = (dates: number[], parts: number) => {
    const cuts = startCuts(dates.length, parts, today);
    const count = countSince(dates);
    let rounds = 0;
    for (let days = nextProbes(cuts); days.length > 0; days = nextProbes(cuts)) {
      recordProbes(cuts, new Map(days.map((day) => [day, count(day)])));
      rounds++;
    }
    return { cuts: cutsFound(cuts), rounds };
  };

  it("cuts 2,600 hourly messages into 3 parts of about 867, in a few rounds", () => {
    const dates = Array.from(
      { length: 2600 },
      (_, n) => Date.UTC(2023, 0, 1) + (n + 1) * 3_600_000,
    );
    const { cuts, rounds } = run(dates, 3);
    // 867 messages are 36 days of 24: the cuts fall on 6 Feb and 14 Mar 2023, give or take a day.
    assert.equal(cuts?.length, 2);
    const parsed = cuts!.map((c) => Date.parse(`${c} UTC`));
    assert.ok(Math.abs(parsed[0]! - Date.UTC(2023, 1, 6)) <= DAY, cuts![0]);
    assert.ok(Math.abs(parsed[1]! - Date.UTC(2023, 2, 14)) <= DAY, cuts![1]);
    assert.ok(rounds <= 16, `${rounds} rounds`);
  });

  it("gives up when most mail is on one day (an import)", () => {
    const dates = [
      ...Array.from({ length: 900 }, () => Date.UTC(2025, 5, 3, 10)),
      ...Array.from({ length: 100 }, (_, n) => Date.UTC(2024, 0, 1) + n * DAY),
    ];
    assert.equal(run(dates, 2).cuts, undefined);
    assert.equal(imapDate(Date.UTC(2026, 11, 7)), "7-Dec-2026");
  });
});
