import { createReadStream } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";
import type { Readable } from "node:stream";
import { ExitCode, InputError } from "../errors.js";
import { RunClassifier } from "../imapsync/classify.js";
import { readLineBatches } from "../lines.js";
import { remedyFor } from "../outcomes/remedies.js";
import type { RunClass } from "../outcomes/classes.js";

/** What `diagnose --json` prints for one input, one object per line. */
export interface DiagnoseResult {
  file: string;
  class: RunClass;
  remedy: string;
  evidence: string[];
  /** From the log's `Exiting with return value N` line; null without one, or for EXIT_BY_SIGNAL. */
  exitCode: number | null;
}

const STDIN = "-";

/** Opens a log file, turning every reason it cannot be read into a sentence naming it. */
async function openLog(file: string): Promise<FileHandle> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(file, "r");
    if ((await handle.stat()).isDirectory()) {
      throw new InputError(
        file,
        "is a directory, not a log file",
        "Name an imapsync log file, or - to read standard input.",
      );
    }
    return handle;
  } catch (error) {
    await handle?.close();
    if (error instanceof InputError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    const problem =
      code === "ENOENT"
        ? "no such file"
        : code === "EACCES"
          ? "permission denied"
          : `cannot be read (${String(error)})`;
    throw new InputError(
      file,
      problem,
      "Check the path and permissions of the imapsync log, or use - to read standard input.",
    );
  }
}

async function classifyStream(file: string, stream: Readable): Promise<DiagnoseResult> {
  const classifier = new RunClassifier();
  for await (const lines of readLineBatches(stream)) {
    for (const line of lines) classifier.push(line);
  }
  const classification = classifier.finish();
  return {
    file,
    class: classification.class,
    remedy: remedyFor(classification.class, classification),
    evidence: classification.evidence,
    exitCode: classifier.loggedExitCode ?? null,
  };
}

function formatText(result: DiagnoseResult): string {
  const evidence =
    result.evidence.length > 0
      ? result.evidence.map((line) => `    ${line}`)
      : ["    (no deciding line)"];
  return [
    `${result.file}: ${result.class}`,
    `  remedy: ${result.remedy}`,
    "  evidence:",
    ...evidence,
    "",
  ].join("\n");
}

/**
 * Classifies imapsync logs (file paths, or `-` for standard input), streaming each one line by
 * line. Returns 0 when every input is ok, 1 otherwise; no input at all, or a missing or unreadable
 * file, throws InputError (exit 2) before anything is printed for it.
 */
export async function diagnose(
  inputs: string[],
  opts: { json: boolean },
  io: { stdout: NodeJS.WritableStream; stdin: NodeJS.ReadableStream },
): Promise<number> {
  if (inputs.length === 0) {
    throw new InputError(
      "diagnose",
      "no input named",
      "Name one or more imapsync log files, or - to read standard input (m365-imapsync diagnose - < run.log).",
    );
  }
  let allOk = true;
  for (const input of inputs) {
    let result: DiagnoseResult;
    if (input === STDIN) {
      result = await classifyStream(STDIN, io.stdin as Readable);
    } else {
      const handle = await openLog(input);
      try {
        result = await classifyStream(
          input,
          createReadStream("", { fd: handle, autoClose: false }),
        );
      } finally {
        await handle.close();
      }
    }
    allOk &&= result.class === "ok";
    io.stdout.write(opts.json ? `${JSON.stringify(result)}\n` : formatText(result));
  }
  return allOk ? ExitCode.ok : ExitCode.mailboxFailed;
}
