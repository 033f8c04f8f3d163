// What every command that works on mailboxes does first: the users file, the configuration (the
// destination host is required unless every mailbox names its own), the option checks, the
// notices. And the signal-to-exit-code rule they share. Not a command itself.
import { loadConfig, type Requirement } from "../config/load.js";
import { checkUserOptions } from "../imapsync/args.js";
import type { Config } from "../config/types.js";
import type { Mailbox, UsersFile } from "../users/types.js";
import { readUsersFile } from "../users/read.js";
import { existsSync } from "node:fs";
import { checkPaths, loadReport } from "../report/store.js";
import { planMailboxes, type MailboxPlan, type PlanInput } from "../plan/plan.js";
import { knownCuts, knownSizes } from "../plan/sizes.js";
import type { Report } from "../report/schema.js";

export interface CommandIo {
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  env: NodeJS.ProcessEnv;
  /** Aborted on the first SIGINT/SIGTERM: stop starting, stop runs through their abort file. */
  signal: AbortSignal;
  /** Aborted on a second signal: end every run at once. */
  forceSignal: AbortSignal;
}

export interface Session {
  users: UsersFile;
  config: Config;
}

/**
 * Users file, then configuration, then the imapsync options of column 7 and after `--`. `needs`
 * lists what the command uses besides the destination (token, programs); `flags` may override
 * settings (retry sets the work directory to the report's folder).
 */
export async function openSession(
  usersFile: string,
  flags: Record<string, unknown>,
  io: Pick<CommandIo, "env" | "stderr">,
  needs: Requirement[],
): Promise<Session> {
  const users = await readUsersFile(usersFile);
  // HOST2 may stay unset when every mailbox names its own host (bulk format, column 4).
  const destination = users.mailboxes.some((mailbox) => mailbox.host2 === undefined);
  const config = loadConfig(flags, {
    env: io.env,
    require: destination ? ["destination", ...needs] : needs,
  });
  checkMailboxOptions(users.path, users.mailboxes, config);
  for (const notice of users.notices) io.stderr.write(`${notice}\n`);
  return { users, config };
}

/** Column 7 and the options after `--` may not touch what the tool manages itself. */
function checkMailboxOptions(usersFile: string, mailboxes: Mailbox[], config: Config): void {
  checkUserOptions(config.passthrough, "options after --");
  for (const mailbox of mailboxes) {
    checkUserOptions(mailbox.extraArgs, `${usersFile} line ${mailbox.line}, column 7`);
  }
}

/** The token, imapsync and oauth2c: what a command that runs imapsync needs. */
export const RUNS_IMAPSYNC: Requirement[] = ["imapsync", "oauth2c", "token"];

/** check.json of a work directory, where `migrate` and `retry` find sizes and date cuts. */
export async function checkIn(workDir: string): Promise<Report | undefined> {
  const checked = checkPaths(workDir).json;
  return existsSync(checked) ? loadReport(checked) : undefined;
}

/**
 * The mail's plans of `migrate` and `retry` alike: with the sizes check.json and the previous
 * report's verifications know, the biggest first and the big ones sliced (README: Big mailboxes),
 * said on standard error; without, the users file's order.
 */
export function planMail(
  input: Omit<PlanInput, "sizes" | "cuts">,
  check: Report | undefined,
  io: Pick<CommandIo, "stderr">,
): MailboxPlan[] {
  const sizes = knownSizes(check, input.previous);
  const plans = planMailboxes({ ...input, sizes, cuts: knownCuts(check) });
  if (sizes.size > 0) {
    const sliced = plans.filter((plan) => plan.slices).length;
    io.stderr.write(
      `Largest first: sizes of ${plans.filter((p) => p.bytes !== undefined).length} of ${plans.length} mailboxes known (check.json, verifications); ${sliced} sliced.\n`,
    );
  }
  return plans;
}
