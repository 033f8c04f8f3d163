import path from "node:path";
import { stringify } from "csv-stringify/sync";
import writeFileAtomic from "write-file-atomic";
import { z } from "zod";
import { InputError, readNamedFile } from "./errors.js";
import { RUN_CLASSES, type Attempt, type Report, type ReportEntry } from "./types.js";

export const REPORT_SCHEMA_VERSION = 1;

export function reportPaths(workDir: string): { json: string; csv: string } {
  return { json: path.join(workDir, "report.json"), csv: path.join(workDir, "report.csv") };
}

const classSchema = z.enum(RUN_CLASSES);
const attemptSchema = z.object({
  start: z.string(),
  end: z.string().optional(),
  exitCode: z.number().nullable(),
  signal: z.string().nullable().optional(),
  class: classSchema.optional(),
  reason: z.literal("stalled").optional(),
  messagesTransferred: z.number().optional(),
  bytesTransferred: z.number().optional(),
  logFile: z.string(),
});
const reportSchema = z.object({
  schemaVersion: z.literal(REPORT_SCHEMA_VERSION),
  startedAt: z.string(),
  endedAt: z.string().optional(),
  usersFile: z.string(),
  usersDigest: z.string().optional(),
  shard: z.object({ index: z.number().int().min(0), count: z.number().int().min(1) }).optional(),
  mergedFrom: z.array(z.string()).optional(),
  mailboxes: z.array(
    z.object({
      source: z.string(),
      destination: z.string(),
      status: z.enum(["pending", "running", "ok", "failed", "interrupted"]),
      class: classSchema.optional(),
      remedy: z.string().optional(),
      attempts: z.array(attemptSchema),
      folders: z.array(z.object({ source: z.string(), destination: z.string() })).optional(),
    }),
  ),
});

/** Reads and checks a report; a damaged one is an input error that names the file. */
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
  const parsed = reportSchema.safeParse(data);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new InputError(
      file,
      `not a report of this tool (${issue?.path.join(".") || "top level"}: ${issue?.message})`,
      "Give the report.json that `migrate` wrote in its work directory.",
    );
  }
  return parsed.data;
}

export function latestAttempt(entry: ReportEntry): Attempt | undefined {
  return entry.attempts.at(-1);
}

const CSV_COLUMNS = [
  "source",
  "destination",
  "status",
  "class",
  "attempts",
  "exit_code",
  "messages_transferred",
  "bytes_transferred",
  "log_file",
  "remedy",
] as const;

export function reportToCsv(report: Report): string {
  const rows = report.mailboxes.map((entry) => {
    const last = latestAttempt(entry);
    return [
      entry.source,
      entry.destination,
      entry.status,
      entry.class ?? "",
      entry.attempts.length,
      last?.exitCode ?? "",
      last?.messagesTransferred ?? "",
      last?.bytesTransferred ?? "",
      last?.logFile ?? "",
      entry.remedy ?? "",
    ];
  });
  return stringify([[...CSV_COLUMNS], ...rows]);
}

/**
 * Keeps the report on disk in step with the migration: every save rewrites report.json and
 * report.csv atomically (a crash leaves the previous complete version, never half a file), and
 * saves are serialized so an older state never overwrites a newer one.
 */
export class ReportStore {
  private queue: Promise<void> = Promise.resolve();

  constructor(
    readonly report: Report,
    readonly files: { json: string; csv: string },
  ) {}

  entry(source: string): ReportEntry {
    const found = this.report.mailboxes.find((entry) => entry.source === source);
    if (!found) throw new Error(`No report entry for ${source}`);
    return found;
  }

  save(): Promise<void> {
    const json = JSON.stringify(this.report, null, 2) + "\n";
    const csv = reportToCsv(this.report);
    const write = async () => {
      await writeFileAtomic(this.files.json, json, { mode: 0o600 });
      await writeFileAtomic(this.files.csv, csv, { mode: 0o600 });
    };
    this.queue = this.queue.then(write, write);
    return this.queue;
  }
}

/** One line per mailbox plus totals, for the end of a run. */
export function formatSummary(report: Report): string[] {
  const width = Math.max(7, ...report.mailboxes.map((entry) => entry.source.length));
  const lines = [
    `${"MAILBOX".padEnd(width)}  ${"STATUS".padEnd(11)}  ${"CLASS".padEnd(26)}  ATTEMPTS  MESSAGES`,
  ];
  const counts = new Map<string, number>();
  for (const entry of report.mailboxes) {
    counts.set(entry.status, (counts.get(entry.status) ?? 0) + 1);
    const copied = entry.attempts.reduce(
      (sum, attempt) => sum + (attempt.messagesTransferred ?? 0),
      0,
    );
    lines.push(
      `${entry.source.padEnd(width)}  ${entry.status.padEnd(11)}  ${(entry.class ?? "-").padEnd(26)}  ${String(entry.attempts.length).padStart(8)}  ${String(copied).padStart(8)}`,
    );
  }
  const totals = [...counts].map(([status, count]) => `${count} ${status}`).join(", ");
  lines.push(`${report.mailboxes.length} mailboxes: ${totals}`);
  return lines;
}

/** What to do, for every mailbox that is not ok: the part of the summary an admin acts on. */
export function formatRemedies(report: Report): string[] {
  const todo = report.mailboxes.filter((entry) => entry.status !== "ok" && entry.remedy);
  if (todo.length === 0) return [];
  return ["What to do:", ...todo.map((entry) => `- ${entry.source}: ${entry.remedy}`)];
}
