// `check`: the preflight. Programs, configuration, token, then a preflight attempt for every
// mailbox at once, so that every missing delegation, wrong password or unreachable host is known
// in minutes, before any mail is copied.
import path from "node:path";
import { ExitCode, interruptedExit } from "../errors.js";
import { imapsyncRunner } from "../engine/attempt.js";
import { preflightEntry } from "../engine/preflight.js";
import { limitFor, type ConcurrencyLimit } from "../engine/limit.js";
import { schedule } from "../engine/scheduler.js";
import { grantLine, principalOf } from "../exchange/scripts.js";
import { imapsyncVersion } from "../imapsync/run.js";
import { planAttempt, planMailboxes, planParts, type MailboxPlan } from "../plan/plan.js";
import { checkParts, PART_CONCURRENCY } from "../engine/parts.js";
import { partEnds } from "../items/open.js";
import { newPart, persisted } from "../report/parts.js";
import { sliceThreshold } from "../plan/slicing.js";
import { totalBytes } from "../plan/sizes.js";
import { probeDateCuts, type Probe } from "../engine/probing.js";
import { checkPaths, ReportStore } from "../report/store.js";
import { REPORT_SCHEMA_VERSION, type Report, type ReportEntry } from "../report/schema.js";
import {
  checkToken,
  createTokenKeeper,
  describeExpiry,
  expectationsOf,
  oauth2cVersion,
  type TokenKeeper,
} from "../token/index.js";
import type { Command, Config } from "../config/types.js";
import { readPassword } from "../users/passwords.js";
import { withWorkDirLock } from "../workdir/lock.js";
import { openSession, RUNS_IMAPSYNC, type CommandIo, type Session } from "./session.js";

export interface CheckFlags extends Record<string, unknown> {
  users: string;
  browser?: boolean;
}

/** A login costs a second or two: many at once, but not so many that Exchange throttles. */
const MIN_CHECK_CONCURRENCY = 8;

export async function checkCommand(flags: CheckFlags, io: CommandIo): Promise<number> {
  const { users, config } = await openSession(flags.users, flags, io, RUNS_IMAPSYNC);
  const mail = config.items.includes("mail");
  // Before anything is signed in for: a build without the parts' sides says so now.
  const ends = partEnds(config, users.path);
  const out = (line: string) => io.stdout.write(`${line}\n`);
  out("Programs");
  for (const line of await programLines(config)) out(line);
  out(
    `Configuration  complete: GRANT=${config.grant}, ITEMS=${config.items.join(",")}, ${users.mailboxes.length} mailboxes from ${users.path}`,
  );
  return withWorkDirLock(config.workDir, async () => {
    const results = mail ? await checkMail(users, config, flags, io) : [];
    const partPlans = planParts({
      mode: "sync",
      mailboxes: users.mailboxes,
      usersFile: users.path,
      config,
    });
    if (partPlans.length > 0) {
      const graph = await createTokenKeeper(
        config,
        { openBrowser: flags.browser !== false, signal: io.signal },
        { out: (l) => io.stderr.write(`${l}\n`) },
        "graph",
      );
      const token = await graph.fresh();
      const appOnly = config.grant === "client-credentials";
      const granted = token.opaque
        ? undefined
        : appOnly
          ? (token.claims.roles ?? [])
          : (token.claims.scp ?? "").split(" ").filter(Boolean);
      out(
        `Graph token  ${describeExpiry(token)}${granted ? `; ${appOnly ? "roles" : "scopes"}: ${granted.join(" ") || "none"}` : ""}`,
      );
      out(
        `Calendar and contacts  Microsoft Graph lists each mailbox's collections, then the destination's login, ${PART_CONCURRENCY} at a time`,
      );
      const found = await checkParts(partPlans, {
        open: ends(graph, io.signal),
        concurrency: PART_CONCURRENCY,
        signal: io.signal,
        appOnly,
        granted,
      });
      const bySource = new Map(results.map((entry) => [entry.source, entry]));
      for (const mailbox of users.mailboxes) {
        const parts = found.get(mailbox.source) ?? [];
        const entry = bySource.get(mailbox.source);
        if (entry) entry.parts = [newPart("mail"), ...parts];
        else {
          const { source, destination } = mailbox;
          results.push({ source, destination, status: "pending", attempts: [], parts });
        }
      }
      for (const line of [...permissionTable(results), ...partTable(results)]) out(line);
    }
    await saveResults(results, users.path, config.workDir);
    const ok = results.filter((e) => persisted(e).status === "ok").length;
    out("");
    out(
      `${ok} of ${users.mailboxes.length} mailboxes can be migrated. Results: ${checkPaths(config.workDir).json}`,
    );
    return (
      interruptedExit(io.signal) ??
      (ok === users.mailboxes.length ? ExitCode.ok : ExitCode.mailboxFailed)
    );
  });
}

/** The IMAP token, then a preflight of every mailbox's mail, its table and the grants it lacks. */
async function checkMail(
  users: Session["users"],
  config: Config,
  flags: CheckFlags,
  io: CommandIo,
): Promise<ReportEntry[]> {
  const out = (line: string) => io.stdout.write(`${line}\n`);
  const signIn = { openBrowser: flags.browser !== false, signal: io.signal };
  const tokens = await createTokenKeeper(
    config,
    signIn,
    { out: (l) => io.stderr.write(`${l}\n`) },
    "imap",
  );
  out(`Token  ${checkToken(await tokens.fresh(), expectationsOf(config)).summary}`);
  const say = (line: string) => io.stderr.write(`${line}\n`);
  const limit = limitFor(config, {
    mailboxes: users.mailboxes.length,
    least: MIN_CHECK_CONCURRENCY,
    info: say,
    log: (change) => say(`concurrency ${change.from} -> ${change.to}: ${change.reason}`),
    availableMemory: () => process.availableMemory(),
  });
  const atATime = config.concurrency === "auto" ? `auto, from ${limit.current()}` : limit.current();
  out(`Mailboxes  imapsync --justfoldersizes (log in, open every folder), ${atATime} at a time`);
  const plans = planMailboxes({
    mode: "preflight",
    mailboxes: users.mailboxes,
    usersFile: users.path,
    config,
  });
  const entries = await preflights(plans, { limit, config, tokens }, io);
  const results = users.mailboxes.flatMap((m) => entries.get(m.source) ?? []);
  for (const line of await dateCuts(plans, results, { config, usersFile: users.path, tokens }, io))
    out(line);
  for (const line of [...table(results), ...grantHelp(results, config)]) out(line);
  return results;
}

/** One line per permission tried on a mailbox: the Graph verdicts, as the mail's are per mailbox. */
function permissionTable(entries: ReportEntry[]): string[] {
  const rows = entries.flatMap((e) =>
    (e.parts ?? []).flatMap((p) => (p.permissions ?? []).map((c) => ({ source: e.source, c }))),
  );
  if (rows.length === 0) return [];
  const width = Math.max(7, ...rows.map((r) => r.source.length));
  const name = Math.max(10, ...rows.map((r) => r.c.permission.length));
  return [
    "Graph permissions  one request per permission and mailbox",
    `  ${"MAILBOX".padEnd(width)}  ${"PERMISSION".padEnd(name)}  VERDICT       WHAT TO DO`,
    ...rows.map(
      ({ source, c }) =>
        `  ${source.padEnd(width)}  ${c.permission.padEnd(name)}  ${c.verdict.padEnd(12)}  ${c.remedy ?? "-"}`,
    ),
  ];
}

/** One line per calendar or contacts part checked. */
function partTable(entries: ReportEntry[]): string[] {
  const rows = entries.flatMap((e) =>
    (e.parts ?? []).filter((p) => p.kind !== "mail").map((p) => ({ source: e.source, part: p })),
  );
  const width = Math.max(7, ...rows.map((r) => r.source.length));
  const klass = Math.max(6, ...rows.map((r) => (r.part.class ?? "").length));
  return [
    `  ${"MAILBOX".padEnd(width)}  PART      ${"RESULT".padEnd(klass)}  WHAT TO DO`,
    ...rows.map(
      ({ source, part }) =>
        `  ${source.padEnd(width)}  ${part.kind.padEnd(8)}  ${(part.class ?? "-").padEnd(klass)}  ${part.remedy ?? ""}`,
    ),
  ];
}

/** Every preflight at once (a token about to expire is renewed before each login). */
async function preflights(
  plans: MailboxPlan[],
  ctx: { limit: ConcurrencyLimit; config: Config; tokens: Pick<TokenKeeper, "fresh"> },
  io: CommandIo,
): Promise<Map<string, ReportEntry>> {
  const run = imapsyncRunner(ctx.config);
  const entries = new Map<string, ReportEntry>();
  const { limit } = ctx;
  await schedule(plans, { concurrency: limit, signal: io.signal }, async (plan) => {
    const source = plan.mailbox.source;
    const password = await readPassword(plan.password);
    await ctx.tokens.fresh();
    const spawnFailed = (reason: string) =>
      io.stderr.write(`${source}: imapsync could not be started: ${reason}\n`);
    limit.attemptStarted(source);
    const result = await run(plan, { ...io, password, spawnFailed });
    const entry = preflightEntry(plan, result, ctx.config.loginHint);
    limit.attemptEnded(source, { copied: 0, bytes: 0, throttled: entry.class === "throttled" });
    limit.mailboxDone(source);
    entries.set(source, entry);
    return {};
  });
  limit.stop();
  return entries;
}

/**
 * The folders too big for one slice of their mailbox (as migrate will slice it) are probed for
 * the days that cut them in equal parts, recorded in check.json for migrate.
 */
async function dateCuts(
  plans: MailboxPlan[],
  results: ReportEntry[],
  ctx: { config: Config; usersFile: string; tokens: Pick<TokenKeeper, "fresh"> },
  io: CommandIo,
): Promise<string[]> {
  const { config, usersFile } = ctx;
  const above = sliceThreshold(
    results.flatMap((entry) => (entry.sizes ? [totalBytes(entry.sizes)] : [])),
    config.sliceAboveBytes,
    config.concurrency === "auto" ? config.maxConcurrency : config.concurrency,
  );
  const run = imapsyncRunner(config);
  const lines: string[] = [];
  for (const entry of results) {
    const plan = plans.find((p) => p.mailbox.source === entry.source);
    if (!entry.sizes || !plan || io.signal.aborted) continue;
    const password = await readPassword(plan.password);
    const probe: Probe = async (folder, since, n) => {
      await ctx.tokens.fresh();
      const slice = { id: `probe${n}`, folders: [folder], since };
      const probing = planAttempt("preflight", plan.mailbox, usersFile, config, undefined, {
        slice,
      });
      const result = await run(probing, { ...io, password });
      if (result.classification.class !== "ok") return undefined;
      return result.folderSizes?.rows.find((row) => row.source.name === folder)?.source.count
        ?.messages;
    };
    const found = await probeDateCuts(entry.sizes, {
      above,
      maxSlices: config.maxSlices,
      today: Date.now(),
      probe,
    });
    if (Object.keys(found.cuts).length > 0) entry.dateCuts = found.cuts;
    for (const [folder, days] of Object.entries(found.cuts)) {
      lines.push(
        `  ${folder} of ${entry.source}: cut by date at ${days.join(", ")} (${found.probes} probes)`,
      );
    }
    for (const folder of found.whole) {
      lines.push(
        `  ${folder} of ${entry.source}: stays whole (most of its mail is on one day, or a probe failed)`,
      );
    }
  }
  return lines.length > 0 ? ["Date cuts (folders bigger than one slice)", ...lines] : [];
}

async function programLines(config: Config): Promise<string[]> {
  const shown = (cmd: Command) => [cmd.file, ...cmd.args].join(" ");
  const lines = config.items.includes("mail")
    ? [`  imapsync  ${await imapsyncVersion(config.imapsync)}  (${shown(config.imapsync)})`]
    : [];
  if (config.grant !== "client-credentials") {
    const v = await oauth2cVersion(config.oauth2c);
    lines.push(`  oauth2c   ${v.version}  (${shown(config.oauth2c)})`);
  }
  return lines;
}

function saveResults(results: ReportEntry[], usersFile: string, workDir: string): Promise<void> {
  const now = new Date().toISOString();
  const report: Report = {
    schemaVersion: REPORT_SCHEMA_VERSION,
    startedAt: now,
    endedAt: now,
    usersFile: path.resolve(usersFile),
    mailboxes: results,
  };
  return new ReportStore(report, checkPaths(workDir)).save();
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

/** The PowerShell lines that grant the FullAccess found missing. */
function grantHelp(results: ReportEntry[], config: Config): string[] {
  const principal = principalOf(config);
  const undelegated = results.filter((e) => e.class === "not_delegated");
  if (undelegated.length === 0 || !principal) return [];
  return [
    "",
    "Grant the missing FullAccess in Exchange Online PowerShell (it takes a few minutes to apply):",
    ...undelegated.map((e) => `  ${grantLine(e.source, principal)}`),
  ];
}
