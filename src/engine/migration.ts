// A migration with its real parts: leftovers of a crashed run, the token keeper, the live display,
// the imapsync runner, then the engine, the summary and the exit code. Shared by migrate and retry.
import path from "node:path";
import { ExitCode, interruptedExit, TokenError } from "../errors.js";
import { planAttempt, type MailboxPlan, type PartPlan } from "../plan/plan.js";
import type { ReportStore } from "../report/store.js";
import { countsAsOk, formatRemedies, formatSummary } from "../report/summary.js";
import { partDone, partOf } from "../report/parts.js";
import type { PartEnds } from "../items/run.js";
import { writeHtmlReport } from "../report/write.js";
import { createTokenKeeper, type AudienceName, type TokenKeeper } from "../token/index.js";
import type { Config } from "../config/types.js";
import { createUi, type Ui } from "../view/ui.js";
import { readPassword } from "../users/passwords.js";
import {
  findLeftovers,
  isRunning,
  removeLeftoverSecrets,
  stopLeftover,
  type Leftover,
} from "../workdir/lock.js";
import { imapsyncRunner } from "./attempt.js";
import { limitFor } from "./limit.js";
import { runEngine } from "./engine.js";
import { PART_CONCURRENCY, runParts } from "./parts.js";
import { WAITING_FOR_TOKEN } from "../outcomes/remedies.js";

export interface MigrationIo {
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  env: NodeJS.ProcessEnv;
  signal: AbortSignal;
  forceSignal: AbortSignal;
}

export interface MigrationOptions {
  config: Config;
  usersFile: string;
  store: ReportStore;
  openBrowser: boolean;
  stopLeftovers: boolean;
  /** `--events jsonl`: events as JSON lines on standard output, the summary on standard error. */
  events?: "jsonl";
  /** `migrate --verify`: verify each mailbox once its copy ended ok. */
  verify?: boolean;
  /** The calendar and contacts parts (ITEMS), and how each attempt reaches its two sides. */
  parts?: PartsToRun;
}

export interface PartsToRun {
  plans: PartPlan[];
  /** Each attempt's source and destination, once Microsoft Graph's token is at hand. */
  ends: (graphTokens: GraphTokens, signal: AbortSignal) => (plan: PartPlan) => Promise<PartEnds>;
}

/** What the parts' source asks of Graph's token keeper. */
type GraphTokens = Pick<TokenKeeper, "fresh" | "renewAfterExpiry">;

/** Token, live display, runs, report, summary; returns the exit code. */
export async function runMigration(
  plans: MailboxPlan[],
  opts: MigrationOptions,
  io: MigrationIo,
): Promise<number> {
  const { config, store } = opts;
  // Until the live display exists, messages go straight to stderr; then through it, so that a
  // sign-in asked for mid-run does not tear the display.
  const live: { ui?: Ui } = {};
  const say = (line: string) => (live.ui ? live.ui.info(line) : io.stderr.write(`${line}\n`));
  const parts = opts.parts ?? {
    plans: [],
    ends: () => () => Promise.reject(new Error("no parts")),
  };
  const passwords = await readPasswords([...plans, ...parts.plans]);
  const leftovers = await crashLeftovers(config, opts.stopLeftovers, say);
  // Without mail, no IMAP token: the parts' Graph token is their source's.
  const keeper = (audience: AudienceName) =>
    createTokenKeeper(
      config,
      { openBrowser: opts.openBrowser, signal: io.signal },
      { out: say },
      audience,
    );
  const tokens = plans.length === 0 ? undefined : await keeper("imap");
  await store.save();
  try {
    // Graph's token is its own (another audience than IMAP's), obtained before the live display.
    const graph = parts.plans.length === 0 ? undefined : await keeper("graph");
    const open = graph ? parts.ends(graph, io.signal) : parts.ends(noTokens, io.signal);
    await runPlans(
      { mail: plans, parts: parts.plans, open },
      opts,
      io,
      tokens,
      leftovers,
      passwords,
      live,
    );
  } finally {
    // Once per run, never per attempt: its cost grows with the list.
    await writeHtmlReport(store.report, htmlPath(store.files.json));
  }
  const out = opts.events ? io.stderr : io.stdout;
  return summarize(plans, parts.plans, store, out, io.signal, Boolean(opts.verify));
}

/** report.html beside the report.json it shows. */
export function htmlPath(reportJson: string): string {
  return path.join(path.dirname(reportJson), "report.html");
}

/**
 * The mail engine and the parts' engine side by side, under one live display: imapsync runs are
 * counted by --concurrency, calendar and contacts parts by their own small pool (they spawn
 * nothing; Graph's limit of requests per mailbox is their source's to keep).
 */
async function runPlans(
  todo: { mail: MailboxPlan[]; parts: PartPlan[]; open: (plan: PartPlan) => Promise<PartEnds> },
  opts: MigrationOptions,
  io: MigrationIo,
  tokens: TokenKeeper | undefined,
  leftovers: Leftover[],
  passwords: Map<string, string | undefined>,
  live: { ui?: Ui },
): Promise<void> {
  const { config, store } = opts;
  const plans = todo.mail;
  // Sign in before the live display takes the terminal, so the instructions stay readable.
  if (tokens && plans.length > 0) await firstToken(tokens, plans, store);
  const ui = createUi(
    plans.map((plan) => plan.mailbox.source),
    { stream: io.stderr, env: io.env, events: opts.events ? io.stdout : undefined },
  );
  live.ui = ui;
  const limit = limitFor(config, {
    mailboxes: plans.length,
    info: (line) => ui.info(line),
    log: (change) => ui.concurrency(change),
    availableMemory: () => process.availableMemory(),
  });
  const mail = async () => {
    if (!tokens || plans.length === 0) return;
    await runEngine(plans, {
      runAttempt: imapsyncRunner(config),
      tokens,
      store,
      ui,
      // A sync keeps what the run is of a big mailbox (its first run, or one slice).
      replan: (mode, plan, entry) =>
        planAttempt(mode, plan.mailbox, opts.usersFile, config, entry, mode === "sync" ? plan : {}),
      verifyAfterCopy: opts.verify,
      password: async (plan) => passwords.get(plan.mailbox.source),
      limits: { ...config, concurrency: limit },
      loginHint: config.loginHint,
      stallTimeoutMs: config.stallTimeoutMs,
      signal: io.signal,
      forceSignal: io.forceSignal,
      leftovers,
      isRunning,
    });
  };
  const parts = async () => {
    if (todo.parts.length === 0) return;
    await runParts(todo.parts, {
      store,
      ui,
      open: todo.open,
      limits: config,
      concurrency: PART_CONCURRENCY,
      signal: io.signal,
      appOnly: config.grant === "client-credentials",
    });
  };
  try {
    // Both to their end: a token failure of the mail leaves the parts to finish, and the reverse.
    const ended = await Promise.allSettled([mail(), parts()]);
    for (const result of ended) if (result.status === "rejected") throw result.reason;
  } finally {
    limit.stop();
    store.report.endedAt = new Date().toISOString();
    await store.close();
    await ui.close();
  }
}

/** No part runs without Graph's token: never asked. */
const noTokens: GraphTokens = {
  fresh: () => Promise.reject(new Error("no Graph token")),
  renewAfterExpiry: () => Promise.reject(new Error("no Graph token")),
};

/** Password files are read now, for the selected mailboxes only, before any sign-in. */
async function readPasswords(
  plans: Pick<MailboxPlan, "mailbox" | "password">[],
): Promise<Map<string, string | undefined>> {
  const passwords = new Map<string, string | undefined>();
  for (const plan of plans) {
    if (passwords.has(plan.mailbox.source)) continue;
    passwords.set(plan.mailbox.source, await readPassword(plan.password));
  }
  return passwords;
}

function summarize(
  plans: MailboxPlan[],
  partPlans: PartPlan[],
  store: ReportStore,
  out: NodeJS.WritableStream,
  signal: AbortSignal,
  verifyAfterCopy: boolean,
): number {
  for (const line of [...formatSummary(store.report), ...formatRemedies(store.report)]) {
    out.write(`${line}\n`);
  }
  out.write(`Report: ${store.files.json} (for people: ${htmlPath(store.files.json)})\n`);
  const interrupted = interruptedExit(signal);
  if (interrupted !== undefined) return interrupted;
  // The mailboxes of this run decide; others kept in the report from earlier runs do not. When
  // this run verifies, only proof counts: a verification that could not tell is not enough.
  const done = (plan: MailboxPlan) => {
    const entry = store.entry(plan.mailbox.source);
    const verifying = verifyAfterCopy || plan.mode === "verify";
    return countsAsOk(entry) && (!verifying || entry.verification?.verdict === "verified");
  };
  const partEnded = (plan: PartPlan) => {
    const part = partOf(store.entry(plan.mailbox.source), plan.kind);
    const verifying = verifyAfterCopy || plan.mode === "verify";
    return (
      part !== undefined &&
      partDone(part) &&
      (!verifying || part.verification?.verdict === "verified")
    );
  };
  return plans.every(done) && partPlans.every(partEnded) ? ExitCode.ok : ExitCode.mailboxFailed;
}

/** No token at all (refused sign-in, --non-interactive): every mailbox waits for one. */
async function firstToken(tokens: TokenKeeper, plans: MailboxPlan[], store: ReportStore) {
  try {
    await tokens.fresh();
  } catch (error) {
    if (!(error instanceof TokenError)) throw error;
    for (const plan of plans) {
      const entry = store.entry(plan.mailbox.source);
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
    await stopLeftover(leftover, config.stopGraceMs);
  }
  return stop ? [] : leftovers;
}
