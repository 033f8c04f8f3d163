// The end-of-run summary: a line per mailbox (only those not ok, for a long list) with totals,
// then what to do for those not ok.
import type { Part, Report, ReportEntry, Slice } from "./schema.js";
import { mailAttempts, partDone, partsOf, persisted } from "./parts.js";
import { sliceWhat } from "../plan/slicing.js";

/**
 * The mail is done: the last copy ended ok, and no verification found mail missing since (not
 * verified yet counts as done).
 */
export function mailCountsAsOk(entry: Pick<ReportEntry, "status" | "verification">): boolean {
  return entry.status === "ok" && entry.verification?.verdict !== "missing";
}

/**
 * Done: every part of the mailbox is (its mail alone, for a mail-only report). The summary, the
 * exit code, --resume and retry all ask this.
 */
export function countsAsOk(entry: ReportEntry): boolean {
  if (!entry.parts) return mailCountsAsOk(entry);
  return partsOf(entry).every((part) =>
    part.kind === "mail" ? mailCountsAsOk(entry) : partDone(part),
  );
}

/** What the summary and report.csv show: the status, or why an ok copy is not done. */
function shownStatus(entry: ReportEntry): string {
  const status = persisted(entry).status;
  return status === "ok" && !countsAsOk(entry) ? "ok, missing" : status;
}

/** Above this many mailboxes the summary lists only those not ok: report.csv has them all. */
export const SUMMARY_LIST_MAX = 50;

/** One line per mailbox (per failed or interrupted one, for a long list) plus totals. */
export function formatSummary(report: Report): string[] {
  const long = report.mailboxes.length > SUMMARY_LIST_MAX;
  // A long list shows what went wrong; those ok and those that have not run are counted.
  const listed = long
    ? report.mailboxes.filter((e) => !countsAsOk(e) && e.status !== "pending")
    : report.mailboxes;
  const width = listed.reduce((w, entry) => Math.max(w, entry.source.length), 7);
  // The verification column appears once some mailbox has been verified.
  const verified = report.mailboxes.some((entry) => entry.verification);
  const lines = [
    `${"MAILBOX".padEnd(width)}  ${"STATUS".padEnd(11)}  ${"CLASS".padEnd(26)}  ATTEMPTS  MESSAGES${verified ? "  VERIFICATION" : ""}`,
  ];
  const counts = new Map<string, number>();
  for (const entry of report.mailboxes) {
    const status = shownStatus(entry);
    counts.set(status, (counts.get(status) ?? 0) + 1);
  }
  for (const entry of listed) {
    const status = shownStatus(entry);
    const attempts = mailAttempts(entry);
    lines.push(
      `${entry.source.padEnd(width)}  ${status.padEnd(11)}  ${(entry.class ?? "-").padEnd(26)}  ${String(attempts.length).padStart(8)}  ${String(copied(attempts)).padStart(8)}${verified ? `  ${verdictText(entry)}` : ""}`,
    );
  }
  const totals = [...counts].map(([status, count]) => `${count} ${status}`).join(", ");
  if (long)
    lines.push(
      `(${counts.get("ok") ?? 0} mailboxes ok${counts.get("pending") ? ` and ${counts.get("pending")} pending` : ""} not listed: every mailbox is in the report)`,
    );
  lines.push(`${report.mailboxes.length} mailboxes: ${totals}`);
  return [...lines, ...formatParts(report, long), ...formatSlices(report, long)];
}

function copied(attempts: readonly { messagesTransferred?: number }[]): number {
  return attempts.reduce((sum, attempt) => sum + (attempt.messagesTransferred ?? 0), 0);
}

/**
 * Beside the mailboxes' lines: one line per slice of a sliced mailbox (those not ok, when long),
 * with its folders or date range, and the remedy of one not ok.
 */
function formatSlices(report: Report, long: boolean): string[] {
  const rows = report.mailboxes.flatMap((entry) =>
    (entry.slices ?? []).map((slice) => ({ source: entry.source, slice })),
  );
  if (rows.length === 0) return [];
  const listed = long
    ? rows.filter(({ slice }) => !["ok", "pending"].includes(slice.status))
    : rows;
  const width = listed.reduce((w, row) => Math.max(w, row.source.length), 7);
  const lines = [
    `${"MAILBOX".padEnd(width)}  SLICE  ${"STATUS".padEnd(11)}  ${"CLASS".padEnd(26)}  ATTEMPTS  MESSAGES  FOLDERS OR DATES`,
  ];
  for (const { source, slice } of listed) {
    lines.push(
      `${source.padEnd(width)}  ${slice.id.padEnd(5)}  ${slice.status.padEnd(11)}  ${(slice.class ?? "-").padEnd(26)}  ${String(slice.attempts.length).padStart(8)}  ${String(copied(slice.attempts)).padStart(8)}  ${sliceWhat(slice)}${sliceRemedy(slice)}`,
    );
  }
  const counts = new Map<string, number>();
  for (const { slice } of rows) counts.set(slice.status, (counts.get(slice.status) ?? 0) + 1);
  const totals = [...counts].map(([status, count]) => `${count} ${status}`).join(", ");
  lines.push(`${rows.length} slices of big mailboxes: ${totals}`);
  return lines;
}

function sliceRemedy(slice: Slice): string {
  return slice.status !== "ok" && slice.remedy ? ` — ${slice.remedy}` : "";
}

/** Beside the mailboxes' lines: one line per calendar or contacts part (those not ok, when long). */
function formatParts(report: Report, long: boolean): string[] {
  const rows = report.mailboxes.flatMap((entry) =>
    partsOf(entry)
      .filter((part) => part.kind !== "mail")
      .map((part) => ({ source: entry.source, part })),
  );
  if (rows.length === 0) return [];
  const listed = long
    ? rows.filter(({ part }) => !partDone(part) && part.status !== "pending")
    : rows;
  const width = listed.reduce((w, row) => Math.max(w, row.source.length), 7);
  const lines = [
    `${"MAILBOX".padEnd(width)}  PART      ${"STATUS".padEnd(11)}  ${"CLASS".padEnd(26)}  ATTEMPTS  SENT  UPDATED  REMOVED  UNCHANGED`,
  ];
  const counts = new Map<string, number>();
  for (const { part } of rows) {
    const status = partStatus(part);
    counts.set(status, (counts.get(status) ?? 0) + 1);
  }
  for (const { source, part } of listed) {
    const c = part.counts;
    const figures = [c?.sent, c?.updated, c?.removed, c?.unchanged].map((n, i) =>
      String(n ?? "-").padStart([4, 7, 7, 9][i]!),
    );
    lines.push(
      `${source.padEnd(width)}  ${part.kind.padEnd(8)}  ${partStatus(part).padEnd(11)}  ${(part.class ?? "-").padEnd(26)}  ${String(part.attempts.length).padStart(8)}  ${figures.join("  ")}`,
    );
  }
  const totals = [...counts].map(([status, count]) => `${count} ${status}`).join(", ");
  lines.push(`${rows.length} calendar and contacts parts: ${totals}`);
  // Whatever the length: an admin decides what becomes of each (the tool never deletes it).
  const gone = rows.flatMap(({ source, part }) =>
    (part.gone ?? []).map((g) => `  ${source} ${part.kind}: ${g.name} (${g.location})`),
  );
  if (gone.length > 0)
    lines.push(
      "Gone at the source since the last run, kept at the destination (remove them there by hand if they should go):",
      ...gone,
    );
  return lines;
}

function partStatus(part: Part): string {
  return part.status === "ok" && !partDone(part) ? "ok, missing" : part.status;
}

function verdictText(entry: ReportEntry): string {
  const v = entry.verification;
  if (!v) return "-";
  if (v.verdict === "missing") return `missing ${v.missingMessages}`;
  return v.verdict === "failed" ? `failed (${v.class})` : v.verdict;
}

/**
 * What to do, for every mailbox not ok or whose verification failed: the part of the summary an
 * admin acts on. The same advice for many mailboxes (thousands left waiting for a token) is said
 * once, with them.
 */
export function formatRemedies(report: Report): string[] {
  const byRemedy = new Map<string, string[]>();
  const add = (remedy: string | undefined, who: string) => {
    if (!remedy) return;
    const sources = byRemedy.get(remedy) ?? [];
    sources.push(who);
    byRemedy.set(remedy, sources);
  };
  for (const entry of report.mailboxes) {
    const v = entry.verification;
    const mailSelected = !entry.parts || entry.parts.some((part) => part.kind === "mail");
    if (mailSelected) {
      add(
        !mailCountsAsOk(entry)
          ? entry.remedy
          : entry.status === "ok" && v?.verdict === "failed" && v.remedy
            ? `verification failed: ${v.remedy}`
            : undefined,
        entry.source,
      );
    }
    for (const part of partsOf(entry)) {
      if (part.kind === "mail") continue;
      const pv = part.verification;
      add(
        !partDone(part)
          ? pv?.verdict === "missing"
            ? `${pv.missingItems} items missing at the destination (${pv.collections
                .filter((c) => c.missing.length > 0)
                .map((c) => c.name)
                .join(", ")}): ${MISSING_PART_REMEDY}`
            : part.remedy
          : pv?.verdict === "failed" && pv.remedy
            ? `verification failed: ${pv.remedy}`
            : undefined,
        `${entry.source} (${part.kind})`,
      );
    }
  }
  if (byRemedy.size === 0) return [];
  const lines = ["What to do:"];
  for (const [remedy, sources] of byRemedy) {
    if (sources.length <= REMEDY_NAMES_MAX) {
      for (const source of sources) lines.push(`- ${source}: ${remedy}`);
      continue;
    }
    const named = sources.slice(0, REMEDY_NAMES_MAX).join(", ");
    lines.push(`- ${sources.length} mailboxes (${named}, … see the report): ${remedy}`);
  }
  return lines;
}

/** A part's verification found items missing: the report names them. */
const MISSING_PART_REMEDY =
  "rerun migrate for these parts (it sends what is missing), then verify again; report.json names each item";

/** The same remedy for more mailboxes than this is said once for all of them. */
const REMEDY_NAMES_MAX = 5;
