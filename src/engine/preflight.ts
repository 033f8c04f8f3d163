// What a preflight attempt (`check`) says about a mailbox: its class, or quota_exceeded when the
// mail still missing on the destination does not fit in its quota.
import type { MailboxPlan } from "../plan/plan.js";
import type { FolderSize, ReportEntry } from "../report/schema.js";
import type { FolderSizes } from "../verify/foldersizes.js";
import type { RunStats } from "../imapsync/classification.js";
import type { AttemptResult } from "./attempt.js";
import { PREFLIGHT_OK, quotaShortfallRemedy, remedyFor } from "../outcomes/remedies.js";

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

/** The check's entry for one mailbox, from its preflight attempt. */
export function preflightEntry(
  plan: MailboxPlan,
  result: AttemptResult,
  admin: string | undefined,
): ReportEntry {
  const { mailbox } = plan;
  const c = result.classification;
  const shortfall = c.class === "ok" ? quotaShortfall(c.stats) : undefined;
  const cls = shortfall ? "quota_exceeded" : c.class;
  return {
    source: mailbox.source,
    destination: mailbox.destination,
    status: cls === "ok" ? "ok" : "failed",
    class: cls,
    remedy: shortfall
      ? quotaShortfallRemedy(mailbox.destination, shortfall)
      : cls === "ok"
        ? PREFLIGHT_OK
        : remedyFor(cls, { mailbox: mailbox.source, admin }),
    ...(cls === "ok" && { sizes: sourceSizes(result.folderSizes) }),
    attempts: [
      {
        start: result.attempt.start,
        end: result.attempt.end,
        exitCode: result.exit.code,
        class: c.class,
        ...(result.exit.stalled ? { reason: "stalled" as const } : {}),
        logFile: plan.files.logFile,
      },
    ],
  };
}

/** Each source folder's size, as the preflight's listing showed it (for migrate's slicing). */
function sourceSizes(listing: FolderSizes | undefined): FolderSize[] {
  return (listing?.rows ?? []).flatMap(({ source }) =>
    source.count ? [{ folder: source.name, ...source.count }] : [],
  );
}
