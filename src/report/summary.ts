// The end-of-run summary: a line per mailbox with totals, then what to do for those not ok.
import type { Report, ReportEntry } from "../types.js";

/**
 * Done: the last copy ended ok, and no verification found mail missing since (not verified yet
 * counts as done). The summary, the exit code, --resume and retry all ask this.
 */
export function countsAsOk(entry: Pick<ReportEntry, "status" | "verification">): boolean {
  return entry.status === "ok" && entry.verification?.verdict !== "missing";
}

/** What the summary and report.csv show: the status, or why an ok copy is not done. */
function shownStatus(entry: ReportEntry): string {
  return entry.status === "ok" && !countsAsOk(entry) ? "ok, missing" : entry.status;
}

/** One line per mailbox plus totals, for the end of a run. */
export function formatSummary(report: Report): string[] {
  const width = Math.max(7, ...report.mailboxes.map((entry) => entry.source.length));
  // The verification column appears once some mailbox has been verified.
  const verified = report.mailboxes.some((entry) => entry.verification);
  const lines = [
    `${"MAILBOX".padEnd(width)}  ${"STATUS".padEnd(11)}  ${"CLASS".padEnd(26)}  ATTEMPTS  MESSAGES${verified ? "  VERIFICATION" : ""}`,
  ];
  const counts = new Map<string, number>();
  for (const entry of report.mailboxes) {
    const status = shownStatus(entry);
    counts.set(status, (counts.get(status) ?? 0) + 1);
    const copied = entry.attempts.reduce(
      (sum, attempt) => sum + (attempt.messagesTransferred ?? 0),
      0,
    );
    lines.push(
      `${entry.source.padEnd(width)}  ${status.padEnd(11)}  ${(entry.class ?? "-").padEnd(26)}  ${String(entry.attempts.length).padStart(8)}  ${String(copied).padStart(8)}${verified ? `  ${verdictText(entry)}` : ""}`,
    );
  }
  const totals = [...counts].map(([status, count]) => `${count} ${status}`).join(", ");
  lines.push(`${report.mailboxes.length} mailboxes: ${totals}`);
  return lines;
}

function verdictText(entry: ReportEntry): string {
  const v = entry.verification;
  if (!v) return "-";
  if (v.verdict === "missing") return `missing ${v.missingMessages}`;
  return v.verdict === "failed" ? `failed (${v.class})` : v.verdict;
}

/** What to do, for every mailbox not ok or whose verification failed: what an admin acts on. */
export function formatRemedies(report: Report): string[] {
  const todo = report.mailboxes.flatMap((entry) => {
    if (!countsAsOk(entry) && entry.remedy) return [`- ${entry.source}: ${entry.remedy}`];
    const v = entry.verification;
    if (entry.status === "ok" && v?.verdict === "failed" && v.remedy)
      return [`- ${entry.source}: verification failed: ${v.remedy}`];
    return [];
  });
  return todo.length === 0 ? [] : ["What to do:", ...todo];
}
