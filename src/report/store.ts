// report.json: reading it back (through the step of its version, brought up to date from its
// journal), and keeping it in step with a run through the journal (journal.ts).
import { rm, stat } from "node:fs/promises";
import path from "node:path";
import { InputError, readNamedFile } from "../errors.js";
import type { Mailbox } from "../users/types.js";
import { REPORT_SCHEMA_VERSION, type PartKind, type Report, type ReportEntry } from "./schema.js";
import { selectParts } from "./parts.js";
import { versionStep } from "./versions.js";
import { Journal, journalPath, readJournal } from "./journal.js";
import { writeReportCsv, writeReportJson } from "./write.js";

export function reportPaths(workDir: string): { json: string; csv: string } {
  return { json: path.join(workDir, "report.json"), csv: path.join(workDir, "report.csv") };
}

/** Where `check` writes its results, beside the migration's report and in the same format. */
export function checkPaths(workDir: string): { json: string; csv: string } {
  return { json: path.join(workDir, "check.json"), csv: path.join(workDir, "check.csv") };
}

/**
 * Reads and checks a report, brought up to date from its journal (report.journal, written by a
 * run that is going on or was killed); a damaged one is an input error that names the file.
 */
export async function loadReport(file: string): Promise<Report> {
  const text = await readNamedFile(
    file,
    "the report",
    "Give the report.json that `migrate` wrote in its work directory.",
  );
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new InputError(
      file,
      `not valid JSON (${(error as Error).message})`,
      "Restore it or rerun `migrate`.",
    );
  }
  const step = versionStep(data);
  const report = step.report(data);
  if (typeof report === "string")
    throw new InputError(
      file,
      report,
      "Give the report.json that `migrate` wrote in its work directory.",
    );
  const bySource = new Map(report.mailboxes.map((entry, i) => [entry.source, i]));
  for await (const entry of readJournal(journalPath(file), step.entry)) {
    const at = bySource.get(entry.source);
    if (at === undefined) bySource.set(entry.source, report.mailboxes.push(entry) - 1);
    else report.mailboxes[at] = entry;
  }
  return report;
}

/**
 * Keeps the report on disk in step with the migration. `saveEntry` appends the one mailbox that
 * changed to the journal and resolves once it is on disk: the cost of a change does not grow with
 * the list, and a crash loses no change that was saved. `save` writes report.json and report.csv
 * whole, atomically (a crash leaves the previous complete version, never half a file), and empties
 * the journal: at the start and end of a run, and whenever the journal outgrows the report, so
 * that replaying it stays cheap. Saves are serialized so an older state never overwrites a newer.
 */
export class ReportStore {
  private queue: Promise<void> = Promise.resolve();
  private readonly bySource = new Map<string, ReportEntry>();
  /** Opened by the first saveEntry, after the saves queued before it (which remove an old one). */
  private journal?: Promise<Journal>;
  /** Size of report.json when last written: the journal may grow to about twice that. */
  private reportBytes = 0;

  constructor(
    readonly report: Report,
    readonly files: { json: string; csv: string },
  ) {
    for (const entry of report.mailboxes) this.bySource.set(entry.source, entry);
  }

  entry(source: string): ReportEntry {
    const found = this.bySource.get(source);
    if (!found) throw new Error(`No report entry for ${source}`);
    return found;
  }

  save(): Promise<void> {
    // The journal as it is now: one opened after this save was queued waits for it (its opening
    // is queued behind it), so waiting for that one here would wait for itself.
    const journal = this.journal;
    const write = () => this.writeWhole(journal);
    this.queue = this.queue.then(write, write);
    return this.queue;
  }

  async saveEntry(entry: ReportEntry): Promise<void> {
    const open = () => Journal.open(journalPath(this.files.json));
    this.journal ??= this.queue.then(open, open);
    const journal = await this.journal;
    const appended = journal.append(entry);
    // A compaction that fails leaves the journal whole; the last save at exit reports the error.
    if (journal.bytes > Math.max(JOURNAL_MIN_BYTES, 2 * this.reportBytes))
      void this.save().catch(() => undefined);
    await appended;
  }

  private async writeWhole(journal: Promise<Journal> | undefined): Promise<void> {
    const write = async () => {
      await writeReportJson(this.report, this.files.json);
      await writeReportCsv(this.report, this.files.csv);
      this.reportBytes = (await stat(this.files.json)).size;
    };
    if (journal) await (await journal).compact(write);
    else {
      await write();
      // A journal left by a run that was killed is in report.json now.
      await rm(journalPath(this.files.json), { force: true });
    }
  }

  /** The last save: report.json and report.csv complete, the journal empty and closed. */
  async close(): Promise<void> {
    await this.save();
    await (await this.journal)?.close();
    this.journal = undefined;
  }
}

/** Below this the journal is never compacted during a run (a few hundred changes). */
const JOURNAL_MIN_BYTES = 1 << 20;

/**
 * The report of this run. Earlier runs in the same work directory are kept: the entries of
 * mailboxes not selected this time stay as they were, and a selected mailbox keeps its attempts
 * (log files are numbered after them) and the folder mapping of its first run.
 */
export function newReport(
  usersFile: string,
  mailboxes: Mailbox[],
  previous: Report | undefined,
  now: Date,
  /** Which list (digest of the users file) and which shard this report is of. */
  identity: Pick<Report, "usersDigest" | "shard"> = {},
  /** ITEMS: the selected mailboxes get a part for each (parts.ts), unless it is mail alone. */
  items: readonly PartKind[] = ["mail"],
): Report {
  const selected = new Map(mailboxes.map((mailbox) => [mailbox.source, mailbox]));
  const entry = (mailbox: Mailbox, before?: ReportEntry): ReportEntry => {
    const fresh: ReportEntry = {
      source: mailbox.source,
      destination: mailbox.destination,
      status: before?.status === "ok" ? "ok" : "pending",
      class: before?.class,
      remedy: before?.remedy,
      attempts: before?.attempts ?? [],
      folders: before?.folders,
      verification: before?.verification,
      // Like the mail: a part that was ok stays ok until it runs again, others wait.
      parts: before?.parts?.map((part) => ({
        ...part,
        status: part.status === "ok" ? "ok" : "pending",
        nextAttemptAt: undefined,
      })),
      // Its slices' records: which are ok, and their attempts (their logs are numbered after them).
      ...(before?.slices && { slices: before.slices }),
      ...(before?.throttledWhileSliced && { throttledWhileSliced: before.throttledWhileSliced }),
    };
    selectParts(fresh, items);
    return fresh;
  };
  const kept = (previous?.mailboxes ?? []).map((before) => {
    const mailbox = selected.get(before.source);
    selected.delete(before.source);
    return mailbox ? entry(mailbox, before) : before;
  });
  return {
    schemaVersion: REPORT_SCHEMA_VERSION,
    startedAt: now.toISOString(),
    usersFile: path.resolve(usersFile),
    ...(identity.usersDigest && { usersDigest: identity.usersDigest }),
    ...(identity.shard && { shard: identity.shard }),
    mailboxes: [...kept, ...[...selected.values()].map((mailbox) => entry(mailbox))],
  };
}
