import { existsSync } from "node:fs";
import path from "node:path";
import { loadConfig } from "../config.js";
import { ExitCode, InputError } from "../errors.js";
import { checkWorkDirShard, formatShard, shardOf, shardToRun, type Shard } from "../plan/shard.js";
import { loadReport, reportPaths, ReportStore } from "../report.js";
import type { Config, Mailbox, Report, ReportEntry, UsersFile } from "../types.js";
import { readUsersFile } from "../users.js";
import { withWorkDirLock } from "../workdir.js";
import { checkMailboxOptions, newReport, runMailboxes, type CommandIo } from "./migrate.js";

export interface RetryFlags extends Record<string, unknown> {
  report: string;
  browser?: boolean;
  stopLeftovers?: boolean;
  shard?: string;
}

/**
 * Reruns the mailboxes of a report that are not `ok`, with passwords read again from the users
 * file the report names. Without a shard it updates that same report (its folder is the work
 * directory); with `--shard i/N` it reruns shard i's mailboxes of the report (typically the
 * merged one) in that shard's own work directory (WORK_DIR) and never writes the report given.
 */
export async function retryCommand(flags: RetryFlags, io: CommandIo): Promise<number> {
  const reportFile = path.resolve(flags.report);
  const report = await loadReport(reportFile);
  const users = await readUsersFile(report.usersFile);
  const config = loadConfig(flags, {
    env: io.env,
    require: ["destination", "imapsync", "oauth2c", "token"],
    host2Optional: users.mailboxes.every((mailbox) => mailbox.host2 !== undefined),
  });
  checkMailboxOptions(users.path, users.mailboxes, config);
  const shard = shardToRun(config.shard);
  if (shard) {
    return withWorkDirLock(config.workDir, () =>
      retryShard({ reportFile, report, users, config, shard }, flags, io),
    );
  }
  if (report.mergedFrom) {
    throw new InputError(
      reportFile,
      "this report was merged from shard reports, which are the ones to rerun",
      `Rerun each shard in its own work directory: retry --report ${flags.report} --shard INDEX/${report.shard?.count ?? "COUNT"} with WORK_DIR set to that shard's folder; then merge again.`,
    );
  }
  const workDir = path.dirname(reportFile);
  return withWorkDirLock(workDir, async () => {
    // Read again under the lock: a run that held it may have written the report since.
    const current = await loadReport(reportFile);
    current.usersDigest = users.digest;
    const store = new ReportStore(current, {
      json: reportFile,
      csv: reportFile.replace(/\.json$/, "") + ".csv",
    });
    const todo = failedOf(current.mailboxes, users, `every mailbox in ${reportFile}`, io);
    return rerun(todo, store, { ...config, workDir }, flags, io);
  });
}

interface ShardRetry {
  reportFile: string;
  report: Report;
  users: UsersFile;
  config: Config;
  shard: Shard;
}

async function retryShard(
  { reportFile, report, users, config, shard }: ShardRetry,
  flags: RetryFlags,
  io: CommandIo,
): Promise<number> {
  const files = reportPaths(config.workDir);
  const own = existsSync(files.json) ? await loadReport(files.json) : undefined;
  checkWorkDirShard(files.json, own, shard);
  if (own?.usersDigest !== undefined && own.usersDigest !== report.usersDigest) {
    throw new InputError(
      reportFile,
      `this report is of another users file than shard ${formatShard(shard)}'s own report ${files.json}`,
      "Merge the shards' reports again, then retry from the new merged report.",
    );
  }
  const ofShard = report.mailboxes.filter(
    (entry) => shardOf(entry.source, shard.count) === shard.index,
  );
  const todo = failedOf(
    ofShard,
    users,
    `every mailbox of shard ${formatShard(shard)} in ${reportFile}`,
    io,
  );
  // Without its own report yet, the shard starts from the given report's history of its
  // mailboxes, so reruns keep their attempt numbers and pinned folder mappings.
  const previous = own ?? { ...report, mergedFrom: undefined, shard, mailboxes: ofShard };
  const store = new ReportStore(newReport(users, todo.mailboxes, previous, shard), files);
  return rerun(todo, store, config, flags, io);
}

interface Todo {
  mailboxes: Mailbox[];
  /** Entries not ok, including those no longer in the users file. */
  notOk: number;
}

/** The mailboxes of these entries that are not ok and still in the users file. */
function failedOf(entries: ReportEntry[], users: UsersFile, all: string, io: CommandIo): Todo {
  const failed = entries.filter((entry) => entry.status !== "ok");
  const mailboxes = failed.flatMap((entry) => {
    const mailbox = users.mailboxes.find((m) => m.source === entry.source);
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

async function rerun(
  todo: Todo,
  store: ReportStore,
  config: Config,
  flags: RetryFlags,
  io: CommandIo,
): Promise<number> {
  if (todo.mailboxes.length === 0) return todo.notOk > 0 ? ExitCode.mailboxFailed : ExitCode.ok;
  store.report.endedAt = undefined;
  return runMailboxes(config, todo.mailboxes, store, io, {
    openBrowser: flags.browser !== false,
    stopLeftovers: flags.stopLeftovers,
  });
}
