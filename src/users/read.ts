// The users file, in either format (CSV or imapsync's bulk lines) → mailboxes, every problem an
// InputError naming the file and the line. Password files are only located here; they are read
// after selection, for the mailboxes that run (passwords.ts).
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { InputError } from "../errors.js";
import type { Mailbox, UsersFile } from "./types.js";
import { parseBulkUsers, BULK_LINE, BULK_MIN_FIELDS } from "./bulk.js";
import { CSV_HEADER, isCsvColumn, normalizeColumn, parseCsvUsers } from "./csv.js";
import { isSkipped, lineOf } from "./fields.js";
import { decodeUtf8, unreadableReason } from "./passwords.js";

/** Reads a users file; a password_file is resolved against the users file's folder. */
export async function readUsersFile(file: string): Promise<UsersFile> {
  const bytes = await readOrExplain(file);
  const users: UsersFile = {
    ...parseUsers(bytes, file),
    digest: `sha256:${createHash("sha256").update(bytes).digest("hex")}`,
  };
  const folder = path.dirname(path.resolve(file));
  for (const mailbox of users.mailboxes) {
    if (mailbox.passwordFile !== undefined) {
      mailbox.passwordFile = path.resolve(folder, mailbox.passwordFile);
    }
  }
  return users;
}

async function readOrExplain(file: string): Promise<Uint8Array> {
  try {
    return await readFile(file);
  } catch (error) {
    throw new InputError(
      file,
      `the users file ${unreadableReason(error)}`,
      howToCreate(file, error),
    );
  }
}

/** What to do about a users file that is not there, or that Docker replaced with a folder. */
function howToCreate(file: string, error: unknown): string {
  const fromExample = `cp users.csv.example ${file} (the example is in the repository), then one line per mailbox under the header ${CSV_HEADER}`;
  switch ((error as NodeJS.ErrnoException).code) {
    case "ENOENT":
      return `Check the path, or create it: ${fromExample}.`;
    case "EISDIR":
      // `docker run -v ./users.csv:...` of a file that did not exist makes a root-owned folder.
      return `If Docker made it (a bind mount of a file that did not exist creates a folder in its place), remove it with sudo rmdir ${file} and create the file: ${fromExample}.`;
    default:
      return `Check the path and its permissions.`;
  }
}

/**
 * Turns the text of a users file into mailboxes, or throws one InputError naming the file, the
 * line and the problem. Bytes are decoded strictly, so a file saved in Latin-1 is refused rather
 * than turning "Éléments" or a password into replacement characters.
 */
export function parseUsers(input: string | Uint8Array, file: string): UsersFile {
  const text = (typeof input === "string" ? input : decodeOrExplain(input, file)).replace(
    /^\uFEFF/,
    "",
  );
  const first = firstContentLine(text);
  if (first === undefined) {
    throw new InputError(
      file,
      "the users file lists no mailbox",
      `Add a header line ${CSV_HEADER} and one line per mailbox.`,
    );
  }
  const format = detectFormat(first.text);
  if (format === undefined) {
    const hint = first.text.includes(";") ? " (CSV columns are separated by commas)" : "";
    throw new InputError(
      lineOf(file, first.line),
      `this line is neither a CSV header nor an imapsync bulk line${hint}`,
      `Start the file with the header ${CSV_HEADER}, or write one mailbox per line as ${BULK_LINE}.`,
    );
  }
  const parsed = format === "csv" ? parseCsvUsers(text, file) : parseBulkUsers(text, file);
  if (parsed.mailboxes.length === 0) {
    throw new InputError(file, "the users file lists no mailbox", "Add one line per mailbox.");
  }
  checkUnique(parsed.mailboxes, file);
  return { path: file, format, ...parsed };
}

function decodeOrExplain(bytes: Uint8Array, file: string): string {
  const text = decodeUtf8(bytes);
  if (text !== undefined) return text;
  // Decode line by line only now, to name the first line that is not UTF-8.
  let start = 0;
  for (let line = 1; ; line++) {
    const end = bytes.indexOf(0x0a, start);
    const stop = end === -1 ? bytes.length : end;
    if (decodeUtf8(bytes.subarray(start, stop)) === undefined || end === -1) {
      throw new InputError(
        lineOf(file, line),
        "this line is not valid UTF-8 text",
        "Save the file as UTF-8 (Excel: CSV UTF-8), then run again.",
      );
    }
    start = end + 1;
  }
}

function firstContentLine(text: string): { text: string; line: number } | undefined {
  let start = 0;
  for (let line = 1; start <= text.length; line++) {
    const end = text.indexOf("\n", start);
    const stop = end === -1 ? text.length : end;
    const content = text.slice(start, stop);
    if (!isSkipped(content)) return { text: content, line };
    if (end === -1) return undefined;
    start = end + 1;
  }
  return undefined;
}

/** A bulk line has at least 5 `;` fields, which no CSV header can have; a header names a column. */
function detectFormat(line: string): UsersFile["format"] | undefined {
  if (line.split(";").length >= BULK_MIN_FIELDS) return "imapsync";
  const names = line.split(",").map((name) => normalizeColumn(name.replace(/"/g, "")));
  return names.some(isCsvColumn) ? "csv" : undefined;
}

/** Two lines for one source would run two copies of a mailbox at once; two into one destination would merge them. */
function checkUnique(mailboxes: Mailbox[], file: string): void {
  const sources = new Map<string, number>();
  const destinations = new Map<string, number>();
  for (const mailbox of mailboxes) {
    const where = lineOf(file, mailbox.line);
    const source = mailbox.source.toLowerCase();
    const sameSource = sources.get(source);
    if (sameSource !== undefined) {
      throw new InputError(
        where,
        `the source mailbox ${mailbox.source} is already listed on line ${sameSource}`,
        `Keep only one of lines ${sameSource} and ${mailbox.line} of ${file}.`,
      );
    }
    sources.set(source, mailbox.line);
    const destination = `${mailbox.host2?.toLowerCase() ?? ""} ${mailbox.destination.toLowerCase()}`;
    const sameDestination = destinations.get(destination);
    if (sameDestination !== undefined) {
      throw new InputError(
        where,
        `the destination mailbox ${mailbox.destination} already receives the source of line ${sameDestination}`,
        `Give lines ${sameDestination} and ${mailbox.line} of ${file} different destinations.`,
      );
    }
    destinations.set(destination, mailbox.line);
  }
}
