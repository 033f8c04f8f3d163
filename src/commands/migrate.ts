// `migrate`: plan every selected mailbox, then run the plans (or, with --plan, print them).
import { existsSync } from "node:fs";
import type { Requirement } from "../config/load.js";
import { ExitCode } from "../errors.js";
import { runMigration } from "../engine/migration.js";
import { maskArgs } from "../imapsync/args.js";
import { notYetOk, planMailboxes, type MailboxPlan } from "../plan/plan.js";
import { loadReport, newReport, reportPaths, ReportStore } from "../report/store.js";
import type { Report } from "../types.js";
import { selectMailboxes } from "../users/select.js";
import { withWorkDirLock } from "../workdir.js";
import { openSession, RUNS_IMAPSYNC, type CommandIo } from "./session.js";

export interface MigrateFlags extends Record<string, unknown> {
  users: string;
  /** Let oauth2c open a browser for the sign-in (false: only print the URL). */
  browser?: boolean;
  only?: string[];
  exclude?: string[];
  resume?: boolean;
  plan?: boolean;
  /** Stop imapsync processes a crashed earlier run left behind, instead of waiting for them. */
  stopLeftovers?: boolean;
  json?: boolean;
  /** Verify each mailbox once its copy ended ok. */
  verify?: boolean;
}

/** --plan locates imapsync (its argv is printed as it will run) but needs no token. */
const PLAN_NEEDS: Requirement[] = ["imapsync"];

export async function migrateCommand(flags: MigrateFlags, io: CommandIo): Promise<number> {
  const dryPlan = Boolean(flags.plan);
  const { users, config } = await openSession(
    flags.users,
    flags,
    io,
    dryPlan ? PLAN_NEEDS : RUNS_IMAPSYNC,
  );
  const selected = selectMailboxes(users.mailboxes, { only: flags.only, exclude: flags.exclude });
  const files = reportPaths(config.workDir);
  const previousReport = async (): Promise<Report | undefined> =>
    existsSync(files.json) ? loadReport(files.json) : undefined;
  const plansFor = (previous: Report | undefined) => {
    const toRun = flags.resume ? notYetOk(selected, previous) : selected;
    if (flags.resume && toRun.length < selected.length) {
      io.stderr.write(
        `--resume: ${selected.length - toRun.length} mailboxes already ok are skipped.\n`,
      );
    }
    return planMailboxes({
      mode: "sync",
      mailboxes: toRun,
      usersFile: users.path,
      config,
      previous,
    });
  };
  if (dryPlan) {
    printPlans(plansFor(await previousReport()), io.stdout, Boolean(flags.json));
    return ExitCode.ok;
  }
  return withWorkDirLock(config.workDir, async () => {
    const previous = await previousReport();
    const store = new ReportStore(newReport(users.path, selected, previous, new Date()), files);
    const options = { config, usersFile: users.path, store };
    const signIn = {
      openBrowser: flags.browser !== false,
      stopLeftovers: Boolean(flags.stopLeftovers),
    };
    const verify = Boolean(flags.verify);
    return runMigration(plansFor(previous), { ...options, ...signIn, verify }, io);
  });
}

function printPlans(plans: MailboxPlan[], out: NodeJS.WritableStream, json: boolean): void {
  for (const plan of plans) {
    const { source, destination } = plan.mailbox;
    const argv = maskArgs(plan.argv);
    if (json) {
      const shown = { source, destination, argv, mode: plan.mode, attempt: plan.attempt };
      out.write(
        `${JSON.stringify({ ...shown, logFile: plan.files.logFile, folders: plan.folders })}\n`,
      );
    } else {
      out.write(`# ${source} -> ${destination}\n${argv.map(shellQuote).join(" ")}\n`);
    }
  }
}

function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}
