// Where a configured program is: a bare name is looked up on PATH (with `which`), a path is taken
// relative to the working folder. Located when the settings are loaded, so a missing imapsync
// stops the run before any sign-in.
import { accessSync, constants, statSync } from "node:fs";
import path from "node:path";
import which from "which";
import { splitWords } from "../shell-words.js";
import type { Command } from "./types.js";

/** Why `file` cannot be read (or run, for X_OK); undefined when it can. */
export function fileProblem(file: string, mode: number): string | undefined {
  try {
    if (!statSync(file).isFile()) return "is not a file";
    accessSync(file, mode);
    return undefined;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return "does not exist";
    return mode === constants.X_OK ? "is not executable" : "cannot be read";
  }
}

/** "perl /opt/imapsync/imapsync" → { file: "perl", args: [script] }, or why it names no program. */
export function parseCommand(text: string): Command | { problem: string } {
  const split = splitWords(text);
  if ("problem" in split) return split;
  const [file, ...args] = split.words;
  return file === undefined || file === "" ? { problem: "it names no program" } : { file, args };
}

/** The program's full path, or why it cannot be run (`problem` is a clause: "was not found..."). */
export function locateProgram(
  file: string,
  where: { cwd: string; env: NodeJS.ProcessEnv },
): { file: string; problem?: string } {
  if (!file.includes(path.sep) && !file.includes("/")) {
    const found = which.sync(file, { path: where.env.PATH ?? "", nothrow: true });
    return found === null ? { file, problem: "was not found on PATH" } : { file: found };
  }
  const absolute = path.resolve(where.cwd, file);
  const problem = fileProblem(absolute, constants.X_OK);
  return { file: absolute, ...(problem === undefined ? {} : { problem }) };
}
