// `check`: the preflight. Programs, configuration, token, then `imapsync --justfoldersizes` for every
// mailbox at once, so that every missing delegation, wrong password or unreachable host is known
// in minutes, before any mail is copied.
import { rm } from "node:fs/promises";
import path from "node:path";
import { execa } from "execa";
import { loadConfig } from "../config.js";
import { ExitCode } from "../errors.js";
import { grantLine, type Principal } from "../exchange-scripts.js";
import { buildImapsyncArgs, runPaths } from "../imapsync/args.js";
import { RunClassifier } from "../imapsync/classify.js";
import { startImapsync, stopOnInterrupt, type ExitStatus } from "../imapsync/run.js";
import { oauth2cVersion } from "../oauth2c.js";
import { remedyFor } from "../remedies.js";
import { REPORT_SCHEMA_VERSION, ReportStore } from "../report.js";
import { schedule } from "../scheduler.js";
import { limitFor } from "../engine/limit.js";
import { checkToken } from "../token-checks.js";
import { createTokenKeeper, expectationsOf, grantOf } from "../token-source.js";
import { tokenPaths } from "../token.js";
import type { Command, Config, Mailbox, ReportEntry, RunStats } from "../types.js";
import { readDestinationAdminPassword, readUsersFile } from "../users.js";
import { checkMailboxOptions, type CommandIo } from "./migrate.js";
import { withWorkDirLock } from "../workdir.js";

export interface CheckFlags extends Record<string, unknown> {
  users: string;
  browser?: boolean;
}

/** A login costs a second or two: many at once, but not so many that Exchange throttles. */
const MIN_CHECK_CONCURRENCY = 8;

export function checkPaths(workDir: string): { json: string; csv: string } {
  return { json: path.join(workDir, "check.json"), csv: path.join(workDir, "check.csv") };
}

/** Who gets FullAccess: the admin who signs in, or the app's service principal. */
export function principalOf(config: Config): Principal | undefined {
  if (grantOf(config) === "client-credentials")
    return config.appId ? { kind: "app", appId: config.appId } : undefined;
  return config.loginHint ? { kind: "admin", address: config.loginHint } : undefined;
}

async function imapsyncVersion(cmd: Command): Promise<string> {
  const result = await execa(cmd.file, [...cmd.args, "--version"], {
    stdin: "ignore",
    timeout: 30_000,
    reject: false,
  });
  const version = /^\s*(\d+\.\d+\S*)\s*$/m.exec(String(result.stdout ?? ""))?.[1];
  return result.exitCode === 0 && version ? version : "version unknown (`--version` failed)";
}

async function programLines(config: Config): Promise<string[]> {
  const shown = (cmd: Command) => [cmd.file, ...cmd.args].join(" ");
  const lines = [
    `  imapsync  ${await imapsyncVersion(config.imapsync)}  (${shown(config.imapsync)})`,
  ];
  if (grantOf(config) !== "client-credentials") {
    const v = await oauth2cVersion(config.oauth2c);
    lines.push(`  oauth2c   ${v.version}  (${shown(config.oauth2c)})`);
  }
  return lines;
}

/** One preflight imapsync (`--justfoldersizes`) for one mailbox, its log beside the others. */
async function preflight(
  mailbox: Mailbox,
  config: Config,
  password: string | undefined,
  io: CommandIo,
): Promise<ReportEntry> {
  const base = runPaths(config.workDir, mailbox.source, 0);
  const files = {
    ...base,
    logFile: path.join(path.dirname(base.logFile), "check.log"),
    pidFile: base.pidFile.replace(/attempt-0\.pid$/, "check.pid"),
    passFile: base.passFile.replace(/attempt-0\.pass2$/, "check.pass2"),
  };
  await rm(files.logFile, { force: true });
  const args = buildImapsyncArgs({
    mailbox,
    config,
    tokenFile: tokenPaths(config.workDir).token,
    files,
    preflight: true,
  });
  const start = new Date().toISOString();
  const child = startImapsync({
    command: config.imapsync,
    args,
    files,
    password,
    cwd: config.workDir,
  });
  const untie = stopOnInterrupt(child, { ...io, graceMs: config.stopGraceMs });
  const classifier = new RunClassifier();
  let exit: ExitStatus;
  try {
    for await (const line of child.lines) classifier.push(line);
    exit = await child.exited;
  } finally {
    untie();
  }
  const c = classifier.finish(exit);
  const shortfall = c.class === "ok" ? quotaShortfall(c.stats) : undefined;
  const cls = shortfall ? "quota_exceeded" : c.class;
  return {
    source: mailbox.source,
    destination: mailbox.destination,
    status: cls === "ok" ? "ok" : "failed",
    class: cls,
    remedy: shortfall
      ? `The destination quota of ${mailbox.destination} leaves ${kib(shortfall.freeBytes)} free, but ${kib(shortfall.needBytes)} of the source's mail is not there yet: raise the quota, then run check again.`
      : cls === "ok"
        ? "Both logins work and every folder opens: the mailbox can be migrated."
        : remedyFor(cls, { mailbox: mailbox.source, admin: config.loginHint }),
    attempts: [
      {
        start,
        end: new Date().toISOString(),
        exitCode: exit.code,
        class: c.class,
        logFile: files.logFile,
      },
    ],
  };
}

/**
 * Whether the mail still missing on the destination fits in its quota, from the sizes and the
 * quota a preflight run printed (fixtures/imapsync-2.229-standin); undefined when it fits or
 * when imapsync saw no quota.
 */
export function quotaShortfall(
  stats: RunStats,
): { needBytes: number; freeBytes: number } | undefined {
  const quota = stats.destinationQuota;
  if (!quota || quota.limitBytes === 0 || stats.sourceBytes === undefined) return undefined;
  const needBytes = Math.max(0, stats.sourceBytes - (stats.destinationBytes ?? 0));
  const freeBytes = Math.max(0, quota.limitBytes - quota.usedBytes);
  return needBytes > freeBytes ? { needBytes, freeBytes } : undefined;
}

function kib(bytes: number): string {
  return `${(bytes / 1024).toFixed(1)} KiB`;
}

function table(entries: ReportEntry[]): string[] {
  const width = Math.max(7, ...entries.map((e) => e.source.length));
  const klass = Math.max(6, ...entries.map((e) => (e.class ?? "").length));
  return [
    `  ${"MAILBOX".padEnd(width)}  ${"RESULT".padEnd(klass)}  WHAT TO DO`,
    ...entries.map(
      (e) =>
        `  ${e.source.padEnd(width)}  ${(e.class ?? "-").padEnd(klass)}  ${e.status === "ok" ? "-" : (e.remedy ?? "")}`,
    ),
  ];
}

export async function checkCommand(flags: CheckFlags, io: CommandIo): Promise<number> {
  const users = await readUsersFile(flags.users);
  const config = loadConfig(flags, {
    env: io.env,
    require: ["destination", "imapsync", "oauth2c", "token"],
    host2Optional: users.mailboxes.every((mailbox) => mailbox.host2 !== undefined),
  });
  checkMailboxOptions(users.path, users.mailboxes, config);
  const out = (line: string) => io.stdout.write(`${line}\n`);
  const say = (line: string) => io.stderr.write(`${line}\n`);
  for (const notice of users.notices) say(notice);

  out("Programs");
  for (const line of await programLines(config)) out(line);
  out(
    `Configuration  complete: GRANT=${grantOf(config)}, ${users.mailboxes.length} mailboxes from ${users.path}`,
  );
  return withWorkDirLock(config.workDir, async () => {
    const tokens = await createTokenKeeper(
      config,
      { openBrowser: flags.browser !== false, signal: io.signal },
      { out: say },
    );
    const token = await tokens.fresh();
    out(`Token  ${checkToken(token, expectationsOf(config)).summary}`);

    const limit = limitFor(config, {
      mailboxes: users.mailboxes.length,
      least: MIN_CHECK_CONCURRENCY,
      info: say,
      log: (change) => say(`concurrency ${change.from} -> ${change.to}: ${change.reason}`),
    });
    out(
      `Mailboxes  imapsync --justfoldersizes (log in, open every folder), ${config.concurrency === "auto" ? `auto, from ${limit.current()}` : limit.current()} at a time`,
    );
    const password = await readDestinationAdminPassword(config);
    const entries = new Map<string, ReportEntry>();
    await schedule(users.mailboxes, { concurrency: limit, signal: io.signal }, async (mailbox) => {
      // A check is short: a token about to expire is renewed before each login.
      await tokens.fresh();
      limit.attemptStarted(mailbox.source);
      const entry = await preflight(mailbox, config, password ?? mailbox.password, io);
      limit.attemptEnded(mailbox.source, {
        copied: 0,
        bytes: 0,
        throttled: entry.class === "throttled",
      });
      limit.mailboxDone(mailbox.source);
      entries.set(mailbox.source, entry);
      return {};
    });
    limit.stop();
    const results = users.mailboxes.flatMap((m) => entries.get(m.source) ?? []);
    for (const line of table(results)) out(line);

    const store = new ReportStore(
      {
        schemaVersion: REPORT_SCHEMA_VERSION,
        startedAt: new Date().toISOString(),
        endedAt: new Date().toISOString(),
        usersFile: path.resolve(users.path),
        mailboxes: results,
      },
      checkPaths(config.workDir),
    );
    await store.save();

    const principal = principalOf(config);
    const undelegated = results.filter((e) => e.class === "not_delegated");
    if (undelegated.length > 0 && principal) {
      out("");
      out(
        "Grant the missing FullAccess in Exchange Online PowerShell (it takes a few minutes to apply):",
      );
      for (const e of undelegated) out(`  ${grantLine(e.source, principal)}`);
    }
    const ok = results.filter((e) => e.status === "ok").length;
    out("");
    out(
      `${ok} of ${users.mailboxes.length} mailboxes can be migrated. Results: ${checkPaths(config.workDir).json}`,
    );
    if (io.signal.aborted)
      return io.signal.reason === "SIGTERM" ? ExitCode.terminated : ExitCode.interrupted;
    return ok === users.mailboxes.length ? ExitCode.ok : ExitCode.mailboxFailed;
  });
}
