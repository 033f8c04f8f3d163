// Whether a mailbox arrived whole, from one folder-size listing: per destination folder, the
// messages of every source folder mapped to it (automap can send `Sent` and `Éléments envoyés` to
// one folder) against what the destination holds. Message counts decide; byte sizes are shown but
// never decide, since --addheader grows copied messages and servers count sizes differently.
import type { VerifiedFolder } from "../report/schema.js";
import type { FolderSizes } from "./foldersizes.js";

export interface FolderComparison {
  /** `unreadable`: the listing itself failed (a side could not be read); it proves nothing. */
  verdict: "verified" | "missing" | "unreadable";
  folders: VerifiedFolder[];
  missingMessages: number;
  extraMessages: number;
  /** What the extra messages most likely are, when the first run's statistics tell. */
  extraNote?: string;
  /** The lines that made the listing unreadable. */
  evidence: string[];
}

/**
 * Messages the destination held before the first copy, from that run's `Start difference host2 -
 * host1` (destination minus source, at the start) and its first source total.
 */
export function destinationBefore(firstRun: FolderSizes): number | undefined {
  if (firstRun.startDifference === undefined || firstRun.sourceMessagesAtStart === undefined)
    return undefined;
  return firstRun.startDifference + firstRun.sourceMessagesAtStart;
}

function explainExtra(extra: number, before: number | undefined): string | undefined {
  if (extra === 0 || before === undefined) return undefined;
  if (before === 0)
    return `The destination held no mail before the first run, so the ${extra} extra messages are duplicates or mail delivered to the destination since.`;
  if (extra <= before)
    return `The destination held ${before} messages before the first run: the ${extra} extra messages are most likely that mail.`;
  return `The destination held ${before} messages before the first run, ${extra - before} fewer than the extra ones: at least ${extra - before} are duplicates or mail delivered since.`;
}

export function compareFolderSizes(
  sizes: FolderSizes,
  history: { destinationBefore?: number } = {},
): FolderComparison {
  if (sizes.unreadable.length > 0 || sizes.rows.length === 0) {
    return {
      verdict: "unreadable",
      folders: [],
      missingMessages: 0,
      extraMessages: 0,
      evidence:
        sizes.unreadable.length > 0 ? sizes.unreadable : ["imapsync listed no source folder"],
    };
  }
  const byDestination = new Map<string, VerifiedFolder>();
  for (const { source, destination } of sizes.rows) {
    let folder = byDestination.get(destination.name);
    if (!folder) {
      folder = {
        destination: { name: destination.name, display: destination.display },
        sources: [],
        verdict: "match",
        sourceMessages: 0,
        sourceBytes: 0,
        // imapsync prints a destination folder again for each source mapped to it, same numbers.
        destinationMessages: destination.count?.messages,
        destinationBytes: destination.count?.bytes,
      };
      byDestination.set(destination.name, folder);
    }
    const count = source.count ?? { messages: 0, bytes: 0 };
    folder.sources.push({ name: source.name, display: source.display, ...count });
    folder.sourceMessages += count.messages;
    folder.sourceBytes += count.bytes;
  }
  let missingMessages = 0;
  let extraMessages = 0;
  for (const folder of byDestination.values()) {
    const difference = (folder.destinationMessages ?? 0) - folder.sourceMessages;
    // A source folder with no destination folder is missing even when it is empty.
    if (difference < 0 || folder.destinationMessages === undefined) {
      folder.verdict = "missing";
      missingMessages += -difference;
    } else if (difference > 0) {
      folder.verdict = "extra";
      extraMessages += difference;
    }
  }
  const folders = [...byDestination.values()];
  for (const only of sizes.destinationOnly) {
    if (byDestination.has(only.name)) continue;
    folders.push({
      destination: only,
      sources: [],
      verdict: "destination_only",
      sourceMessages: 0,
      sourceBytes: 0,
    });
  }
  return {
    verdict: folders.some((f) => f.verdict === "missing") ? "missing" : "verified",
    folders,
    missingMessages,
    extraMessages,
    extraNote: explainExtra(extraMessages, history.destinationBefore),
    evidence: [],
  };
}
