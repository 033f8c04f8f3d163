// Writing the report's files: report.json, report.csv and report.html, each piece by piece into a
// temporary file that is flushed to disk and then renamed over the old one. A reader (or a crash)
// never sees half a file, and 10,000 mailboxes are never one string: a whole-report string
// (two-byte once a folder name has an accent) was the largest allocation of a long run.
import { once } from "node:events";
import { createWriteStream } from "node:fs";
import { open, rename, rm } from "node:fs/promises";
import type { Report } from "./schema.js";
import { persisted } from "./parts.js";
import { reportCsvPieces } from "./csv.js";
import { renderHtmlReport } from "./html.js";

/** Every report file is the admin's alone: it names every mailbox. */
const MODE = 0o600;

export async function writeInPieces(file: string, pieces: Iterable<string>): Promise<void> {
  const temporary = `${file}.${process.pid}.tmp`;
  const out = createWriteStream(temporary, { mode: MODE });
  try {
    for (const piece of pieces) {
      if (!out.write(piece)) await once(out, "drain");
    }
    out.end();
    await once(out, "finish");
    // On disk before the rename: after a power cut the name holds the old file or the new one.
    const written = await open(temporary, "r");
    try {
      await written.datasync();
    } finally {
      await written.close();
    }
    await rename(temporary, file);
  } catch (error) {
    // The stream opens its file asynchronously: removed before it is closed, the file could be
    // created after the rm and left behind.
    await new Promise<void>((resolve) => {
      out.destroy();
      if (out.closed) resolve();
      else out.once("close", () => resolve());
    });
    await rm(temporary, { force: true });
    throw error;
  }
}

/**
 * The text of `JSON.stringify(report, null, 2)`, one mailbox at a time (the mailboxes come last,
 * after the report's own fields).
 */
export function* reportJsonPieces(report: Report): Generator<string> {
  const { mailboxes, ...fields } = report;
  const head = JSON.stringify({ ...fields, mailboxes: [] }, null, 2);
  if (mailboxes.length === 0) {
    yield `${head}\n`;
    return;
  }
  yield head.slice(0, -"[]\n}".length) + "[";
  for (let i = 0; i < mailboxes.length; i++) {
    const entry = JSON.stringify(persisted(mailboxes[i]!), null, 2).replaceAll("\n", "\n    ");
    yield `${i === 0 ? "" : ","}\n    ${entry}`;
  }
  yield "\n  ]\n}\n";
}

export function writeReportJson(report: Report, file: string): Promise<void> {
  return writeInPieces(file, reportJsonPieces(report));
}

export function writeReportCsv(report: Report, file: string): Promise<void> {
  return writeInPieces(file, reportCsvPieces(report));
}

export function writeHtmlReport(report: Report, file: string): Promise<void> {
  return writeInPieces(file, renderHtmlReport(report));
}
