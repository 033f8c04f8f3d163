// The one source of every shape the report persists (report.json, check.json, each line of
// report.journal): zod schemas, and the TypeScript types inferred from them. A field added here is
// both typed and kept when a report is read back; versions.ts says how older versions load.
import { z } from "zod";
import { RUN_CLASSES } from "../outcomes/classes.js";
import { ITEMS } from "../config/settings.js";

/** The version written in every report; versions.ts reads each version there has been. */
export const REPORT_SCHEMA_VERSION = 1;

const classSchema = z.enum(RUN_CLASSES);

/** A source folder and where imapsync put it, from `Folder i/n [f1] -> [f2]` lines (IMAP names). */
export const folderPairSchema = z.object({ source: z.string(), destination: z.string() });
export type FolderPair = z.infer<typeof folderPairSchema>;

export const attemptSchema = z.object({
  start: z.string(),
  end: z.string().optional(),
  exitCode: z.number().nullable(),
  signal: z.string().nullable().optional(),
  class: classSchema.optional(),
  /**
   * Why the tool stopped the run itself: it printed nothing for STALL_TIMEOUT (`stalled`), or
   * another slice of its mailbox was throttled (`paused`: it waits with the mailbox, not counted
   * as an attempt throttled or failed).
   */
  reason: z.enum(["stalled", "paused"]).optional(),
  messagesTransferred: z.number().optional(),
  bytesTransferred: z.number().optional(),
  /** Messages the destination held when this copy started (its `Start difference`). */
  destinationBefore: z.number().optional(),
  logFile: z.string(),
});
export type Attempt = z.infer<typeof attemptSchema>;

/** A folder by its IMAP name (modified UTF-7, what --f1f2 takes) and as people read it. */
const folderNameSchema = z.object({ name: z.string(), display: z.string() });
export type FolderName = z.infer<typeof folderNameSchema>;

const folderCountSchema = z.object({ messages: z.number(), bytes: z.number() });
export type FolderCount = z.infer<typeof folderCountSchema>;

const folderVerdictSchema = z.enum(["match", "missing", "extra", "destination_only"]);
export type FolderVerdict = z.infer<typeof folderVerdictSchema>;

/** One destination folder after a verification: the source folders mapped to it, summed. */
const verifiedFolderSchema = z.object({
  destination: folderNameSchema,
  sources: z.array(folderNameSchema.extend(folderCountSchema.shape)),
  verdict: folderVerdictSchema,
  sourceMessages: z.number(),
  sourceBytes: z.number(),
  /** Absent: the folder does not exist on the destination (or, destination-only, not sized). */
  destinationMessages: z.number().optional(),
  destinationBytes: z.number().optional(),
});
export type VerifiedFolder = z.infer<typeof verifiedFolderSchema>;

/**
 * `verified`: every folder is `match` or `extra`; `missing`: source mail is not on the
 * destination; `failed`: the verify run could not tell (its class says why).
 */
const verificationVerdictSchema = z.enum(["verified", "missing", "failed"]);
export type VerificationVerdict = z.infer<typeof verificationVerdictSchema>;

/** The last verify run of a mailbox (imapsync --justfoldersizes after the copy). */
const verificationSchema = z.object({
  at: z.string(),
  verdict: verificationVerdictSchema,
  /** The verify run's class (ok, or quota_exceeded for a destination nearly full, when it counted). */
  class: classSchema,
  remedy: z.string().optional(),
  logFile: z.string(),
  /** The folder mapping it passed with --f1f2 (the one the first copy recorded). */
  mapping: z.array(folderPairSchema),
  folders: z.array(verifiedFolderSchema),
  missingMessages: z.number(),
  extraMessages: z.number(),
  /** What the extra messages most likely are, when the first run's statistics tell. */
  extraNote: z.string().optional(),
  /** The lines that made the run fail or its listing unreadable. */
  evidence: z.array(z.string()),
});
export type Verification = z.infer<typeof verificationSchema>;

const mailboxStatusSchema = z.enum(["pending", "running", "ok", "failed", "interrupted"]);
export type MailboxStatus = z.infer<typeof mailboxStatusSchema>;

/** What one pass over a calendar or contacts part did (or an attempt of it). */
const partCountsSchema = z.object({
  /** Source collections (calendars, contact folders) it went through. */
  collections: z.number(),
  /** Items new at the destination. */
  sent: z.number(),
  /** Items the destination held in an older version (or not from this tool), replaced. */
  updated: z.number(),
  /** Items this tool had created that left the source, removed at the destination. */
  removed: z.number(),
  /** Items unchanged since the last pass, not sent again. */
  unchanged: z.number(),
});
export type PartCounts = z.infer<typeof partCountsSchema>;

/** One run of a calendar or contacts part, through the source and destination of src/items/. */
const partAttemptSchema = z.object({
  start: z.string(),
  end: z.string().optional(),
  class: classSchema.optional(),
  counts: partCountsSchema.optional(),
  /** What the source or the destination answered when it failed (no secret: they never hold one). */
  detail: z.string().optional(),
});
export type PartAttempt = z.infer<typeof partAttemptSchema>;

/** One calendar or contact folder compared by UID after the copy. */
const verifiedCollectionSchema = z.object({
  name: z.string(),
  sourceItems: z.number(),
  destinationItems: z.number(),
  /** The source's items the destination lacks, by label and UID. */
  missing: z.array(z.string()),
});
export type VerifiedCollection = z.infer<typeof verifiedCollectionSchema>;

const partVerificationSchema = z.object({
  at: z.string(),
  verdict: verificationVerdictSchema,
  class: classSchema,
  remedy: z.string().optional(),
  collections: z.array(verifiedCollectionSchema),
  missingItems: z.number(),
});
export type PartVerification = z.infer<typeof partVerificationSchema>;

/**
 * What one permission of the Graph token allows on one mailbox (`check`): granted, refused (403),
 * the user has no Exchange Online mailbox (404 MailboxNotEnabledForRESTAPI), Graph knows no such
 * user (any other 404), or no verdict (throttled, unreachable).
 */
export const ACCESS_VERDICTS = [
  "granted",
  "refused",
  "no_mailbox",
  "unknown_user",
  "unanswered",
] as const;
export type AccessVerdict = (typeof ACCESS_VERDICTS)[number];

const permissionCheckSchema = z.object({
  /** As the admin grants it: `Calendars.Read` (application) or `Calendars.Read.Shared` (delegated). */
  permission: z.string(),
  verdict: z.enum(ACCESS_VERDICTS),
  /** What Graph answered when it was not granted ("403 ErrorAccessDenied"). */
  said: z.string().optional(),
  remedy: z.string().optional(),
});
export type PermissionCheck = z.infer<typeof permissionCheckSchema>;

export const partKindSchema = z.enum(ITEMS);
export type PartKind = z.infer<typeof partKindSchema>;

/**
 * One selected item of a mailbox (ITEMS). The mail part only mirrors the mailbox's own status,
 * class and remedy (its attempts, folders and verification stay where they always were); a
 * calendar or contacts part carries all of its own.
 */
export const partSchema = z.object({
  kind: partKindSchema,
  status: mailboxStatusSchema,
  class: classSchema.optional(),
  remedy: z.string().optional(),
  nextAttemptAt: z.string().optional(),
  attempts: z.array(partAttemptSchema),
  /**
   * What the part's pass did: every attempt from the first of a run until the part ends ok
   * (`--resume` and `retry` go on with it), each item once (items/state.ts).
   */
  counts: partCountsSchema.optional(),
  /** Collections the source lists that are not the mailbox's own (shared, birthdays, holidays). */
  skipped: z.array(z.object({ name: z.string(), reason: z.string() })).optional(),
  /** What the conversion could not carry, per item ("Réunion 3 mars: attachment plan.pdf…"). */
  losses: z.array(z.string()).optional(),
  /** Where the collections went (DAV addresses, or the files to import by hand). */
  locations: z.array(z.string()).optional(),
  /**
   * Calendars or address books an earlier run moved that the source no longer lists ("gone at
   * the source since the last run"): kept at the destination (`location`), no longer synced.
   */
  gone: z.array(z.object({ name: z.string(), location: z.string() })).optional(),
  verification: partVerificationSchema.optional(),
  /** check.json only: each permission the part needs, tried on this mailbox. */
  permissions: z.array(permissionCheckSchema).optional(),
});
export type Part = z.infer<typeof partSchema>;

/** A source folder's size as a folder-size listing showed it (check, or a verification). */
export const folderSizeSchema = z.object({
  folder: z.string(),
  messages: z.number(),
  bytes: z.number(),
});
export type FolderSize = z.infer<typeof folderSizeSchema>;

/**
 * One of the imapsync runs a big mailbox's mail is split into: some of its source folders
 * (`--folder`, IMAP names), and for a folder split by date, its INTERNALDATE range (`--search1`:
 * `SINCE since`, `BEFORE before`, each absent at an open end). Its own attempts and status.
 */
export const sliceSchema = z.object({
  id: z.string(),
  folders: z.array(z.string()),
  since: z.string().optional(),
  before: z.string().optional(),
  status: mailboxStatusSchema,
  class: classSchema.optional(),
  remedy: z.string().optional(),
  attempts: z.array(attemptSchema),
});
export type Slice = z.infer<typeof sliceSchema>;

export const entrySchema = z.object({
  source: z.string(),
  destination: z.string(),
  status: mailboxStatusSchema,
  class: classSchema.optional(),
  remedy: z.string().optional(),
  attempts: z.array(attemptSchema),
  /** Folder mapping decided by the first run, passed explicitly on reruns. */
  folders: z.array(folderPairSchema).optional(),
  /** While it waits to run again (throttled, backing off): when its next attempt starts. */
  nextAttemptAt: z.string().optional(),
  /**
   * `status` says how the last copy ended; this, what the last verify run found. Reports written
   * before verification existed have none.
   */
  verification: verificationSchema.optional(),
  /**
   * Only when ITEMS names more than mail: every part of the mailbox, `status` above being the
   * worst of theirs. Mail-only reports have none, and read as they always did.
   */
  parts: z.array(partSchema).optional(),
  /** check.json only: the source folders' sizes its listing showed (what migrate slices by). */
  sizes: z.array(folderSizeSchema).optional(),
  /** check.json only: per folder too big for one slice, the days that cut it in equal parts. */
  dateCuts: z.record(z.string(), z.array(z.string())).optional(),
  /** A mailbox copied as several runs at once: `attempts` then holds its folder-creating runs. */
  slices: z.array(sliceSchema).optional(),
  /**
   * When one of its slices was first throttled: Exchange Online budgets this mailbox itself, so
   * from then on, in later runs too, its slices run at once only while well under what it was
   * allowed between two refusals (engine/sliced.ts), and one at a time until that is known.
   */
  throttledWhileSliced: z.string().optional(),
});
export type ReportEntry = z.infer<typeof entrySchema>;

export const reportSchema = z.object({
  schemaVersion: z.literal(REPORT_SCHEMA_VERSION),
  startedAt: z.string(),
  endedAt: z.string().optional(),
  usersFile: z.string(),
  /** `sha256:` and the hex digest of the users file's bytes: which list, wherever it is mounted. */
  usersDigest: z.string().optional(),
  /** The shard this report's work directory runs (`migrate --shard`); absent: every mailbox. */
  shard: z.object({ index: z.number().int().min(0), count: z.number().int().min(1) }).optional(),
  /** Set by `report merge`: the shard reports this one was merged from. */
  mergedFrom: z.array(z.string()).optional(),
  mailboxes: z.array(entrySchema),
});
export type Report = z.infer<typeof reportSchema>;

/** One line of report.journal: a mailbox's entry as it now is. */
export const journalLineSchema = z.object({ entry: entrySchema });
export type JournalLine = z.infer<typeof journalLineSchema>;
