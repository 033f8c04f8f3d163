// `retry`: rerun the mailboxes of a report that are not ok, and update that same report.
import path from "node:path";
import { ExitCode } from "../errors.js";
import { runMigration } from "../engine/migration.js";
import { planMailboxes } from "../plan/plan.js";
import { loadReport, ReportStore } from "../report/store.js";
import { countsAsOk } from "../report/summary.js";
import type { Mailbox } from "../types.js";
import { withWorkDirLock } from "../workdir.js";
import { openSession, RUNS_IMAPSYNC, type CommandIo } from "./session.js";

export interface RetryFlags extends Record<string, unknown> {
  report: string;
  browser?: boolean;
  stopLeftovers?: boolean;
}

/**
 * Passwords are read again from the users file the report names; the report's folder is the
 * work directory.
 */
export async function retryCommand(flags: RetryFlags, io: CommandIo): Promise<number> {
  const reportFile = path.resolve(flags.report);
  const workDir = path.dirname(reportFile);
  return withWorkDirLock(workDir, async () => {
    const report = await loadReport(reportFile);
    const session = await openSession(report.usersFile, { ...flags, workDir }, io, RUNS_IMAPSYNC);
    const { users } = session;
    const config = { ...session.config, workDir };
    const failed = report.mailboxes.filter((entry) => !countsAsOk(entry));
    const mailboxes = failed.flatMap((entry): Mailbox[] => {
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
    const csv = reportFile.replace(/\.json$/, "") + ".csv";
    const store = new ReportStore(report, { json: reportFile, csv });
    const plans = planMailboxes({
      mode: "sync",
      mailboxes,
      usersFile: users.path,
      config,
      previous: report,
    });
    const signIn = {
      openBrowser: flags.browser !== false,
      stopLeftovers: Boolean(flags.stopLeftovers),
    };
    return runMigration(plans, { config, usersFile: users.path, store, ...signIn }, io);
  });
}
