// `migrate`: plan every selected mailbox, then run the plans (or, with --plan, print them).
import { existsSync } from "node:fs";
import type { Requirement } from "../config/load.js";
import { locateProgram } from "../config/programs.js";
import { ExitCode } from "../errors.js";
import { runMigration } from "../engine/migration.js";
import { maskArgs } from "../imapsync/args.js";
import { notYetOk, planParts, planSlice, type MailboxPlan, type PartPlan } from "../plan/plan.js";
import { sliceWhat } from "../plan/slicing.js";
import { formatBytes } from "../format.js";
import type { PrintedPartPlan, PrintedPlan } from "../plan/schema.js";
import { partEnds } from "../items/open.js";
import { checkWorkDirShard, formatShard, selectShard, shardOf, shardToRun } from "../plan/shard.js";
import { loadReport, newReport, reportPaths, ReportStore } from "../report/store.js";
import type { Config } from "../config/types.js";
import type { Report, ReportEntry } from "../report/schema.js";
import { selectMailboxes } from "../users/select.js";
import { withWorkDirLock } from "../workdir/lock.js";
import { checkIn, openSession, planMail, RUNS_IMAPSYNC, type CommandIo } from "./session.js";

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
  /** Every event as a JSON line on standard output. */
  events?: "jsonl";
  /** Verify each mailbox once its copy ended ok. */
  verify?: boolean;
}

/** --plan needs neither a token nor imapsync: it says so when imapsync is not there. */
const PLAN_NEEDS: Requirement[] = [];

export async function migrateCommand(flags: MigrateFlags, io: CommandIo): Promise<number> {
  const dryPlan = Boolean(flags.plan);
  const session = await openSession(flags.users, flags, io, dryPlan ? PLAN_NEEDS : RUNS_IMAPSYNC);
  const { users } = session;
  const mailOnly = session.config.items.every((item) => item === "mail");
  const planned = dryPlan && session.config.items.includes("mail");
  const config = planned ? planProgram(session.config, io) : session.config;
  const chosen = selectMailboxes(users.mailboxes, { only: flags.only, exclude: flags.exclude });
  // Before planning: only the shard's mailboxes are planned, and only their passwords read.
  const index = config.shard && "index" in config.shard ? config.shard : undefined;
  const selected = index ? selectShard(chosen, index) : chosen;
  const files = reportPaths(config.workDir);
  const previousReport = async (): Promise<Report | undefined> =>
    existsSync(files.json) ? loadReport(files.json) : undefined;
  // check's folder sizes: the biggest mailboxes start first, and the big ones are sliced.
  const check = await checkIn(config.workDir);
  const plansFor = (previous: Report | undefined) => {
    const mail = config.items.includes("mail");
    const toRun = flags.resume && mail ? notYetOk(selected, previous) : selected;
    if (flags.resume && toRun.length < selected.length) {
      io.stderr.write(
        `--resume: ${selected.length - toRun.length} mailboxes already ok are skipped.\n`,
      );
    }
    const input = { mode: "sync" as const, usersFile: users.path, config, previous };
    if (!mail)
      return {
        mail: [],
        parts: planParts({ ...input, mailboxes: selected, resume: flags.resume }),
      };
    return {
      mail: planMail({ ...input, mailboxes: toRun }, check, io),
      parts: planParts({ ...input, mailboxes: selected, resume: flags.resume }),
    };
  };
  if (dryPlan) {
    if (index && selected.length === 0) {
      io.stderr.write(
        `Shard ${formatShard(index)} holds none of the ${chosen.length} selected mailboxes: nothing to plan. Which shard runs a mailbox depends on its address only; --plan --shard-count ${index.count} shows every mailbox's shard.\n`,
      );
    }
    const previous = await previousReport();
    const shown = {
      json: Boolean(flags.json),
      shardCount: config.shard?.count,
      mailOnly,
      sliceRuns: (plan: MailboxPlan) =>
        plan.slices?.map((spec) =>
          planSlice(plan, spec, users.path, config, entryIn(previous, plan.mailbox.source)),
        ),
    };
    await printPlans(plansFor(previous), io.stdout, shown);
    return ExitCode.ok;
  }
  // Before any mailbox is read or signed in for: a build without the parts' sides says so now.
  const ends = partEnds(config, users.path);
  const shard = shardToRun(config.shard);
  if (shard) {
    io.stderr.write(
      `Shard ${formatShard(shard)}: ${selected.length} of the ${chosen.length} selected mailboxes.\n`,
    );
  }
  return withWorkDirLock(config.workDir, async () => {
    const previous = await previousReport();
    checkWorkDirShard(files.json, previous, shard);
    const identity = { usersDigest: users.digest, shard };
    const report = newReport(users.path, selected, previous, new Date(), identity, config.items);
    const store = new ReportStore(report, files);
    const options = { config, usersFile: users.path, store };
    const signIn = {
      openBrowser: flags.browser !== false,
      stopLeftovers: Boolean(flags.stopLeftovers),
      events: flags.events,
    };
    const verify = Boolean(flags.verify);
    const { mail, parts } = plansFor(previous);
    const items = { plans: parts, ends };
    return runMigration(mail, { ...options, ...signIn, verify, parts: items }, io);
  });
}

/**
 * imapsync as the plan will run it: located like a run locates it, or, where it is not installed,
 * as configured, with a notice (a plan is read before imapsync is installed).
 */
function planProgram(config: Config, io: Pick<CommandIo, "env" | "stderr">): Config {
  const found = locateProgram(config.imapsync.file, { cwd: process.cwd(), env: io.env });
  if (found.problem === undefined) return { ...config, imapsync: { ...config.imapsync, ...found } };
  io.stderr.write(
    `Notice: imapsync "${config.imapsync.file}" ${found.problem} (IMAPSYNC_BIN): the plan shows the commands as configured; install imapsync (README "Without Docker") or set IMAPSYNC_BIN before migrating.\n`,
  );
  return config;
}

/**
 * With a shard count, each plan says which shard runs it. Written as the reader takes it (100,000
 * plans are never all queued in memory); a reader that stops early (`| head`) ends it quietly.
 */
async function printPlans(
  plans: { mail: MailboxPlan[]; parts: PartPlan[] },
  out: NodeJS.WritableStream,
  {
    json,
    shardCount,
    mailOnly,
    sliceRuns,
  }: {
    json: boolean;
    shardCount?: number;
    mailOnly: boolean;
    /** A big mailbox's slices, as they will run after its first run. */
    sliceRuns: (plan: MailboxPlan) => MailboxPlan[] | undefined;
  },
): Promise<void> {
  let closed = false;
  let failure: Error | undefined;
  const onError = (error: NodeJS.ErrnoException) => {
    if (error.code !== "EPIPE") failure = error;
    closed = true;
  };
  out.on("error", onError);
  const write = async (text: string) => {
    if (out.write(text)) return;
    // Until it drains, or closes (an error, recorded by onError, closes it too).
    await new Promise<void>((resolve) => {
      const done = () => {
        out.off("drain", done);
        out.off("close", done);
        resolve();
      };
      out.on("drain", done);
      out.on("close", done);
    });
  };
  const shardOfSource = (source: string) =>
    shardCount === undefined
      ? undefined
      : { index: shardOf(source, shardCount), count: shardCount };
  // Each mailbox's parts follow its mail line. The mail may come largest first rather than in
  // users-file order, so parts are found by mailbox; those whose mail is not planned (already ok,
  // --resume) come after the mail lines, in users-file order.
  const partsOf = new Map<string, PartPlan[]>();
  for (const part of plans.parts) {
    const list = partsOf.get(part.mailbox.source);
    if (list) list.push(part);
    else partsOf.set(part.mailbox.source, [part]);
  }
  const writeParts = async (source: string) => {
    for (const part of partsOf.get(source) ?? []) if (!closed) await writePart(part);
    partsOf.delete(source);
  };
  const writePart = async (plan: PartPlan) => {
    const { source, destination } = plan.mailbox;
    const shard = shardOfSource(source);
    if (json) {
      const shown: PrintedPartPlan = {
        source,
        destination,
        part: plan.kind,
        mode: plan.mode,
        attempt: plan.attempt,
        stateFile: plan.stateFile,
        ...(shard && { shard }),
      };
      await write(`${JSON.stringify(shown)}\n`);
    } else {
      const which = shard ? ` (shard ${formatShard(shard)})` : "";
      await write(
        `# ${source} -> ${destination}${which}: ${plan.kind}, attempt ${plan.attempt} (Microsoft Graph to ${plan.kind === "calendar" ? "CalDAV" : "CardDAV"} or files; state ${plan.stateFile})\n`,
      );
    }
  };
  for (const plan of plans.mail) {
    if (closed) break;
    const { source, destination } = plan.mailbox;
    const argv = maskArgs(plan.argv);
    const shard = shardOfSource(source);
    const slices = sliceRuns(plan);
    if (json) {
      const shown: PrintedPlan = {
        source,
        destination,
        argv,
        mode: plan.mode,
        attempt: plan.attempt,
        logFile: plan.files.logFile,
        folders: plan.folders,
        ...(shard && { shard }),
        ...(!mailOnly && { part: "mail" as const }),
        ...(plan.bytes !== undefined && plan.slices && { bytes: plan.bytes }),
        ...(plan.unsliced && { unsliced: plan.unsliced }),
        ...(plan.slices && { justFolders: Boolean(plan.justFolders) }),
        ...(plan.oneAtATime && { oneAtATime: plan.oneAtATime }),
        ...(slices && {
          slices: slices.map((run) => ({
            ...run.slice!,
            argv: maskArgs(run.argv),
            logFile: run.files.logFile,
          })),
        }),
      };
      await write(`${JSON.stringify(shown)}\n`);
    } else {
      const which = shard ? ` (shard ${formatShard(shard)})` : "";
      const note = plan.unsliced ? ` (${plan.unsliced})` : "";
      const first = !slices || plan.justFolders ? `${argv.map(shellQuote).join(" ")}\n` : "";
      const rest = (slices ?? []).map(
        (run) =>
          `# slice ${run.slice!.id}: ${sliceWhat(run.slice!)}\n${maskArgs(run.argv).map(shellQuote).join(" ")}\n`,
      );
      const head = slices
        ? ` (${formatBytes(plan.bytes ?? 0)}: ${plan.justFolders ? "folders created first, then " : ""}${slices.length} slices ${plan.oneAtATime ? `one at a time first: ${plan.oneAtATime}` : "at once"})`
        : "";
      await write(`# ${source} -> ${destination}${which}${note}${head}\n${first}${rest.join("")}`);
    }
    await writeParts(source);
  }
  for (const source of [...partsOf.keys()]) await writeParts(source);
  out.off("error", onError);
  if (failure) throw failure;
}

/** The report's entry of a mailbox, or an empty one (nothing has run yet). */
function entryIn(report: Report | undefined, source: string): ReportEntry {
  return (
    report?.mailboxes.find((entry) => entry.source === source) ?? {
      source,
      destination: source,
      status: "pending",
      attempts: [],
    }
  );
}

function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}
