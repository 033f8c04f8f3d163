// The report's journal: while a migration runs, each change to a mailbox's entry is appended to
// `report.journal` (one JSON line: the entry as it now is) and flushed to disk (fdatasync) before
// the change counts as made, so kill -9 or a power cut loses no finished attempt. report.json and
// report.csv are written whole only when the run starts and ends (and when the journal has grown
// past the report's own size, which keeps the work per change flat): rewriting every mailbox after
// every change made the cost of a change grow with the list. Readers replay the journal over
// report.json; the last line of a mailbox wins.
import { createReadStream } from "node:fs";
import { open, stat, type FileHandle } from "node:fs/promises";
import { createInterface } from "node:readline";
import { InputError } from "../errors.js";
import type { JournalLine, ReportEntry } from "./schema.js";
import { persisted } from "./parts.js";

/** `…/report.json` → `…/report.journal`. */
export function journalPath(reportJson: string): string {
  return reportJson.replace(/(\.json)?$/, ".journal");
}

interface Pending {
  line: string;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/** Appends with group commit: the lines queued while one flush runs share the next write and sync. */
export class Journal {
  private pending: Pending[] = [];
  /** The flush under way, if any. */
  private flushing?: Promise<void>;
  /** While report.json is rewritten, lines wait: they go to the emptied journal afterwards. */
  private compacting?: Promise<void>;
  private size: number;

  private constructor(
    readonly file: string,
    private readonly handle: FileHandle,
    size: number,
  ) {
    this.size = size;
  }

  /** Opens (creating, 0600) the journal for appending. */
  static async open(file: string): Promise<Journal> {
    const handle = await open(file, "a", 0o600);
    return new Journal(file, handle, (await handle.stat()).size);
  }

  /** Bytes in the journal, flushed or queued. */
  get bytes(): number {
    return this.size;
  }

  /** Resolves once the entry, as it is now, is on disk. */
  append(entry: ReportEntry): Promise<void> {
    const written: JournalLine = { entry: persisted(entry) };
    const line = `${JSON.stringify(written)}\n`;
    this.size += Buffer.byteLength(line);
    return new Promise((resolve, reject) => {
      this.pending.push({ line, resolve, reject });
      this.kick();
    });
  }

  private kick(): void {
    if (this.flushing || this.compacting || this.pending.length === 0) return;
    this.flushing = this.flush().finally(() => {
      this.flushing = undefined;
      this.kick();
    });
  }

  private async flush(): Promise<void> {
    const batch = this.pending;
    this.pending = [];
    try {
      await this.handle.write(batch.map((p) => p.line).join(""));
      await this.handle.datasync();
      for (const p of batch) p.resolve();
    } catch (error) {
      for (const p of batch) p.reject(error);
    }
  }

  /**
   * `write` puts everything in the journal so far into report.json (the caller took its snapshot
   * just before this call, in the same tick); then the journal is emptied. Lines queued before the
   * call are covered by the snapshot and resolve once it is written; later ones wait and follow.
   */
  compact(write: () => Promise<void>): Promise<void> {
    const covered = this.pending;
    this.pending = [];
    this.compacting = this.rewrite(covered, write);
    return this.compacting;
  }

  private async rewrite(covered: Pending[], write: () => Promise<void>): Promise<void> {
    try {
      await this.flushing;
      await write();
      await this.handle.truncate(0);
      await this.handle.datasync();
      this.size = this.pending.reduce((n, p) => n + Buffer.byteLength(p.line), 0);
      for (const p of covered) p.resolve();
    } catch (error) {
      for (const p of covered) p.reject(error);
      throw error;
    } finally {
      this.compacting = undefined;
      this.kick();
    }
  }

  /** After the last append: waits until every line is on disk. */
  async close(): Promise<void> {
    await this.compacting?.catch(() => undefined);
    while (this.flushing) await this.flushing;
    await this.handle.close();
  }
}

/**
 * Every entry of the journal, in order, read line by line (never the whole file at once). A last
 * line cut short (the power went while it was written) is dropped: its change never counted. A
 * damaged line before the last is an input error naming the file and the line.
 */
export async function* readJournal(
  file: string,
  check: (data: unknown) => ReportEntry | string,
): AsyncGenerator<ReportEntry> {
  const size = await stat(file).then(
    (s) => s.size,
    () => 0,
  );
  if (size === 0) return;
  const lines = createInterface({ input: createReadStream(file, "utf8"), crlfDelay: Infinity });
  let number = 0;
  let bad: { number: number; problem: string } | undefined;
  for await (const line of lines) {
    number++;
    if (bad) throw damaged(file, bad);
    if (line === "") continue;
    let data: unknown;
    try {
      data = (JSON.parse(line) as { entry?: unknown }).entry;
    } catch (error) {
      bad = { number, problem: `not valid JSON (${(error as Error).message})` };
      continue;
    }
    const entry = check(data);
    if (typeof entry === "string") bad = { number, problem: entry };
    else yield entry;
  }
  // A damaged last line is only fatal when something follows it: here it is the torn tail.
}

function damaged(file: string, bad: { number: number; problem: string }): InputError {
  return new InputError(
    `${file} line ${bad.number}`,
    `the report's journal is damaged: ${bad.problem}`,
    "Move the journal aside to use report.json as it was when the run started, or restore it.",
  );
}
