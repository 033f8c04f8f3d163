// report.json: its schema, reading it back, and writing it atomically after every change.
import path from "node:path";
import writeFileAtomic from "write-file-atomic";
import { z } from "zod";
import { InputError, readNamedFile } from "../errors.js";
import { RUN_CLASSES, type Mailbox, type Report, type ReportEntry } from "../types.js";
import { reportToCsv } from "./csv.js";

export const REPORT_SCHEMA_VERSION = 1;

export function reportPaths(workDir: string): { json: string; csv: string } {
  return { json: path.join(workDir, "report.json"), csv: path.join(workDir, "report.csv") };
}

/** Where `check` writes its results, beside the migration's report and in the same format. */
export function checkPaths(workDir: string): { json: string; csv: string } {
  return { json: path.join(workDir, "check.json"), csv: path.join(workDir, "check.csv") };
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
  destinationBefore: z.number().optional(),
  logFile: z.string(),
});
const folderPairSchema = z.object({ source: z.string(), destination: z.string() });
const folderNameSchema = z.object({ name: z.string(), display: z.string() });
const verificationSchema = z.object({
  at: z.string(),
  verdict: z.enum(["verified", "missing", "failed"]),
  class: classSchema,
  remedy: z.string().optional(),
  logFile: z.string(),
  mapping: z.array(folderPairSchema),
  folders: z.array(
    z.object({
      destination: folderNameSchema,
      sources: z.array(folderNameSchema.extend({ messages: z.number(), bytes: z.number() })),
      verdict: z.enum(["match", "missing", "extra", "destination_only"]),
      sourceMessages: z.number(),
      sourceBytes: z.number(),
      destinationMessages: z.number().optional(),
      destinationBytes: z.number().optional(),
    }),
  ),
  missingMessages: z.number(),
  extraMessages: z.number(),
  extraNote: z.string().optional(),
  evidence: z.array(z.string()),
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
      folders: z.array(folderPairSchema).optional(),
      // Reports written before verification existed have none.
      verification: verificationSchema.optional(),
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
): Report {
  const selected = new Map(mailboxes.map((mailbox) => [mailbox.source, mailbox]));
  const entry = (mailbox: Mailbox, before?: ReportEntry): ReportEntry => ({
    source: mailbox.source,
    destination: mailbox.destination,
    status: before?.status === "ok" ? "ok" : "pending",
    class: before?.class,
    remedy: before?.remedy,
    attempts: before?.attempts ?? [],
    folders: before?.folders,
    verification: before?.verification,
  });
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
