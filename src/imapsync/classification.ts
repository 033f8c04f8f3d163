// What the classifier (classify.ts) makes of one imapsync run: its class, the deciding lines, the
// figures and folders it printed, and what the retry policy needs to know.
import type { RunClass } from "../outcomes/classes.js";
import type { FolderPair } from "../report/schema.js";

/** Progress of a running copy, from imapsync's progress lines. */
export interface Progress {
  /** Messages handled so far, over all folders. */
  done: number;
  total: number;
  /** Messages this run has copied so far (its copy lines; `done` counts those already there too). */
  copiedMessages?: number;
  /** Human-readable amount copied, as imapsync prints it ("116.783 KiB"). */
  copied?: string;
  etaSeconds?: number;
}

export interface RunStats {
  messagesTransferred?: number;
  bytesTransferred?: number;
  messagesSkipped?: number;
  /** "Messages found in host1 not in host2". */
  missingOnDestination?: number;
  /**
   * Copy lines seen: what the run copied even when it died before its statistics block (token
   * expiry, errorsmax). Progress counts skipped messages too, so it cannot tell.
   */
  messagesCopied?: number;
  /**
   * Sizes from the folder-size listing (`Host1/Host2 Total size`), in bytes: the last listing,
   * i.e. before any copy in a preflight, after the copy in a sync.
   */
  sourceBytes?: number;
  destinationBytes?: number;
  /** The destination's quota as imapsync read it (limit 0: none). */
  destinationQuota?: { usedBytes: number; limitBytes: number };
}

export interface Classification {
  class: RunClass;
  /** The lines that decided the class, in log order, at most a handful. */
  evidence: string[];
  stats: RunStats;
  progress?: Progress;
  folders: FolderPair[];
  /** Throttling: imapsync's suggested wait, when it printed one. */
  backoffMs?: number;
  /**
   * The server refused a command as throttling (`Request is throttled`), whatever the class: a
   * run stopped on purpose right after such a refusal is `interrupted`, yet it was refused.
   */
  refused?: boolean;
  /** The source or destination connection was lost (worth an automatic rerun). */
  lostConnection: boolean;
  /** Killed by something other than a stop request (a shell, the kernel, a container limit). */
  killedFromOutside?: boolean;
  /** The log stops before any line imapsync prints at the end of a run. */
  logEndsEarly?: boolean;
}
