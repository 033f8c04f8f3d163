// report.csv: one row per mailbox, its latest attempt, its remedy and its verification (for a
// spreadsheet); with calendar or contacts parts, one row per part of each mailbox instead.
import { stringify } from "csv-stringify/sync";
import type { Attempt, Part, Report, ReportEntry } from "./schema.js";
import { partsOf, persisted } from "./parts.js";

export function latestAttempt(entry: ReportEntry): Attempt | undefined {
  return entry.attempts.at(-1);
}

const CSV_COLUMNS = [
  "source",
  "destination",
  "status",
  "class",
  "attempts",
  "exit_code",
  "messages_transferred",
  "bytes_transferred",
  "log_file",
  "remedy",
  "verification",
  "missing_messages",
] as const;

function row(entry: ReportEntry): (string | number)[] {
  const last = latestAttempt(entry);
  return [
    entry.source,
    entry.destination,
    entry.status,
    entry.class ?? "",
    entry.attempts.length,
    last?.exitCode ?? "",
    last?.messagesTransferred ?? "",
    last?.bytesTransferred ?? "",
    last?.logFile ?? "",
    entry.remedy ?? "",
    entry.verification?.verdict ?? "",
    entry.verification?.verdict === "missing" ? entry.verification.missingMessages : "",
  ];
}

/** After the mailbox's columns when the report has parts: which part, and what it sent. */
const PART_COLUMNS = [
  "part",
  "part_status",
  "part_class",
  "items_sent",
  "items_updated",
  "items_removed",
  "items_unchanged",
  "missing_items",
] as const;

/**
 * A part's row: the mailbox's source, destination, status and class (the worst part's), then the
 * part's own attempts, remedy and verification (the mail's columns as they always were).
 */
function partRow(entry: ReportEntry, part: Part): (string | number)[] {
  const shown = persisted(entry);
  if (part.kind === "mail") {
    const mail = row(entry);
    return [
      ...mail.slice(0, 2),
      shown.status,
      shown.class ?? "",
      ...mail.slice(4),
      "mail",
      entry.status,
      entry.class ?? "",
      "",
      "",
      "",
      "",
      "",
    ];
  }
  const c = part.counts;
  const v = part.verification;
  return [
    entry.source,
    entry.destination,
    shown.status,
    shown.class ?? "",
    part.attempts.length,
    "",
    "",
    "",
    "",
    part.remedy ?? "",
    v?.verdict ?? "",
    "",
    part.kind,
    part.status,
    part.class ?? "",
    c?.sent ?? "",
    c?.updated ?? "",
    c?.removed ?? "",
    c?.unchanged ?? "",
    v?.verdict === "missing" ? v.missingItems : "",
  ];
}

/** report.csv a row at a time, so that a long list is never one string. */
export function* reportCsvPieces(report: Report): Generator<string> {
  const withParts = report.mailboxes.some((entry) => entry.parts);
  yield stringify([withParts ? [...CSV_COLUMNS, ...PART_COLUMNS] : [...CSV_COLUMNS]]);
  for (const entry of report.mailboxes) {
    if (!withParts) yield stringify([row(entry)]);
    else if (!entry.parts)
      yield stringify([
        [...row(entry), "mail", entry.status, entry.class ?? "", "", "", "", "", ""],
      ]);
    else for (const part of partsOf(entry)) yield stringify([partRow(entry, part)]);
  }
}
