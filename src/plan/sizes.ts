// What is known of a mailbox's size before it runs: the folder sizes `check` listed (check.json),
// or those the last verification counted (report.json), whichever is more recent. Pure.
import type { FolderSize, Report, ReportEntry } from "../report/schema.js";

interface Dated {
  at: string;
  sizes: FolderSize[];
}

function fromCheck(entry: ReportEntry): Dated | undefined {
  if (!entry.sizes) return undefined;
  return { at: entry.attempts[0]?.start ?? "", sizes: entry.sizes };
}

function fromVerification(entry: ReportEntry): Dated | undefined {
  const verification = entry.verification;
  if (!verification || verification.verdict === "failed") return undefined;
  const sizes = verification.folders.flatMap((folder) =>
    folder.sources.map((s) => ({ folder: s.name, messages: s.messages, bytes: s.bytes })),
  );
  return { at: verification.at, sizes };
}

/** Every mailbox's source folder sizes that a check or a verification recorded, by address. */
export function knownSizes(
  check: Report | undefined,
  previous: Report | undefined,
): Map<string, FolderSize[]> {
  const found = new Map<string, Dated>();
  const keep = (source: string, dated: Dated | undefined) => {
    const before = found.get(source);
    if (dated && (!before || dated.at > before.at)) found.set(source, dated);
  };
  for (const entry of check?.mailboxes ?? []) keep(entry.source, fromCheck(entry));
  for (const entry of previous?.mailboxes ?? []) keep(entry.source, fromVerification(entry));
  return new Map([...found].map(([source, dated]) => [source, dated.sizes]));
}

export function totalBytes(sizes: readonly FolderSize[]): number {
  return sizes.reduce((sum, folder) => sum + folder.bytes, 0);
}

/** The date cuts check probed, per mailbox and folder (folders too big for one slice). */
export function knownCuts(check: Report | undefined): Map<string, Map<string, string[]>> {
  return new Map(
    (check?.mailboxes ?? []).flatMap((entry) =>
      entry.dateCuts ? [[entry.source, new Map(Object.entries(entry.dateCuts))]] : [],
    ),
  );
}
