import { existsSync } from "node:fs";
import path from "node:path";
import { loadConfig } from "../config.js";
import { ExitCode, TokenError } from "../errors.js";
import { buildImapsyncArgs, checkUserOptions, maskArgs, runPaths } from "../imapsync/args.js";
import { DEFAULT_GRACE_MS } from "../imapsync/run.js";
import { migrate, WAITING_FOR_TOKEN } from "../migration.js";
import {
  checkWorkDirShard,
  formatShard,
  selectShard,
  shardOf,
  shardToRun,
  type Shard,
} from "../plan/shard.js";
import {
  formatRemedies,
  formatSummary,
  loadReport,
  REPORT_SCHEMA_VERSION,
  reportPaths,
  ReportStore,
} from "../report.js";
import { tokenPaths, type TokenKeeper } from "../token.js";
import { createTokenKeeper } from "../token-source.js";
import type { Config, Mailbox, Report, ReportEntry, UsersFile } from "../types.js";
import { createUi, type Ui } from "../ui.js";
import { readUsersFile, selectMailboxes } from "../users.js";
import {
  findLeftovers,
  removeLeftoverSecrets,
  stopLeftover,
  withWorkDirLock,
  type Leftover,
} from "../workdir.js";

export interface CommandIo {
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  env: NodeJS.ProcessEnv;
  /** Aborted on the first SIGINT/SIGTERM: stop starting, stop runs through their abort file. */
  signal: AbortSignal;
  /** Aborted on a second signal: end every run at once. */
  forceSignal: AbortSignal;
}

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
}

export async function migrateCommand(flags: MigrateFlags, io: CommandIo): Promise<number> {
  const plan = Boolean(flags.plan);
  const users = await readUsersFile(flags.users);
  const config = loadConfig(flags, {
    env: io.env,
    require: plan ? ["destination"] : ["destination", "imapsync", "oauth2c", "token"],
    host2Optional: users.mailboxes.every((mailbox) => mailbox.host2 !== undefined),
  });
  checkMailboxOptions(users.path, users.mailboxes, config);
  const chosen = selectMailboxes(users.mailboxes, { only: flags.only, exclude: flags.exclude });
  for (const notice of users.notices) io.stderr.write(`${notice}\n`);
  const index = config.shard && "index" in config.shard ? config.shard : undefined;
  const selected = index ? selectShard(chosen, index) : chosen;

  if (plan) {
    printPlan(selected, config, io.stdout, Boolean(flags.json));
    return ExitCode.ok;
  }
  const shard = shardToRun(config.shard);
  if (shard) {
    io.stderr.write(
      `Shard ${formatShard(shard)}: ${selected.length} of the ${chosen.length} selected mailboxes.\n`,
    );
  }
  return withWorkDirLock(config.workDir, async () => {
    const files = reportPaths(config.workDir);
    const previous = existsSync(files.json) ? await loadReport(files.json) : undefined;
    checkWorkDirShard(files.json, previous, shard);
    const report = newReport(users, selected, previous, shard);
    const toRun = flags.resume
      ? selected.filter(
          (mailbox) =>
            previous?.mailboxes.find((e) => e.source === mailbox.source)?.status !== "ok",
        )
      : selected;
    if (flags.resume && toRun.length < selected.length) {
      io.stderr.write(
        `--resume: ${selected.length - toRun.length} mailboxes already ok are skipped.\n`,
      );
    }
    return runMailboxes(config, toRun, new ReportStore(report, files), io, {
      openBrowser: flags.browser !== false,
      stopLeftovers: flags.stopLeftovers,
    });
  });
}

/** Column 7 and the options after `--` may not touch what the tool manages itself. */
export function checkMailboxOptions(usersFile: string, mailboxes: Mailbox[], config: Config): void {
  checkUserOptions(config.passthrough, "options after --");
  for (const mailbox of mailboxes) {
    checkUserOptions(mailbox.extraArgs, `${usersFile} line ${mailbox.line}, column 7`);
  }
}

function printPlan(
  mailboxes: Mailbox[],
  config: Config,
  out: NodeJS.WritableStream,
  json: boolean,
) {
  const tokenFile = tokenPaths(config.workDir).token;
  const count = config.shard?.count;
  for (const mailbox of mailboxes) {
    const shard =
      count === undefined ? undefined : { index: shardOf(mailbox.source, count), count };
    const files = runPaths(config.workDir, mailbox.source, 1);
    const argv = [
      config.imapsync.file,
      ...config.imapsync.args,
      ...maskArgs(buildImapsyncArgs({ mailbox, config, tokenFile, files })),
    ];
    if (json) {
      const { source, destination } = mailbox;
      out.write(`${JSON.stringify({ source, destination, argv, ...(shard && { shard }) })}\n`);
    } else {
      const which = shard ? ` (shard ${formatShard(shard)})` : "";
      out.write(
        `# ${mailbox.source} -> ${mailbox.destination}${which}\n${argv.map(shellQuote).join(" ")}\n`,
      );
    }
  }
}

function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * The report of this run. Earlier runs in the same work directory are kept: the entries of
 * mailboxes not selected this time stay as they were, and a selected mailbox keeps its attempts
 * (log files are numbered after them) and the folder mapping of its first run.
 */
export function newReport(
  users: UsersFile,
  mailboxes: Mailbox[],
  previous?: Report,
  shard?: Shard,
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
  });
  const kept = (previous?.mailboxes ?? []).map((before) => {
    const mailbox = selected.get(before.source);
    selected.delete(before.source);
    return mailbox ? entry(mailbox, before) : before;
  });
  return {
    schemaVersion: REPORT_SCHEMA_VERSION,
    startedAt: new Date().toISOString(),
    usersFile: path.resolve(users.path),
    usersDigest: users.digest,
    shard,
    mailboxes: [...kept, ...[...selected.values()].map((mailbox) => entry(mailbox))],
  };
}

/** Shared by `migrate` and `retry`: token, live display, runs, report, summary, exit code. */
export async function runMailboxes(
  config: Config,
  mailboxes: Mailbox[],
  store: ReportStore,
  io: CommandIo,
  signIn: { openBrowser: boolean; stopLeftovers?: boolean },
): Promise<number> {
  // Until the live display exists, messages go straight to stderr; then through it, so that a
  // sign-in asked for mid-run does not tear the display.
  const live: { ui?: Ui } = {};
  const say = (line: string) => (live.ui ? live.ui.info(line) : io.stderr.write(`${line}\n`));
  const leftovers = await crashLeftovers(config, Boolean(signIn.stopLeftovers), say);
  const tokens = await createTokenKeeper(
    config,
    { openBrowser: signIn.openBrowser, signal: io.signal },
    { out: say },
  );
  await store.save();
  // Sign in before the live display takes the terminal, so the instructions stay readable.
  if (mailboxes.length > 0) await firstToken(tokens, mailboxes, store);

  const ui = createUi(
    mailboxes.map((mailbox) => mailbox.source),
    { stream: io.stderr, env: io.env },
  );
  live.ui = ui;
  try {
    await migrate(mailboxes, {
      config,
      store,
      tokens,
      tokenFile: tokenPaths(config.workDir).token,
      ui,
      signal: io.signal,
      forceSignal: io.forceSignal,
      leftovers,
    });
  } finally {
    store.report.endedAt = new Date().toISOString();
    await store.save();
    await ui.close();
  }
  for (const line of [...formatSummary(store.report), ...formatRemedies(store.report)]) {
    io.stdout.write(`${line}\n`);
  }
  io.stdout.write(`Report: ${store.files.json}\n`);
  if (io.signal.aborted) {
    return io.signal.reason === "SIGTERM" ? ExitCode.terminated : ExitCode.interrupted;
  }
  // The mailboxes of this run decide; others kept in the report from earlier runs do not.
  return mailboxes.every((mailbox) => store.entry(mailbox.source).status === "ok")
    ? ExitCode.ok
    : ExitCode.mailboxFailed;
}

/** No token at all (refused sign-in, --non-interactive): every mailbox waits for one. */
async function firstToken(tokens: TokenKeeper, mailboxes: Mailbox[], store: ReportStore) {
  try {
    await tokens.fresh();
  } catch (error) {
    if (!(error instanceof TokenError)) throw error;
    for (const mailbox of mailboxes) {
      const entry = store.entry(mailbox.source);
      entry.status = "pending";
      entry.remedy = WAITING_FOR_TOKEN;
    }
    store.report.endedAt = new Date().toISOString();
    await store.save();
    throw error;
  }
}

/**
 * What a crashed earlier run left: its password files go; its imapsync processes still running
 * are stopped when asked, otherwise their mailboxes wait for them (never two runs on a mailbox).
 */
async function crashLeftovers(
  config: Config,
  stop: boolean,
  say: (line: string) => void,
): Promise<Leftover[]> {
  const removed = await removeLeftoverSecrets(config.workDir);
  if (removed > 0) say(`Removed ${removed} password file(s) left by an earlier run that crashed.`);
  const leftovers = await findLeftovers(config.workDir);
  for (const leftover of leftovers) {
    const what = `imapsync PID ${leftover.pid}, left by an earlier run, is still copying ${leftover.mailbox}`;
    if (!stop) {
      say(`${what}: that mailbox starts once it ends (--stop-leftovers stops it now).`);
      continue;
    }
    say(`${what}: stopping it (--stop-leftovers).`);
    await stopLeftover(leftover, config.stopGraceMs ?? DEFAULT_GRACE_MS);
  }
  return stop ? [] : leftovers;
}
