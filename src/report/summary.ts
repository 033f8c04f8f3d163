// The end-of-run summary: a line per mailbox with totals, then what to do for those not ok.
import type { Report } from "../types.js";

/** One line per mailbox plus totals, for the end of a run. */
export function formatSummary(report: Report): string[] {
  const width = Math.max(7, ...report.mailboxes.map((entry) => entry.source.length));
  const lines = [
    `${"MAILBOX".padEnd(width)}  ${"STATUS".padEnd(11)}  ${"CLASS".padEnd(26)}  ATTEMPTS  MESSAGES`,
  ];
  const counts = new Map<string, number>();
  for (const entry of report.mailboxes) {
    counts.set(entry.status, (counts.get(entry.status) ?? 0) + 1);
    const copied = entry.attempts.reduce(
      (sum, attempt) => sum + (attempt.messagesTransferred ?? 0),
      0,
    );
    lines.push(
      `${entry.source.padEnd(width)}  ${entry.status.padEnd(11)}  ${(entry.class ?? "-").padEnd(26)}  ${String(entry.attempts.length).padStart(8)}  ${String(copied).padStart(8)}`,
    );
  }
  const totals = [...counts].map(([status, count]) => `${count} ${status}`).join(", ");
  lines.push(`${report.mailboxes.length} mailboxes: ${totals}`);
  return lines;
}

/** What to do, for every mailbox that is not ok: the part of the summary an admin acts on. */
export function formatRemedies(report: Report): string[] {
  const todo = report.mailboxes.filter((entry) => entry.status !== "ok" && entry.remedy);
  if (todo.length === 0) return [];
  return ["What to do:", ...todo.map((entry) => `- ${entry.source}: ${entry.remedy}`)];
}
