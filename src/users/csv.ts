// The CSV users file (source,destination,password,password_file), parsed with csv-parse.
import { CsvError } from "csv-parse";
import { parse as parseCsv } from "csv-parse/sync";
import { InputError } from "../errors.js";
import type { Mailbox } from "./types.js";
import { checkAddress, checkPassword, lineOf, printable, type Parsed } from "./fields.js";

/** The columns of the CSV users file; only `source` is required. */
export const CSV_COLUMNS = ["source", "destination", "password", "password_file"] as const;
export type CsvColumn = (typeof CSV_COLUMNS)[number];

export const CSV_HEADER = CSV_COLUMNS.join(",");
export function normalizeColumn(name: string): string {
  return name.trim().toLowerCase();
}

export function isCsvColumn(name: string): name is CsvColumn {
  return (CSV_COLUMNS as readonly string[]).includes(name);
}
interface CsvRow {
  record: string[];
  info: { lines: number };
}

export function parseCsvUsers(text: string, file: string): Parsed {
  let rows: CsvRow[];
  try {
    rows = parseCsv(text, {
      comment: "#",
      comment_no_infix: true,
      // Not auto-detected: a stray CR first would make every LF part of a value.
      record_delimiter: ["\r\n", "\n"],
      skip_empty_lines: true,
      relax_column_count: true,
      info: true,
    }) as unknown as CsvRow[];
  } catch (error) {
    throw error instanceof CsvError ? csvSyntaxError(error, file) : error;
  }
  const [header, ...records] = rows.filter((row) =>
    row.record.some((field) => field.trim() !== ""),
  );
  if (header === undefined) {
    throw new InputError(file, "the users file lists no mailbox", "Add one line per mailbox.");
  }
  const columns = readHeader(header, file);
  const mailboxes = records.map((row) => {
    const line = startLine(row);
    const where = lineOf(file, line);
    if (row.record.length > columns.length) {
      throw new InputError(
        where,
        `this line has ${row.record.length} fields but the header has ${columns.length}`,
        'Enclose a value holding a comma in double quotes ("p,ss"), or add the missing column to the header.',
      );
    }
    const fields = new Map(columns.map((column, i) => [column, row.record[i] ?? ""]));
    return csvMailbox((column) => fields.get(column) ?? "", line, where);
  });
  return { mailboxes, notices: [] };
}

/** csv-parse counts lines up to the end of a record; a quoted field may span several. */
function startLine({ record, info }: CsvRow): number {
  return info.lines - record.reduce((sum, field) => sum + countNewlines(field), 0);
}

function countNewlines(text: string): number {
  let count = 0;
  for (let i = text.indexOf("\n"); i !== -1; i = text.indexOf("\n", i + 1)) count++;
  return count;
}

/** csv-parse's own message quotes field values, which may be passwords: describe it ourselves. */
function csvSyntaxError(error: CsvError, file: string): InputError {
  const where = typeof error.lines === "number" ? lineOf(file, error.lines) : file;
  const problems: Partial<Record<string, string>> = {
    CSV_QUOTE_NOT_CLOSED:
      "the file ends inside a quoted value: a double quote on this line or above is not closed",
    INVALID_OPENING_QUOTE: "a double quote appears inside a value that does not start with one",
    CSV_INVALID_CLOSING_QUOTE: "a closing double quote is followed by other characters",
  };
  return new InputError(
    where,
    problems[error.code] ?? `this line is not valid CSV (${error.code})`,
    'Enclose a value holding a comma or a double quote in double quotes, and double each double quote inside it ("pa""ss,word").',
  );
}

function readHeader(row: CsvRow, file: string): CsvColumn[] {
  const where = lineOf(file, startLine(row));
  const record = row.record;
  const columns: CsvColumn[] = [];
  for (const [i, raw] of record.entries()) {
    const name = normalizeColumn(raw);
    if (!isCsvColumn(name)) {
      const hint = name.includes(";") ? " (columns are separated by commas, not semicolons)" : "";
      throw new InputError(
        where,
        name === ""
          ? `header column ${i + 1} has no name`
          : `unknown column "${printable(raw.trim())}"${hint}`,
        `Use only the columns ${CSV_COLUMNS.join(", ")}.`,
      );
    }
    if (columns.includes(name)) {
      throw new InputError(
        where,
        `the column "${name}" appears twice`,
        `Keep one "${name}" column.`,
      );
    }
    columns.push(name);
  }
  if (!columns.includes("source")) {
    throw new InputError(
      where,
      'the header has no "source" column',
      'Add a "source" column holding each Microsoft 365 mailbox address.',
    );
  }
  return columns;
}

function csvMailbox(field: (column: CsvColumn) => string, line: number, where: string): Mailbox {
  const source = checkAddress(field("source").trim(), "source", where);
  const destination = checkAddress(field("destination").trim() || source, "destination", where);
  const password = checkPassword(field("password"), where);
  const passwordFile = field("password_file").trim() || undefined;
  if (password !== undefined && passwordFile !== undefined) {
    throw new InputError(
      where,
      "this line has both a password and a password_file",
      "Keep only one of the two.",
    );
  }
  return { source, destination, password, passwordFile, extraArgs: [], line };
}
