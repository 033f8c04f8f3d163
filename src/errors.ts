import { readFile } from "node:fs/promises";

/** Exit codes of every command (README lists them). */
export const ExitCode = {
  ok: 0,
  mailboxFailed: 1,
  badInput: 2,
  noToken: 3,
  interrupted: 130,
  terminated: 143,
} as const;

/** An interrupted command ends with the signal's conventional code; undefined when not interrupted. */
export function interruptedExit(signal: AbortSignal): number | undefined {
  if (!signal.aborted) return undefined;
  return signal.reason === "SIGTERM" ? ExitCode.terminated : ExitCode.interrupted;
}

/**
 * An error meant for a person: `message` is a sentence that says what is wrong and what to do,
 * and `exitCode` is what the process ends with.
 */
export class UserError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = ExitCode.badInput,
  ) {
    super(message);
    this.name = "UserError";
  }
}

/** Bad input or configuration: exit 2. `where` names the file and line, or the setting. */
export class InputError extends UserError {
  constructor(where: string, problem: string, fix: string) {
    super(`${where}: ${problem}. ${fix}`, ExitCode.badInput);
    this.name = "InputError";
  }
}

/**
 * No usable access token: exit 3. `transient` marks a failure worth trying again later (network,
 * server error, nobody signed in yet), as opposed to one only a change of set-up can fix.
 */
export class TokenError extends UserError {
  readonly transient: boolean;
  constructor(message: string, opts: { transient?: boolean } = {}) {
    super(message, ExitCode.noToken);
    this.name = "TokenError";
    this.transient = opts.transient ?? false;
  }
}

/** A file the person named, read whole (small files only), or an InputError that names it. */
export async function readNamedFile(file: string, what: string, fix: string): Promise<string> {
  try {
    return await readFile(file, "utf8");
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new InputError(file, `cannot read ${what} (${reason})`, fix);
  }
}
