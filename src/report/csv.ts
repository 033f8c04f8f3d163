// report.csv: one row per mailbox, its latest attempt, its remedy and its verification (for a
// spreadsheet); with calendar or contacts parts, one row per part of each mailbox instead; with
// sliced mailboxes, a row per slice after its mailbox's rows.
import { stringify } from "csv-stringify/sync";
import type { Attempt, Part, Report, ReportEntry, Slice } from "./schema.js";
import { mailAttempts, partsOf, persisted } from "./parts.js";
import { sliceWhat } from "../plan/slicing.js";

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
    mailAttempts(entry).length,
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

/** Last, when some mailbox is sliced: which slice a row is (empty on a mailbox's own rows). */
const SLICE_COLUMNS = ["slice", "slice_folders_or_dates"] as const;

/**
 * A slice's row: the mailbox's source and destination, then the slice's own status, class,
 * attempts, latest attempt and remedy (the mail part's columns, when there are parts).
 */
function sliceRow(entry: ReportEntry, slice: Slice, withParts: boolean): (string | number)[] {
  const last = slice.attempts.at(-1);
  const mail = [
    entry.source,
    entry.destination,
    slice.status,
    slice.class ?? "",
    slice.attempts.length,
    last?.exitCode ?? "",
    last?.messagesTransferred ?? "",
    last?.bytesTransferred ?? "",
    last?.logFile ?? "",
    slice.remedy ?? "",
    "",
    "",
  ];
  const part = withParts ? ["mail", slice.status, slice.class ?? "", "", "", "", "", ""] : [];
  return [...mail, ...part, slice.id, sliceWhat(slice)];
}

/** report.csv a row at a time, so that a long list is never one string. */
export function* reportCsvPieces(report: Report): Generator<string> {
  const withParts = report.mailboxes.some((entry) => entry.parts);
  const withSlices = report.mailboxes.some((entry) => entry.slices);
  const noSlice = withSlices ? ["", ""] : [];
  yield stringify([
    [...CSV_COLUMNS, ...(withParts ? PART_COLUMNS : []), ...(withSlices ? SLICE_COLUMNS : [])],
  ]);
  for (const entry of report.mailboxes) {
    if (!withParts) yield stringify([[...row(entry), ...noSlice]]);
    else if (!entry.parts)
      yield stringify([
        [...row(entry), "mail", entry.status, entry.class ?? "", "", "", "", "", "", ...noSlice],
      ]);
    else
      for (const part of partsOf(entry)) yield stringify([[...partRow(entry, part), ...noSlice]]);
    for (const slice of entry.slices ?? []) yield stringify([sliceRow(entry, slice, withParts)]);
  }
}
