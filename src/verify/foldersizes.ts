// Reads imapsync's folder-size listing (`--justfoldersizes`, and the listings a sync prints before
// and after copying) line by line: both sides' message count and size for every source folder and
// the destination folder it maps to. Format of imapsync 2.229 (`foldersize_diff_present`), recorded
// in fixtures/imapsync-2.229-verify; later releases are unverified.
import { encodeModifiedUtf7 } from "../imapsync/args.js";
import type { FolderCount, FolderName } from "../report/schema.js";

export interface FolderSizeRow {
  source: FolderName & { count?: FolderCount };
  /** `count` absent: the folder does not exist on the destination. */
  destination: FolderName & { count?: FolderCount };
}

export interface FolderSizes {
  /** One row per source folder; a later listing of the same folder replaces an earlier one. */
  rows: FolderSizeRow[];
  /** `Folders in host2 not in host1:` */
  destinationOnly: FolderName[];
  /**
   * Lines showing that a side could not be read while listing (a folder that could not be
   * selected, a failed size fetch, a source without a single folder): the counts prove nothing.
   * imapsync still ends EX_OK then (fixtures/imapsync-2.229-verify, token_expired_*).
   */
  unreadable: string[];
  /** A sync's `Start difference host2 - host1` (messages), with the first `Host1 Nb messages`. */
  startDifference?: number;
  sourceMessagesAtStart?: number;
}

const ROW =
  /^Host([12]) folder\s+(\d+)\/\d+ (\[.*\])\s+(?:Size:\s+(\d+) Messages:\s+(\d+) Biggest:\s+\d+|does not exist(?: yet)?)\s*$/;
const SELECT_FAILED = /^Host([12]) [Ff]older .*: Could not select: /;
const FETCH_FAILED = /^Host([12]) failure with fetch_hash/;
const NO_SOURCE_FOLDER = /^Host1: found 0 folders\./;
const NB_MESSAGES = /^Host1 Nb messages:\s+(\d+) messages/;
const START_DIFFERENCE = /^Start difference host2 - host1\s+: (-?\d+) messages/;
const LISTED = /^\[.*\]\s*$/;
const MAX_EVIDENCE = 4;

/**
 * `[X]` or `[X] = [Y]` (imapsync's jux_utf8: the IMAP name, then its UTF-8 form when they
 * differ). A name may itself contain `] = [`, so the split is the one whose right side encodes to
 * its left side.
 */
export function parseFolderName(printed: string): FolderName {
  const inner = printed.trim().replace(/^\[/, "").replace(/\]$/, "");
  for (let at = inner.indexOf("] = ["); at !== -1; at = inner.indexOf("] = [", at + 1)) {
    const name = inner.slice(0, at);
    const display = inner.slice(at + 5);
    if (encodeModifiedUtf7(display) === name) return { name, display };
  }
  return { name: inner, display: inner };
}

export class FolderSizesParser {
  private readonly rows = new Map<number, FolderSizeRow>();
  private readonly destinationOnly = new Map<string, FolderName>();
  private readonly unreadable: string[] = [];
  private pendingSource?: { index: number; folder: FolderSizeRow["source"] };
  private inDestinationOnly = false;
  private startDifference?: number;
  private sourceMessagesAtStart?: number;

  push(raw: string): void {
    // Most lines of a sync (one per copied message) start with neither: keep them cheap.
    const first = raw.charCodeAt(0);
    if (
      first !== 72 /* H */ &&
      first !== 70 /* F */ &&
      first !== 83 /* S */ &&
      first !== 91 /* [ */
    ) {
      this.inDestinationOnly = false;
      return;
    }
    const line = raw.trimEnd();
    if (this.inDestinationOnly) {
      if (LISTED.test(line)) {
        const folder = parseFolderName(line);
        this.destinationOnly.set(folder.name, folder);
        return;
      }
      this.inDestinationOnly = false;
    }
    if (line.startsWith("Host")) this.readHostLine(line);
    else if (line === "Folders in host2 not in host1:") this.inDestinationOnly = true;
    else if (line.startsWith("Start difference ")) {
      const m = START_DIFFERENCE.exec(line);
      if (m) this.startDifference = Number(m[1]);
    }
  }

  finish(): FolderSizes {
    return {
      rows: [...this.rows.values()],
      destinationOnly: [...this.destinationOnly.values()],
      unreadable: this.unreadable,
      startDifference: this.startDifference,
      sourceMessagesAtStart: this.sourceMessagesAtStart,
    };
  }

  private readHostLine(line: string): void {
    const row = ROW.exec(line);
    if (row) return this.readRow(row);
    if (SELECT_FAILED.test(line) || FETCH_FAILED.test(line) || NO_SOURCE_FOLDER.test(line)) {
      if (this.unreadable.length < MAX_EVIDENCE) this.unreadable.push(line);
      return;
    }
    const total = NB_MESSAGES.exec(line);
    if (total) this.sourceMessagesAtStart ??= Number(total[1]);
  }

  private readRow(m: RegExpExecArray): void {
    const side = m[1];
    const index = Number(m[2]);
    const folder = {
      ...parseFolderName(m[3] ?? ""),
      ...(m[4] !== undefined ? { count: { bytes: Number(m[4]), messages: Number(m[5]) } } : {}),
    };
    if (side === "1") {
      // A source folder that "does not exist" was listed a moment before: it could not be read.
      if (!folder.count && this.unreadable.length < MAX_EVIDENCE) this.unreadable.push(m[0]);
      this.pendingSource = { index, folder };
    } else if (this.pendingSource?.index === index) {
      this.rows.set(index, { source: this.pendingSource.folder, destination: folder });
      this.pendingSource = undefined;
    }
  }
}

export function parseFolderSizes(lines: Iterable<string>): FolderSizes {
  const parser = new FolderSizesParser();
  for (const line of lines) parser.push(line);
  return parser.finish();
}
