// `retry`: rerun the mailboxes of a report that are not ok. Without a shard it updates that same
// report (its folder is the work directory); with `--shard i/N` it reruns shard i's mailboxes of
// the report (typically the merged one) in that shard's own WORK_DIR, never writing the report.
import { existsSync } from "node:fs";
import path from "node:path";
import { ExitCode, InputError } from "../errors.js";
import { runMigration } from "../engine/migration.js";
import { notYetOk, planParts } from "../plan/plan.js";
import { partEnds } from "../items/open.js";
import { selectParts } from "../report/parts.js";
import { checkWorkDirShard, formatShard, shardOf, shardToRun, type Shard } from "../plan/shard.js";
import { loadReport, newReport, reportPaths, ReportStore } from "../report/store.js";
import { countsAsOk } from "../report/summary.js";
import type { Mailbox } from "../users/types.js";
import type { Report, ReportEntry } from "../report/schema.js";
import { withWorkDirLock } from "../workdir/lock.js";
import {
  checkIn,
  openSession,
  planMail,
  RUNS_IMAPSYNC,
  type CommandIo,
  type Session,
} from "./session.js";

export interface RetryFlags extends Record<string, unknown> {
  report: string;
  browser?: boolean;
  stopLeftovers?: boolean;
  events?: "jsonl";
  shard?: string;
}

export async function retryCommand(flags: RetryFlags, io: CommandIo): Promise<number> {
  const reportFile = path.resolve(flags.report);
  const given = await loadReport(reportFile);
  const session = await openSession(given.usersFile, flags, io, RUNS_IMAPSYNC);
  const shard = shardToRun(session.config.shard);
  if (shard) {
    return withWorkDirLock(session.config.workDir, () =>
      retryShard(reportFile, given, session, shard, flags, io),
    );
  }
  if (given.mergedFrom) {
    throw new InputError(
      reportFile,
      "this report was merged from shard reports, which are the ones to rerun",
      `Rerun each shard in its own work directory: retry --report ${flags.report} --shard INDEX/COUNT with WORK_DIR set to that shard's folder; then merge again.`,
    );
  }
  const workDir = path.dirname(reportFile);
  return withWorkDirLock(workDir, async () => {
    // Read again under the lock: a run that held it may have written the report since.
    const report = await loadReport(reportFile);
    report.usersDigest = session.users.digest;
    const csv = reportFile.replace(/\.json$/, "") + ".csv";
    const store = new ReportStore(report, { json: reportFile, csv });
    const todo = failedOf(report.mailboxes, session, `every mailbox in ${reportFile}`, io);
    return rerun(todo, store, { ...session, config: { ...session.config, workDir } }, flags, io);
  });
}

async function retryShard(
  reportFile: string,
  given: Report,
  session: Session,
  shard: Shard,
  flags: RetryFlags,
  io: CommandIo,
): Promise<number> {
  const files = reportPaths(session.config.workDir);
  const own = existsSync(files.json) ? await loadReport(files.json) : undefined;
  checkWorkDirShard(files.json, own, shard);
  if (own?.usersDigest !== undefined && own.usersDigest !== given.usersDigest) {
    throw new InputError(
      reportFile,
      `this report is of another users file than shard ${formatShard(shard)}'s own report ${files.json}`,
      "Merge the shards' reports again, then retry from the new merged report.",
    );
  }
  const ofShard = given.mailboxes.filter((e) => shardOf(e.source, shard.count) === shard.index);
  const all = `every mailbox of shard ${formatShard(shard)} in ${reportFile}`;
  const todo = failedOf(ofShard, session, all, io);
  // Without its own report yet, the shard starts from the given report's history of its
  // mailboxes, so reruns keep their attempt numbers and pinned folder mappings.
  const previous = own ?? { ...given, mergedFrom: undefined, shard, mailboxes: ofShard };
  const identity = { usersDigest: session.users.digest, shard };
  const items = session.config.items;
  const report = newReport(
    session.users.path,
    todo.mailboxes,
    previous,
    new Date(),
    identity,
    items,
  );
  return rerun(todo, new ReportStore(report, files), session, flags, io);
}

interface Todo {
  mailboxes: Mailbox[];
  /** Entries not ok, including those no longer in the users file. */
  notOk: number;
}

/** The mailboxes of these entries that are not ok and still in the users file. */
function failedOf(entries: ReportEntry[], { users }: Session, all: string, io: CommandIo): Todo {
  const failed = entries.filter((entry) => !countsAsOk(entry));
  const bySource = new Map(users.mailboxes.map((m) => [m.source, m]));
  const mailboxes = failed.flatMap((entry): Mailbox[] => {
    const mailbox = bySource.get(entry.source);
    if (!mailbox) {
      io.stderr.write(
        `${entry.source} is in the report but no longer in ${users.path}; it is left as it is.\n`,
      );
    }
    return mailbox ? [mailbox] : [];
  });
  if (mailboxes.length === 0) {
    io.stdout.write(
      failed.length === 0
        ? `Nothing to retry: ${all} is ok.\n`
        : `Nothing to retry: the ${failed.length} mailboxes not ok are no longer in ${users.path}.\n`,
    );
  }
  return { mailboxes, notOk: failed.length };
}

/** Of the items ITEMS selects, the parts of these mailboxes that are not ok run again. */
async function rerun(
  todo: Todo,
  store: ReportStore,
  { users, config }: Session,
  flags: RetryFlags,
  io: CommandIo,
): Promise<number> {
  if (todo.mailboxes.length === 0) return todo.notOk > 0 ? ExitCode.mailboxFailed : ExitCode.ok;
  const ends = partEnds(config, users.path);
  store.report.endedAt = undefined;
  for (const mailbox of todo.mailboxes) selectParts(store.entry(mailbox.source), config.items);
  const input = { mode: "sync" as const, usersFile: users.path, config, previous: store.report };
  const mail = config.items.includes("mail") ? notYetOk(todo.mailboxes, store.report) : [];
  // As migrate: with the sizes check.json and the report's verifications know, largest first.
  const plans = planMail({ ...input, mailboxes: mail }, await checkIn(config.workDir), io);
  const parts = { plans: planParts({ ...input, mailboxes: todo.mailboxes, resume: true }), ends };
  const signIn = {
    openBrowser: flags.browser !== false,
    stopLeftovers: Boolean(flags.stopLeftovers),
    events: flags.events,
  };
  return runMigration(plans, { config, usersFile: users.path, store, ...signIn, parts }, io);
}
