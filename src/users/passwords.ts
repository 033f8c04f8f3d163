// Password files (a users file's password_file, DEST_ADMIN_PASSWORD_FILE): the first line, read
// strictly, never more than PASSWORD_FILE_MAX_BYTES.
import { closeSync, openSync, readSync } from "node:fs";
import path from "node:path";
import { InputError } from "../errors.js";
import type { Config } from "../config/types.js";
import type { Mailbox, PasswordSource } from "./types.js";
import { lineOf } from "./fields.js";

/** A password file is read up to its first line; anything longer is not a password. */
export const PASSWORD_FILE_MAX_BYTES = 64 * 1024;

/**
 * In a container the tool often runs as another uid than the file's owner: say which, and how
 * to run as the owner, since "permission denied" alone sends people to chmod.
 */
function runsAs(): string {
  const uid = process.getuid?.();
  if (uid === undefined) return "";
  return ` for uid ${uid} (gid ${process.getgid?.()}), the account this tool runs as: make the file readable by that uid, or run the tool as the file's owner (Docker: --user "$(id -u):$(id -g)"; compose: MIGRATOR_UID and MIGRATOR_GID in .env)`;
}

export function unreadableReason(error: unknown): string {
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
/** A secret's file made as it should be: 0600 in a 0700 folder, the secret never in a command. */
function howToCreate(file: string): string {
  // In a container the current folder is the mounted one: a relative path also holds on the host.
  const relative = path.relative(process.cwd(), file);
  const shown = relative.startsWith("..") || path.isAbsolute(relative) ? file : relative;
  return `Create it, readable only by you: (umask 077 && mkdir -p ${path.dirname(shown)} && cat > ${shown}), then type the secret, Enter and Ctrl-D.`;
}

/**
 * The first line of a secret's file (password_file, DEST_ADMIN_PASSWORD_FILE, APP_SECRET_FILE);
 * every problem is an InputError at `where`. Synchronous, so settings can be read with it.
 */
export function readPasswordFile(file: string, where: string, fix: string): string {
  let bytes: Uint8Array;
  try {
    bytes = readHead(file, PASSWORD_FILE_MAX_BYTES);
  } catch (error) {
    const missing = (error as NodeJS.ErrnoException).code === "ENOENT";
    throw new InputError(
      where,
      `the password file ${file} ${unreadableReason(error)}`,
      missing ? `${howToCreate(file)} Or ${fix.charAt(0).toLowerCase()}${fix.slice(1)}` : fix,
    );
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
export function decodeUtf8(bytes: Uint8Array): string | undefined {
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    return undefined;
  }
}

/**
 * Where a mailbox's destination password comes from: the destination admin's file when one is
 * configured (every mailbox logs in as that admin), else the users file's password or password
 * file. Nothing is read here.
 */
export function passwordSourceOf(
  mailbox: Mailbox,
  usersFile: string,
  config: Pick<Config, "destAdminPasswordFile">,
): PasswordSource {
  if (config.destAdminPasswordFile) {
    return {
      kind: "file",
      file: config.destAdminPasswordFile,
      where: "DEST_ADMIN_PASSWORD_FILE",
      fix: "Point DEST_ADMIN_PASSWORD_FILE at a readable file whose first line is the destination admin's password.",
    };
  }
  if (mailbox.passwordFile !== undefined) {
    return {
      kind: "file",
      file: mailbox.passwordFile,
      where: lineOf(usersFile, mailbox.line),
      fix: "Point password_file at a readable file whose first line is the password.",
    };
  }
  return mailbox.password !== undefined
    ? { kind: "inline", password: mailbox.password }
    : { kind: "none" };
}

/** The password itself; a file is read with the care of readPasswordFile (exit 2 naming it). */
export async function readPassword(source: PasswordSource): Promise<string | undefined> {
  switch (source.kind) {
    case "none":
      return undefined;
    case "inline":
      return source.password;
    case "file":
      return readPasswordFile(source.file, source.where, source.fix);
  }
}
