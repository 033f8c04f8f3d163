// imapsync's own bulk format (host1;user1;password1;host2;user2;password2;extra options;).
import { InputError } from "../errors.js";
import { splitWords } from "../shell-words.js";
import type { Mailbox } from "./types.js";
import { checkAddress, checkPassword, isSkipped, lineOf, type Parsed } from "./fields.js";

export const BULK_LINE = "host1;user1;password1;host2;user2;password2;extra options;";
/** Columns 1-6 may be followed by the extra options and imapsync's dummy 8th field. */
export const BULK_MIN_FIELDS = 5;
export const BULK_MAX_FIELDS = 8;
export function parseBulkUsers(text: string, file: string): Parsed {
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
