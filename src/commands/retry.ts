import path from "node:path";
import { loadConfig } from "../config.js";
import { ExitCode } from "../errors.js";
import { loadReport, ReportStore } from "../report.js";
import { readUsersFile } from "../users.js";
import { withWorkDirLock } from "../workdir.js";
import { checkMailboxOptions, runMailboxes, type CommandIo } from "./migrate.js";

export interface RetryFlags extends Record<string, unknown> {
  report: string;
  browser?: boolean;
  stopLeftovers?: boolean;
  events?: "jsonl";
}

/**
 * Reruns the mailboxes of a report that are not `ok`, with passwords read again from the users
 * file the report names, and updates that same report. The report's folder is the work directory.
 */
export async function retryCommand(flags: RetryFlags, io: CommandIo): Promise<number> {
  const reportFile = path.resolve(flags.report);
  const workDir = path.dirname(reportFile);
  return withWorkDirLock(workDir, () => retryLocked(reportFile, flags, io));
}

async function retryLocked(reportFile: string, flags: RetryFlags, io: CommandIo): Promise<number> {
  const report = await loadReport(reportFile);
  const workDir = path.dirname(reportFile);
  const users = await readUsersFile(report.usersFile);
  const config = loadConfig(
    { ...flags, workDir },
    {
      env: io.env,
      require: ["destination", "imapsync", "oauth2c", "token"],
      host2Optional: users.mailboxes.every((mailbox) => mailbox.host2 !== undefined),
    },
  );
  checkMailboxOptions(users.path, users.mailboxes, config);

  const failed = report.mailboxes.filter((entry) => entry.status !== "ok");
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
        ? `Nothing to retry: every mailbox in ${reportFile} is ok.\n`
        : `Nothing to retry: the ${failed.length} mailboxes not ok are no longer in ${users.path}.\n`,
    );
    return failed.length === 0 ? ExitCode.ok : ExitCode.mailboxFailed;
  }
  report.endedAt = undefined;
  const store = new ReportStore(report, {
    json: reportFile,
    csv: reportFile.replace(/\.json$/, "") + ".csv",
  });
  return runMailboxes({ ...config, workDir }, mailboxes, store, io, {
    openBrowser: flags.browser !== false,
    stopLeftovers: flags.stopLeftovers,
    events: flags.events,
  });
}
