// Where a mailbox's plan is made: from the users file, the selection, the configuration and the
// previous report, what the next attempt of each mailbox will run. Pure: nothing is read or
// spawned here, so `migrate --plan` prints exactly what `migrate` then executes.
import { buildImapsyncArgs, runPaths, type RunPaths } from "../imapsync/args.js";
import { tokenPaths } from "../token/index.js";
import type { Config } from "../config/types.js";
import type { FolderPair, FolderSize, Report, ReportEntry } from "../report/schema.js";
import type { Mailbox, PasswordSource } from "../users/types.js";
import { mailCountsAsOk } from "../report/summary.js";
import { partDone, partOf } from "../report/parts.js";
import type { ItemKind } from "../items/contract.js";
import { statePath } from "../items/state.js";
import { passwordSourceOf } from "../users/passwords.js";
import type { PlanMode } from "./schema.js";
import { totalBytes } from "./sizes.js";
import {
  nextSliceNumber,
  searchOf,
  sliceBreakingOption,
  sliceMailbox,
  sliceThreshold,
  type SliceSpec,
} from "./slicing.js";

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
  /** A slice of a big mailbox: the folders (and date range) this run copies. */
  slice?: SliceSpec;
  /** A big mailbox's first run (`--justfolders`): every destination folder, before the slices. */
  justFolders?: boolean;
  /** A big mailbox: the slices that run at once once this plan is done (or at once, without a first run). */
  slices?: SliceSpec[];
  /** The mailbox's size when it is known (check, or a verification): the biggest go first. */
  bytes?: number;
  /** Why a mailbox big enough to slice runs whole. */
  unsliced?: string;
  /** Why a sliced mailbox's slices start one at a time rather than at once. */
  oneAtATime?: string;
}

/** What a sync of a big mailbox runs besides the whole mailbox. */
export type SliceRun = Pick<MailboxPlan, "slice" | "justFolders" | "slices">;

export interface PlanInput {
  mode: PlanMode;
  /** The selected mailboxes, in users-file order. */
  mailboxes: Mailbox[];
  usersFile: string;
  config: Config;
  /** The report of earlier runs in this work directory: attempt numbers and folder mappings. */
  previous?: Report;
  /** Source folder sizes known before the run (knownSizes): largest first, big ones sliced. */
  sizes?: ReadonlyMap<string, FolderSize[]>;
  /** The days check's probes cut the biggest folders at, per mailbox and folder. */
  cuts?: ReadonlyMap<string, ReadonlyMap<string, readonly string[]>>;
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
  entry: Pick<ReportEntry, "attempts" | "folders" | "slices"> | undefined,
  sliced: SliceRun = {},
): MailboxPlan {
  const { slice } = sliced;
  const earlier = slice ? entry?.slices?.find((s) => s.id === slice.id)?.attempts : entry?.attempts;
  const attempt = mode === "sync" ? (earlier?.length ?? 0) + 1 : 0;
  const run = mode === "preflight" ? "check" : mode === "verify" ? "verify" : attempt;
  // A verify run maps folders as the copy did (--f1f2), or it would compare other folders; a
  // slice pins the folders it copies, as its mailbox's first run created them.
  const mapping = mode === "preflight" ? [] : (entry?.folders ?? []);
  const folders = slice ? mapping.filter((pair) => slice.folders.includes(pair.source)) : mapping;
  // The paths and the argv are derived when read (to spawn, to print --plan), never kept:
  // 10,000 plans waiting to run would otherwise hold 10,000 argv arrays of some 70 words.
  const files = () => runPaths(config.workDir, mailbox.source, run, slice?.id);
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
        justFolders: sliced.justFolders,
        slice: slice && { folders: slice.folders, search: searchOf(slice) },
      });
      return [config.imapsync.file, ...config.imapsync.args, ...args];
    },
    password: passwordSourceOf(mailbox, usersFile, config),
    ...(sliced.slices && { slices: sliced.slices }),
    ...(sliced.justFolders && { justFolders: true }),
    ...(slice && { slice }),
  };
}

/**
 * One plan per selected mailbox: in order, or, with sizes known, the biggest first (those of
 * unknown size after them, in order), a big mailbox's sync sliced.
 */
export function planMailboxes(input: PlanInput): MailboxPlan[] {
  const previous = entriesOf(input.previous);
  const plan = (mailbox: Mailbox, sliced?: SliceRun) =>
    planAttempt(
      input.mode,
      mailbox,
      input.usersFile,
      input.config,
      previous.get(mailbox.source),
      sliced,
    );
  const sizes = input.sizes ?? new Map<string, FolderSize[]>();
  const slicedBefore = input.previous?.mailboxes.some((entry) => entry.slices) ?? false;
  if (sizes.size === 0 && !slicedBefore) return input.mailboxes.map((mailbox) => plan(mailbox));
  const sized = input.mailboxes.map((mailbox) => {
    const folders = sizes.get(mailbox.source);
    return { mailbox, folders, bytes: folders && totalBytes(folders) };
  });
  const { config } = input;
  const above = sliceThreshold(
    sized.flatMap((m) => (m.bytes === undefined ? [] : [m.bytes])),
    config.sliceAboveBytes,
    config.concurrency === "auto" ? config.maxConcurrency : config.concurrency,
  );
  return sized
    .map((m, index) => ({ ...m, index }))
    .sort((a, b) => (b.bytes ?? -1) - (a.bytes ?? -1) || a.index - b.index)
    .map(({ mailbox, folders, bytes }) => {
      const entry = previous.get(mailbox.source);
      const slicing =
        input.mode === "sync"
          ? slicesOf(mailbox, folders ?? [], entry, {
              config,
              above,
              boundaries: input.cuts?.get(mailbox.source),
            })
          : {};
      const made = plan(mailbox, slicing.run);
      if (bytes !== undefined) made.bytes = bytes;
      if (slicing.unsliced) made.unsliced = slicing.unsliced;
      if (slicing.run && entry?.throttledWhileSliced)
        made.oneAtATime = oneAtATimeReason(entry.throttledWhileSliced);
      return made;
    });
}

/** Why a mailbox throttled while sliced (engine/sliced.ts) starts its slices one at a time. */
function oneAtATimeReason(at: string): string {
  return `Exchange Online throttled it while sliced (${at}): it budgets the mailbox itself, so one slice runs until it is refused again, then all while well under what it was allowed between two refusals`;
}

/**
 * A big mailbox's slices: those of its earlier slicing that are not ok yet (rerun exactly
 * those), or a new slicing; with the first run that creates the destination folders whenever a
 * slice's folder has no recorded mapping yet.
 */
function slicesOf(
  mailbox: Mailbox,
  folders: FolderSize[],
  entry: ReportEntry | undefined,
  {
    config,
    above,
    boundaries,
  }: { config: Config; above: number; boundaries?: ReadonlyMap<string, readonly string[]> },
): { run?: SliceRun; unsliced?: string } {
  const unfinished = entry?.slices?.filter((s) => s.status !== "ok");
  const fresh = () =>
    sliceMailbox(folders, {
      above,
      maxSlices: config.maxSlices,
      boundaries,
      firstId: nextSliceNumber(entry?.slices),
    });
  const slices: SliceSpec[] | undefined = unfinished?.length
    ? unfinished.map(({ id, folders, since, before }) => ({ id, folders, since, before }))
    : fresh();
  if (!slices) return {};
  const breaking = sliceBreakingOption([...mailbox.extraArgs, ...config.passthrough]);
  if (breaking !== undefined) {
    return { unsliced: `not sliced: ${breaking} chooses folders or messages itself` };
  }
  const mapped = new Set(entry?.folders?.map((pair) => pair.source));
  const justFolders = slices.some((s) => s.folders.some((folder) => !mapped.has(folder)));
  return { run: { slices, justFolders } };
}

/** A slice's run, numbered after that slice's attempts, pinned to the recorded mapping. */
export function planSlice(
  plan: MailboxPlan,
  slice: SliceSpec,
  usersFile: string,
  config: Config,
  entry: ReportEntry,
): MailboxPlan {
  return planAttempt("sync", plan.mailbox, usersFile, config, entry, { slice });
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
