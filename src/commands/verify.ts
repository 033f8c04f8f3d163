// `verify`: count every folder on both sides (imapsync --justfoldersizes, nothing copied) for the
// selected mailboxes, with the folder mapping their copy recorded, and record what it proves.
import { existsSync } from "node:fs";
import { runMigration } from "../engine/migration.js";
import { planMailboxes, planParts } from "../plan/plan.js";
import { partEnds } from "../items/open.js";
import { loadReport, newReport, reportPaths, ReportStore } from "../report/store.js";
import type { Report } from "../report/schema.js";
import { selectMailboxes } from "../users/select.js";
import { withWorkDirLock } from "../workdir/lock.js";
import { openSession, RUNS_IMAPSYNC, type CommandIo } from "./session.js";

export interface VerifyFlags extends Record<string, unknown> {
  users: string;
  browser?: boolean;
  only?: string[];
  exclude?: string[];
  stopLeftovers?: boolean;
}

export async function verifyCommand(flags: VerifyFlags, io: CommandIo): Promise<number> {
  const { users, config } = await openSession(flags.users, flags, io, RUNS_IMAPSYNC);
  const selected = selectMailboxes(users.mailboxes, { only: flags.only, exclude: flags.exclude });
  const files = reportPaths(config.workDir);
  const ends = partEnds(config, users.path);
  return withWorkDirLock(config.workDir, async () => {
    const previous = existsSync(files.json) ? await loadReport(files.json) : undefined;
    if (!previous) {
      io.stderr.write(
        `No report in ${config.workDir}: no folder mapping was recorded, so imapsync's automap decides it (run verify with the work directory of the migration).\n`,
      );
    }
    const store = new ReportStore(
      keepStatuses(
        newReport(users.path, selected, previous, new Date(), {}, config.items),
        previous,
      ),
      files,
    );
    const input = { mode: "verify" as const, usersFile: users.path, config, previous };
    const mail = config.items.includes("mail") ? selected : [];
    const plans = planMailboxes({ ...input, mailboxes: mail });
    // Each calendar and contact folder, by UID: what the source holds that the destination lacks.
    const parts = { plans: planParts({ ...input, mailboxes: selected }), ends };
    const signIn = {
      openBrowser: flags.browser !== false,
      stopLeftovers: Boolean(flags.stopLeftovers),
    };
    return runMigration(plans, { config, usersFile: users.path, store, ...signIn, parts }, io);
  });
}

/** A verification does not change how the last copy of the mail or of a part ended. */
function keepStatuses(report: Report, previous: Report | undefined): Report {
  for (const entry of report.mailboxes) {
    const before = previous?.mailboxes.find((b) => b.source === entry.source);
    if (!before) continue;
    entry.status = before.status;
    for (const part of entry.parts ?? []) {
      const was = before.parts?.find((p) => p.kind === part.kind);
      if (was) part.status = was.status;
    }
  }
  return report;
}
