import { createHash } from "node:crypto";
import { closeSync, openSync, readSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { CsvError } from "csv-parse";
import { parse as parseCsv } from "csv-parse/sync";
import { InputError } from "./errors.js";
import type { Config, Mailbox, UsersFile } from "./types.js";

/** The columns of the CSV users file; only `source` is required. */
export const CSV_COLUMNS = ["source", "destination", "password", "password_file"] as const;
type CsvColumn = (typeof CSV_COLUMNS)[number];

const CSV_HEADER = CSV_COLUMNS.join(",");
const BULK_LINE = "host1;user1;password1;host2;user2;password2;extra options;";
/** Columns 1-6 may be followed by the extra options and imapsync's dummy 8th field. */
const BULK_MIN_FIELDS = 5;
const BULK_MAX_FIELDS = 8;
/** A password file is read up to its first line; anything longer is not a password. */
const PASSWORD_FILE_MAX_BYTES = 64 * 1024;

/**
 * Pragmatic, not RFC 5322: one `@`, a local part without spaces, control characters or
 * characters that betray a wrong delimiter, and a dotted domain of letters, digits, `-` and `_`.
 * Linear on any input (no nested quantifiers), so a megabyte field cannot hang it.
 */
const ADDRESS = /^[^\s@\p{C},;<>()[\]\\"]+@[\p{L}\p{N}_-]+(?:\.[\p{L}\p{N}_-]+)*$/u;

/** RFC 5321's limit on a path: a longer "address" is garbage, and could not pass through argv. */
const MAX_ADDRESS_LENGTH = 254;

export function isAddress(text: string): boolean {
  return text.length <= MAX_ADDRESS_LENGTH && ADDRESS.test(text);
}

/** Reads a users file and the password files it names; every problem is an InputError. */
export async function readUsersFile(file: string): Promise<UsersFile> {
  const bytes = await readOrExplain(file);
  const users: UsersFile = {
    ...parseUsers(bytes, file),
    digest: `sha256:${createHash("sha256").update(bytes).digest("hex")}`,
  };
  const folder = path.dirname(path.resolve(file));
  for (const mailbox of users.mailboxes) {
    if (mailbox.passwordFile === undefined) continue;
    mailbox.passwordFile = path.resolve(folder, mailbox.passwordFile);
    mailbox.password = readPasswordFile(mailbox.passwordFile, lineOf(file, mailbox.line));
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
      `Check the path, or create it with the header line ${CSV_HEADER}.`,
    );
  }
}

/**
 * In a container the tool often runs as another uid than the file's owner: say which, and how
 * to run as the owner, since "permission denied" alone sends people to chmod.
 */
function runsAs(): string {
  const uid = process.getuid?.();
  if (uid === undefined) return "";
  return ` for uid ${uid} (gid ${process.getgid?.()}), the account this tool runs as: make the file readable by that uid, or run the tool as the file's owner (Docker: --user "$(id -u):$(id -g)"; compose: MIGRATOR_UID and MIGRATOR_GID in .env)`;
}

function unreadableReason(error: unknown): string {
  switch ((error as NodeJS.ErrnoException).code) {
    case "ENOENT":
      return "does not exist";
    case "EACCES":
    case "EPERM":
      return `cannot be read (permission denied)${runsAs()}`;
    case "EISDIR":
      return "is a folder, not a file";
    default:
      return `cannot be read (${(error as Error).message})`;
  }
}

/**
 * The destination admin's password (DEST_ADMIN_PASSWORD_FILE), read with the same care as a
 * users file's password_file; undefined when no admin is configured.
 */
export function readDestinationAdminPassword(config: Config): Promise<string | undefined> {
  const file = config.destAdminPasswordFile;
  if (!file) return Promise.resolve(undefined);
  return Promise.resolve().then(() =>
    readPasswordFile(
      file,
      "DEST_ADMIN_PASSWORD_FILE",
      "Point DEST_ADMIN_PASSWORD_FILE at a readable file whose first line is the destination admin's password.",
    ),
  );
}

/**
 * The first line of a secret's file (password_file, DEST_ADMIN_PASSWORD_FILE, APP_SECRET_FILE);
 * every problem is an InputError at `where`. Synchronous, so settings can be read with it.
 */
export function readPasswordFile(
  file: string,
  where: string,
  fix = "Point password_file at a readable file whose first line is the password.",
): string {
  let bytes: Uint8Array;
  try {
    bytes = readHead(file, PASSWORD_FILE_MAX_BYTES);
  } catch (error) {
    throw new InputError(where, `the password file ${file} ${unreadableReason(error)}`, fix);
  }
  const newline = bytes.indexOf(0x0a);
  if (newline === -1 && bytes.length === PASSWORD_FILE_MAX_BYTES) {
    throw new InputError(where, `the first line of the password file ${file} is too long`, fix);
  }
  const decoded = decodeUtf8(bytes.subarray(0, newline === -1 ? bytes.length : newline));
  // A Windows editor ends the line with CR LF; the CR is not part of the password.
  const password = decoded?.endsWith("\r") ? decoded.slice(0, -1) : decoded;
  if (password === undefined) {
    throw new InputError(where, `the password file ${file} is not UTF-8 text`, fix);
  }
  if (password === "") {
    throw new InputError(where, `the first line of the password file ${file} is empty`, fix);
  }
  return password;
}

function readHead(file: string, maxBytes: number): Uint8Array {
  const fd = openSync(file, "r");
  try {
    const buffer = new Uint8Array(maxBytes);
    let filled = 0;
    while (filled < maxBytes) {
      const bytesRead = readSync(fd, buffer, filled, maxBytes - filled, null);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    return buffer.subarray(0, filled);
  } finally {
    closeSync(fd);
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

function decodeUtf8(bytes: Uint8Array): string | undefined {
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    return undefined;
  }
}

function lineOf(file: string, line: number): string {
  return `${file}, line ${line}`;
}

function isSkipped(line: string): boolean {
  return line.startsWith("#") || line.trim() === "";
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

function normalizeColumn(name: string): string {
  return name.trim().toLowerCase();
}

function isCsvColumn(name: string): name is CsvColumn {
  return (CSV_COLUMNS as readonly string[]).includes(name);
}

type Parsed = Pick<UsersFile, "mailboxes" | "notices">;

interface CsvRow {
  record: string[];
  info: { lines: number };
}

function parseCsvUsers(text: string, file: string): Parsed {
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

function checkAddress(address: string, role: "source" | "destination", where: string): string {
  if (address === "") {
    throw new InputError(
      where,
      `the ${role} mailbox is empty`,
      `Write the ${role} mailbox address, like alice@contoso.com.`,
    );
  }
  if (!isAddress(address)) {
    throw new InputError(
      where,
      `the ${role} mailbox "${printable(address)}" is not an email address`,
      "Write it as name@domain, without spaces.",
    );
  }
  return address;
}

/** Shows an address in a message without letting control characters or a huge value through. */
function printable(text: string): string {
  const shown = text.length > 80 ? `${text.slice(0, 80)}…` : text;
  return shown.replace(/\p{C}/gu, (c) => `\\u{${c.codePointAt(0)?.toString(16)}}`);
}

/** Kept byte-exact; only what cannot reach imapsync as one line is refused. */
function checkPassword(password: string, where: string): string | undefined {
  if (password === "") return undefined;
  if (/[\r\n\0]/.test(password)) {
    throw new InputError(
      where,
      "the password contains a line break or a NUL character",
      "Write the password on one line.",
    );
  }
  return password;
}

function parseBulkUsers(text: string, file: string): Parsed {
  const mailboxes: Mailbox[] = [];
  let sourceFieldsIgnored = false;
  const lines = text.split("\n");
  for (const [index, rawLine] of lines.entries()) {
    const content = rawLine.endsWith("\r") ? rawLine.slice(0, -1) : rawLine;
    if (isSkipped(content)) continue;
    const line = index + 1;
    const where = lineOf(file, line);
    const fields = content.split(";");
    if (fields.length < BULK_MIN_FIELDS || fields.length > BULK_MAX_FIELDS) {
      throw new InputError(
        where,
        `this line has ${fields.length} field${fields.length === 1 ? "" : "s"} separated by ";" instead of 5 to 8`,
        `Write ${BULK_LINE} (a ";" cannot appear inside a value here; use the CSV format for passwords holding one).`,
      );
    }
    const [host1 = "", user1 = "", password1 = "", host2 = "", user2 = "", password2 = ""] = fields;
    sourceFieldsIgnored ||= host1.trim() !== "" || password1 !== "";
    mailboxes.push(bulkMailbox({ user1, host2, user2, password2, extra: fields[6] }, line, where));
  }
  const notices = sourceFieldsIgnored
    ? [
        `${file}: host1 and password1 (columns 1 and 3) are ignored: the source is Microsoft 365, reached with an OAuth2 token.`,
      ]
    : [];
  return { mailboxes, notices };
}

interface BulkFields {
  user1: string;
  host2: string;
  user2: string;
  password2: string;
  extra: string | undefined;
}

function bulkMailbox(fields: BulkFields, line: number, where: string): Mailbox {
  const source = checkAddress(fields.user1.trim(), "source", where);
  const destination = checkAddress(fields.user2.trim() || source, "destination", where);
  const host2 = fields.host2.trim() || undefined;
  if (host2 !== undefined && /[\s\p{C}]/u.test(host2)) {
    throw new InputError(
      where,
      "host2 (column 4) contains spaces or control characters",
      "Write a host name such as imap.example.org, or leave it empty to use HOST2.",
    );
  }
  const split = splitWords(fields.extra ?? "");
  if ("problem" in split) {
    throw new InputError(
      where,
      `the extra options (column 7) are malformed: ${split.problem}`,
      "Close every quote in column 7.",
    );
  }
  const password = checkPassword(fields.password2, where);
  return { source, destination, password, host2, extraArgs: split.words, line };
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

/**
 * Splits options the way a POSIX shell splits words, without expansions: blanks separate words,
 * '...' is literal, "..." allows \" \\ \$ \`, and a backslash outside quotes escapes the next
 * character. `''` stays an empty word (imapsync's `--logdir ''` needs it).
 */
export function splitWords(text: string): { words: string[] } | { problem: string } {
  const words: string[] = [];
  let word: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text.charAt(i);
    if (c === " " || c === "\t" || c === "\r" || c === "\n") {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else if (c === "'") {
      const end = text.indexOf("'", i + 1);
      if (end === -1) return { problem: "a single quote (') is not closed" };
      word = (word ?? "") + text.slice(i + 1, end);
      i = end;
    } else if (c === '"') {
      word ??= "";
      for (i++; text.charAt(i) !== '"'; i++) {
        if (i >= text.length) return { problem: 'a double quote (") is not closed' };
        const escaped =
          text.charAt(i) === "\\" && i + 1 < text.length && '"\\$`'.includes(text.charAt(i + 1));
        if (escaped) i++;
        word += text.charAt(i);
      }
    } else if (c === "\\" && i + 1 < text.length) {
      word = (word ?? "") + text.charAt(++i);
    } else {
      word = (word ?? "") + c;
    }
  }
  if (word !== undefined) words.push(word);
  return { words };
}

export interface Selection {
  only?: string[];
  exclude?: string[];
}

/**
 * Keeps the mailboxes whose source address matches an --only pattern (all when none is given),
 * minus those matching an --exclude pattern. Patterns are case-insensitive shell globs.
 */
export function selectMailboxes(mailboxes: Mailbox[], sel: Selection): Mailbox[] {
  const only = patterns(sel.only, "--only");
  const exclude = patterns(sel.exclude, "--exclude");
  for (const pattern of only) {
    if (!mailboxes.some((mailbox) => pattern.regex.test(mailbox.source))) {
      throw new InputError(
        "--only",
        `the pattern "${pattern.text}" matches no source mailbox of the users file`,
        "Check its spelling; patterns are matched against the source column, like *@contoso.com or alice@*.",
      );
    }
  }
  const selected = mailboxes.filter(
    (mailbox) =>
      (only.length === 0 || only.some((pattern) => pattern.regex.test(mailbox.source))) &&
      !exclude.some((pattern) => pattern.regex.test(mailbox.source)),
  );
  if (selected.length === 0) {
    throw new InputError(
      "--only/--exclude",
      "no mailbox is left to migrate",
      "Loosen --exclude or widen --only.",
    );
  }
  return selected;
}

/** Accepts repeated flags as well as comma-separated lists ("--only a@x,b@x"). */
function patterns(texts: string[] | undefined, flag: string): { text: string; regex: RegExp }[] {
  return (texts ?? [])
    .flatMap((text) => text.split(","))
    .map((text) => text.trim())
    .filter((text) => text !== "")
    .map((text) => {
      const regex = globToRegExp(text);
      if (regex === undefined) {
        throw new InputError(
          flag,
          `the pattern "${text}" has an invalid [...] range`,
          "Write ranges in order, like [a-f].",
        );
      }
      return { text, regex };
    });
}

/**
 * `*` any run, `?` one character, `[abc]` / `[a-f]` / `[!abc]` a class; everything else literal.
 * Undefined when a class is not a valid range ([z-a]).
 */
export function globToRegExp(glob: string): RegExp | undefined {
  let source = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob.charAt(i);
    const close = c === "[" ? glob.indexOf("]", i + 2) : -1;
    if (c === "*") {
      // One ".*" per run of stars: "a**b" must not backtrack twice as hard.
      if (!source.endsWith(".*")) source += ".*";
    } else if (c === "?") source += ".";
    else if (close !== -1) {
      const body = glob.slice(i + 1, close);
      const negated = body.startsWith("!");
      const members = (negated ? body.slice(1) : body).replace(/[\\\]^[]/g, "\\$&");
      source += `[${negated ? "^" : ""}${members}]`;
      i = close;
    } else source += c.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
  }
  try {
    return new RegExp(`^${source}$`, "isu");
  } catch {
    return undefined;
  }
}
