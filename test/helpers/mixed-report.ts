// A report with every kind of outcome an admin meets, for the HTML report's browser test and its
// benchmark: verifications come from the recorded --justfoldersizes runs, not from invented counts.
import { classifyLines } from "../../src/imapsync/classify.js";
import type { Attempt, Report, ReportEntry, Verification } from "../../src/report/schema.js";
import type { RunClass } from "../../src/outcomes/classes.js";
import { parseFolderSizes } from "../../src/verify/foldersizes.js";
import { verificationOf } from "../../src/verify/verification.js";
import { fixtureLines } from "./fixture-index.js";

const START = Date.parse("2026-12-01T08:00:00Z");
const iso = (ms: number) => new Date(ms).toISOString();

function verification(file: string, at: number): Verification {
  const lines = fixtureLines(`imapsync-2.229-verify/${file}`);
  return verificationOf({
    classification: classifyLines(lines, { code: 0, signal: null }),
    sizes: parseFolderSizes(lines),
    at: iso(at),
    logFile: `/work/logs/verify/${file}`,
    mapping: [],
  }).verification;
}

/** Attempts back to back: [class, seconds it ran, seconds waited before the next, messages]. */
function attempts(
  mailbox: string,
  start: number,
  runs: [RunClass, number, number, number][],
): Attempt[] {
  let t = start;
  return runs.map(([cls, seconds, wait, messages], i) => {
    const attempt: Attempt = {
      start: iso(t),
      end: iso(t + seconds * 1000),
      exitCode: cls === "ok" ? 0 : 115,
      class: cls,
      messagesTransferred: messages,
      bytesTransferred: messages * 2000,
      logFile: `/work/logs/${mailbox}/attempt-${i + 1}.log`,
    };
    t += (seconds + wait) * 1000;
    return attempt;
  });
}

interface Template {
  name: string;
  status: ReportEntry["status"];
  runs: [RunClass, number, number, number][];
  remedy?: string;
  verify?: string;
}

/** One of each outcome; `mixedReport` cycles through them. */
export const TEMPLATES: Template[] = [
  { name: "alice", status: "ok", runs: [["ok", 40, 0, 194]], verify: "complete_alice.log" },
  {
    name: "erin",
    status: "ok",
    runs: [
      ["token_expired", 20, 5, 12],
      ["ok", 10, 0, 10],
    ],
    verify: "sent_merged_erin.log",
  },
  {
    name: "bob",
    status: "failed",
    runs: [["not_delegated", 3, 0, 0]],
    remedy:
      "Grant admin@contoso.com FullAccess on bob@contoso.com, wait a few minutes, then retry.",
  },
  {
    name: "carol",
    status: "ok",
    runs: [["ok", 30, 0, 25]],
    remedy: "rerun migrate for this mailbox (incremental), then verify again",
    verify: "partly_copied_carol.log",
  },
  {
    name: "frank",
    status: "failed",
    runs: [
      ["throttled", 15, 60, 40],
      ["throttled", 15, 120, 30],
      ["throttled", 15, 0, 0],
    ],
    remedy: "Exchange Online throttled the mailbox three times: retry later.",
  },
  {
    name: "grace",
    status: "failed",
    runs: [["quota_exceeded", 12, 0, 30]],
    remedy: "Raise the destination quota, then retry.",
  },
  { name: "heidi", status: "interrupted", runs: [["interrupted", 8, 0, 3]] },
  {
    name: "très.long.prénom-composé.nom-de-famille-interminable.service-comptabilité",
    status: "ok",
    runs: [["ok", 25, 0, 21]],
    verify: "accented_dave.log",
  },
  {
    name: "ivan",
    status: "ok",
    runs: [["ok", 20, 0, 0]],
    verify: "token_expired_during_sizing_big.log",
  },
];

export function mixedReport(count = TEMPLATES.length): Report {
  const verifications = new Map<string, Verification>();
  const mailboxes = Array.from({ length: count }, (_, i): ReportEntry => {
    const t = TEMPLATES[i % TEMPLATES.length]!;
    const suffix = i < TEMPLATES.length ? "" : `.${Math.floor(i / TEMPLATES.length)}`;
    const source = `${t.name}${suffix}@contoso.com`;
    const start = START + (i % 500) * 7000;
    const entryAttempts = attempts(source, start, t.runs);
    const last = entryAttempts.at(-1)!;
    const verify = t.verify;
    if (verify && !verifications.has(verify))
      verifications.set(verify, verification(verify, Date.parse(last.end!) + 60_000));
    return {
      source,
      destination: i % 4 === 1 ? `${t.name}${suffix}@example.org` : source,
      status: t.status,
      class: last.class,
      remedy: t.remedy,
      attempts: entryAttempts,
      ...(verify ? { verification: verifications.get(verify) } : {}),
    };
  });
  return {
    schemaVersion: 1,
    startedAt: iso(START),
    endedAt: iso(START + 3_600_000),
    usersFile: "/srv/migration/users-Société.csv",
    mailboxes,
  };
}

/** The remedy of the sliced mailbox's failed slice, as the outputs must show it. */
export const SLICE_REMEDY = "The destination mailbox is over quota: raise it, then retry.";

/**
 * A big mailbox copied in three slices, throttled while sliced: INBOX cut by date in two (one ok,
 * one over quota after a throttled attempt), and an accented folder (modified UTF-7 in the report,
 * as the slices pass it to imapsync); its own attempt is the folder-creating run.
 */
export function slicedMailbox(): ReportEntry {
  const source = "big@contoso.com";
  const slice = (id: string, runs: [RunClass, number, number, number][]) =>
    attempts(`${source}/slice-${id}`, START + 10_000, runs);
  return {
    source,
    destination: source,
    status: "failed",
    class: "quota_exceeded",
    remedy: `slice s2: ${SLICE_REMEDY}`,
    attempts: attempts(source, START, [["ok", 10, 0, 0]]),
    throttledWhileSliced: iso(START + 70_000),
    slices: [
      {
        id: "s1",
        folders: ["INBOX"],
        before: "6-Feb-2023",
        status: "ok",
        class: "ok",
        attempts: slice("s1", [["ok", 120, 0, 867]]),
      },
      {
        id: "s2",
        folders: ["INBOX"],
        since: "6-Feb-2023",
        status: "failed",
        class: "quota_exceeded",
        remedy: SLICE_REMEDY,
        attempts: slice("s2", [
          ["throttled", 60, 30, 300],
          ["quota_exceeded", 50, 0, 120],
        ]),
      },
      {
        id: "s3",
        folders: ["Projets &AMk-t&AOk-", "Sent Items"],
        status: "ok",
        class: "ok",
        attempts: slice("s3", [["ok", 90, 0, 640]]),
      },
    ],
  };
}
