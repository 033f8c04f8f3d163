// One report from the reports of several shards (`report merge`). Pure: the command reads and
// writes the files. Shards are merged only when they migrate the same list: the users file is
// compared by content digest, not by path (every pod or machine mounts it somewhere else).
import { InputError } from "../errors.js";
import { formatShard } from "../plan/shard.js";
import { REPORT_SCHEMA_VERSION, type Report, type ReportEntry } from "./schema.js";
import { inItemsOrder } from "./parts.js";

/** A shard's report as read from `file`; its schema version is checked here, so any number. */
export interface ShardReport {
  file: string;
  report: Omit<Report, "schemaVersion"> & { schemaVersion: number };
}

export interface MergedReport {
  report: Report;
  /** Things the admin should know that do not stop the merge (duplicates, missing shards...). */
  warnings: string[];
}

const SAME_LIST_FIX =
  "Merge only the shards of one migration: every shard must run with the same users file, byte for byte.";

/**
 * Reports of different schema versions cannot be merged, and one this version does not write
 * cannot be read: checked first, on the bare `schemaVersion` of each file.
 */
export function checkSchemaVersions(headers: { file: string; schemaVersion: unknown }[]): void {
  const [first] = headers;
  if (first === undefined) {
    throw new InputError(
      "report merge",
      "no report was given",
      "Name the report.json of every shard, like work/shard-*/report.json.",
    );
  }
  for (const { file, schemaVersion } of headers) {
    if (schemaVersion !== first.schemaVersion) {
      throw new InputError(
        file,
        `this report has schema version ${String(schemaVersion)} but ${first.file} has ${String(first.schemaVersion)}`,
        "Merge reports written by the same version of m365-imapsync: rerun `migrate --resume` on the older shard with the newer version (mailboxes already ok are skipped), then merge again.",
      );
    }
  }
  if (first.schemaVersion !== REPORT_SCHEMA_VERSION) {
    throw new InputError(
      first.file,
      `these reports have schema version ${String(first.schemaVersion)}, which this version of m365-imapsync does not write (${REPORT_SCHEMA_VERSION})`,
      "Merge them with the version of m365-imapsync that wrote them.",
    );
  }
}

/** Same schema, same users file (by content): or an InputError naming the odd one out. */
function checkSameMigration(inputs: ShardReport[]): string {
  checkSchemaVersions(
    inputs.map(({ file, report }) => ({ file, schemaVersion: report.schemaVersion })),
  );
  const [first] = inputs;
  for (const { file, report } of inputs) {
    if (report.usersDigest === undefined) {
      throw new InputError(
        file,
        "this report does not record the digest of its users file (it was written before `report merge` existed)",
        "Rerun `migrate --resume` on that shard with this version (mailboxes already ok are skipped; the digest is recorded), then merge again.",
      );
    }
    if (report.usersDigest !== first?.report.usersDigest) {
      throw new InputError(
        file,
        `this report was written for another users file than ${first?.file} (${report.usersFile} has digest ${report.usersDigest}, ${first?.report.usersFile} had ${first?.report.usersDigest})`,
        SAME_LIST_FIX,
      );
    }
  }
  return first?.report.usersDigest ?? "";
}

/** When the latest of these attempts started; none is older than any that ran. */
function latestStart({ attempts }: { attempts: { start: string }[] }): number {
  const start = attempts.at(-1)?.start;
  const time = start === undefined ? Number.NaN : Date.parse(start);
  return Number.isNaN(time) ? Number.NEGATIVE_INFINITY : time;
}

function shardWarnings(inputs: ShardReport[]): string[] {
  const warnings: string[] = [];
  const counts = new Set(
    inputs.flatMap(({ report }) => (report.shard ? [report.shard.count] : [])),
  );
  if (counts.size > 1) {
    warnings.push(
      `the reports come from different shard counts (${[...counts].join(", ")}): a mailbox that moved between shards appears twice, and its latest attempt is kept`,
    );
  }
  for (const count of counts) {
    const seen = new Map<number, string>();
    for (const { file, report } of inputs) {
      if (report.shard?.count !== count) continue;
      const other = seen.get(report.shard.index);
      if (other !== undefined) {
        warnings.push(`${file} and ${other} are both shard ${formatShard(report.shard)}`);
      }
      seen.set(report.shard.index, file);
    }
    for (let index = 0; index < count; index++) {
      if (!seen.has(index)) {
        warnings.push(
          `no report of shard ${formatShard({ index, count })} was given: its mailboxes are not in the merged report`,
        );
      }
    }
  }
  for (const { file, report } of inputs) {
    if (report.endedAt === undefined) {
      warnings.push(
        `${file} has no end time: that shard is still running or was killed, so mailboxes it shows running may have moved on`,
      );
    }
  }
  return warnings;
}

/**
 * A mailbox found in two reports: its mail from the one that copied last (`newer`), and each
 * calendar or contacts part from the one where that part ran last.
 */
function withLatestParts(newer: ReportEntry, older: ReportEntry): ReportEntry {
  if (!older.parts) return newer;
  const parts = new Map((newer.parts ?? []).map((part) => [part.kind, part]));
  for (const part of older.parts) {
    const mine = parts.get(part.kind);
    if (!mine || (part.kind !== "mail" && latestStart(part) > latestStart(mine)))
      parts.set(part.kind, part);
  }
  return { ...newer, parts: [...parts.values()].sort(inItemsOrder) };
}

/**
 * Combines shard reports into one. A mailbox found in several keeps the entry whose latest
 * attempt started last, and each such mailbox is a warning. Mailboxes keep the order in which
 * the reports list them.
 */
export function mergeReports(inputs: ShardReport[]): MergedReport {
  const digest = checkSameMigration(inputs);
  const kept = new Map<string, { entry: ReportEntry; file: string; files: string[] }>();
  for (const { file, report } of inputs) {
    for (const entry of report.mailboxes) {
      const key = entry.source.toLowerCase();
      const before = kept.get(key);
      if (before === undefined) {
        kept.set(key, { entry, file, files: [file] });
        continue;
      }
      before.files.push(file);
      const [newer, older] =
        latestStart(entry) > latestStart(before.entry)
          ? [entry, before.entry]
          : [before.entry, entry];
      kept.set(key, {
        entry: withLatestParts(newer, older),
        file: newer === entry ? file : before.file,
        files: before.files,
      });
    }
  }
  const warnings = shardWarnings(inputs);
  for (const { entry, file, files } of kept.values()) {
    if (files.length > 1) {
      warnings.push(
        `${entry.source} is in ${files.join(" and ")}: kept the latest attempt, from ${file}`,
      );
    }
  }
  const reports = inputs.map(({ report }) => report);
  const ends = reports.map((report) => report.endedAt);
  const [first] = reports;
  return {
    report: {
      schemaVersion: REPORT_SCHEMA_VERSION,
      startedAt: reports.map((report) => report.startedAt).sort()[0] ?? "",
      endedAt: ends.every((end) => end !== undefined) ? ends.sort().at(-1) : undefined,
      usersFile: first?.usersFile ?? "",
      usersDigest: digest,
      mergedFrom: inputs.map(({ file }) => file),
      mailboxes: [...kept.values()].map(({ entry }) => entry),
    },
    warnings,
  };
}
