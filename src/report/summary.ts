// The end-of-run summary: a line per mailbox (only those not ok, for a long list) with totals,
// then what to do for those not ok.
import type { Report } from "../types.js";

/** Above this many mailboxes the summary lists only those not ok: report.csv has them all. */
export const SUMMARY_LIST_MAX = 50;

/** One line per mailbox (per failed or interrupted one, for a long list) plus totals. */
export function formatSummary(report: Report): string[] {
  const long = report.mailboxes.length > SUMMARY_LIST_MAX;
  // A long list shows what went wrong; those ok and those that have not run are counted.
  const listed = long
    ? report.mailboxes.filter((e) => e.status !== "ok" && e.status !== "pending")
    : report.mailboxes;
  const width = Math.max(7, ...listed.map((entry) => entry.source.length));
  const lines = [
    `${"MAILBOX".padEnd(width)}  ${"STATUS".padEnd(11)}  ${"CLASS".padEnd(26)}  ATTEMPTS  MESSAGES`,
  ];
  const counts = new Map<string, number>();
  for (const entry of report.mailboxes)
    counts.set(entry.status, (counts.get(entry.status) ?? 0) + 1);
  for (const entry of listed) {
    const copied = entry.attempts.reduce(
      (sum, attempt) => sum + (attempt.messagesTransferred ?? 0),
      0,
    );
    lines.push(
      `${entry.source.padEnd(width)}  ${entry.status.padEnd(11)}  ${(entry.class ?? "-").padEnd(26)}  ${String(entry.attempts.length).padStart(8)}  ${String(copied).padStart(8)}`,
    );
  }
  const totals = [...counts].map(([status, count]) => `${count} ${status}`).join(", ");
  if (long)
    lines.push(
      `(${counts.get("ok") ?? 0} mailboxes ok${counts.get("pending") ? ` and ${counts.get("pending")} pending` : ""} not listed: every mailbox is in the report)`,
    );
  lines.push(`${report.mailboxes.length} mailboxes: ${totals}`);
  return lines;
}

/**
 * What to do, for every mailbox that is not ok: the part of the summary an admin acts on. The
 * same advice for many mailboxes (thousands left waiting for a token) is said once, with them.
 */
export function formatRemedies(report: Report): string[] {
  const byRemedy = new Map<string, string[]>();
  for (const entry of report.mailboxes) {
    if (entry.status === "ok" || !entry.remedy) continue;
    const sources = byRemedy.get(entry.remedy) ?? [];
    sources.push(entry.source);
    byRemedy.set(entry.remedy, sources);
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

/** The same remedy for more mailboxes than this is said once for all of them. */
const REMEDY_NAMES_MAX = 5;
