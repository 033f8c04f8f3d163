// Where a mailbox's plan is made: from the users file, the selection, the configuration and the
// previous report, what the next attempt of each mailbox will run. Pure: nothing is read or
// spawned here, so `migrate --plan` prints exactly what `migrate` then executes.
import { buildImapsyncArgs, runPaths, type RunPaths } from "../imapsync/args.js";
import { tokenPaths } from "../token/index.js";
import type { Config } from "../config/types.js";
import type { FolderPair, Report, ReportEntry } from "../report/schema.js";
import type { Mailbox, PasswordSource } from "../users/types.js";
import { mailCountsAsOk } from "../report/summary.js";
import { partDone, partOf } from "../report/parts.js";
import type { ItemKind } from "../items/contract.js";
import { statePath } from "../items/state.js";
import { passwordSourceOf } from "../users/passwords.js";
import type { PlanMode } from "./schema.js";

/** One imapsync run of one mailbox, decided before anything starts. */
export interface MailboxPlan {
  mode: PlanMode;
  mailbox: Mailbox;
  /** This attempt's number (after those the report already holds); 0 for a preflight or verify. */
  attempt: number;
  readonly files: RunPaths;
  /** The mapping recorded by the first run, pinned with --f1f2 (automap could change its mind). */
  folders: FolderPair[];
  /** Program and arguments, exactly as spawned. No secret: they travel in files. */
  readonly argv: string[];
  password: PasswordSource;
}

export interface PlanInput {
  mode: PlanMode;
  /** The selected mailboxes, in users-file order. */
  mailboxes: Mailbox[];
  usersFile: string;
  config: Config;
  /** The report of earlier runs in this work directory: attempt numbers and folder mappings. */
  previous?: Report;
}

/** The report's entries by address: one pass, so that planning a long list stays linear. */
function entriesOf(report: Report | undefined): Map<string, ReportEntry> {
  return new Map(report?.mailboxes.map((entry) => [entry.source, entry]));
}

/** The next attempt of one mailbox, after the attempts and with the mapping `entry` records. */
export function planAttempt(
  mode: PlanMode,
  mailbox: Mailbox,
  usersFile: string,
  config: Config,
  entry: Pick<ReportEntry, "attempts" | "folders"> | undefined,
): MailboxPlan {
  const attempt = mode === "sync" ? (entry?.attempts.length ?? 0) + 1 : 0;
  const run = mode === "preflight" ? "check" : mode === "verify" ? "verify" : attempt;
  // A verify run maps folders as the copy did (--f1f2), or it would compare other folders.
  const folders = mode === "preflight" ? [] : (entry?.folders ?? []);
  // The paths and the argv are derived when read (to spawn, to print --plan), never kept:
  // 10,000 plans waiting to run would otherwise hold 10,000 argv arrays of some 70 words.
  const files = () => runPaths(config.workDir, mailbox.source, run);
  return {
    mode,
    mailbox,
    attempt,
    get files() {
      return files();
    },
    folders,
    get argv() {
      const args = buildImapsyncArgs({
        mailbox,
        config,
        tokenFile: tokenPaths(config.workDir).token,
        files: files(),
        folders,
        preflight: mode !== "sync",
      });
      return [config.imapsync.file, ...config.imapsync.args, ...args];
    },
    password: passwordSourceOf(mailbox, usersFile, config),
  };
}

/** One plan per selected mailbox, in order. */
export function planMailboxes(input: PlanInput): MailboxPlan[] {
  const previous = entriesOf(input.previous);
  return input.mailboxes.map((mailbox) =>
    planAttempt(input.mode, mailbox, input.usersFile, input.config, previous.get(mailbox.source)),
  );
}

/**
 * `--resume`: the mailboxes whose mail the previous report does not already hold as done (ok, and
 * no verification found mail missing).
 */
export function notYetOk(mailboxes: Mailbox[], previous: Report | undefined): Mailbox[] {
  const entries = entriesOf(previous);
  return mailboxes.filter((mailbox) => {
    const entry = entries.get(mailbox.source);
    return !entry || !mailCountsAsOk(entry);
  });
}

/** The next attempt of one calendar or contacts part of one mailbox. */
export interface PartPlan {
  mode: Exclude<PlanMode, "preflight">;
  mailbox: Mailbox;
  kind: ItemKind;
  /** After the attempts the report holds of this part; 0 for a verification. */
  attempt: number;
  /** What the last run sent (items/state.ts), per shard since the work directory is. */
  stateFile: string;
  /** The destination password: the CalDAV/CardDAV login is the mail's. */
  password: PasswordSource;
}

/**
 * Every calendar and contacts part ITEMS selects, mailbox by mailbox; with `resume`, only the
 * parts not already done (a part newly selected has never run, so it is not done).
 */
export function planParts(input: PlanInput & { resume?: boolean }): PartPlan[] {
  const { config, usersFile } = input;
  const mode = input.mode === "verify" ? "verify" : "sync";
  const kinds = config.items.filter((item): item is ItemKind => item !== "mail");
  const previous = entriesOf(input.previous);
  return input.mailboxes.flatMap((mailbox) => {
    const entry = previous.get(mailbox.source);
    return kinds.flatMap((kind) => {
      const part = entry && partOf(entry, kind);
      if (input.resume && part && partDone(part)) return [];
      return [
        {
          mode,
          mailbox,
          kind,
          attempt: mode === "sync" ? (part?.attempts.length ?? 0) + 1 : 0,
          stateFile: statePath(config.workDir, mailbox.source, kind),
          password: passwordSourceOf(mailbox, usersFile, config),
        },
      ];
    });
  });
}
