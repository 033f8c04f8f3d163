// report.csv: one row per mailbox, its latest attempt, its remedy and its verification (for a
// spreadsheet).
import { stringify } from "csv-stringify/sync";
import type { Attempt, Report, ReportEntry } from "./schema.js";

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

/** report.csv a row at a time, so that a long list is never one string. */
export function* reportCsvPieces(report: Report): Generator<string> {
  yield stringify([[...CSV_COLUMNS]]);
  for (const entry of report.mailboxes) yield stringify([row(entry)]);
}
