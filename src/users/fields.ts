// Checks shared by both users-file formats: addresses, passwords, where a line is.
import { InputError } from "../errors.js";
import type { UsersFile } from "./types.js";
import { isAddress } from "./address.js";

export function lineOf(file: string, line: number): string {
  return `${file}, line ${line}`;
}

export function isSkipped(line: string): boolean {
  return line.startsWith("#") || line.trim() === "";
}
export type Parsed = Pick<UsersFile, "mailboxes" | "notices">;
export function checkAddress(
  address: string,
  role: "source" | "destination",
  where: string,
): string {
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
export function printable(text: string): string {
  const shown = text.length > 80 ? `${text.slice(0, 80)}…` : text;
  return shown.replace(/\p{C}/gu, (c) => `\\u{${c.codePointAt(0)?.toString(16)}}`);
}

/** Kept byte-exact; only what cannot reach imapsync as one line is refused. */
export function checkPassword(password: string, where: string): string | undefined {
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
