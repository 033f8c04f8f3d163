import type { AttemptResult } from "../../src/engine/attempt.js";
import type { RunClass } from "../../src/outcomes/classes.js";
import type { Attempt } from "../../src/report/schema.js";

/**
 * What a fake server's slice attempt ends with, as imapsync's would be read: refused (its log
 * shows the server's refusal) when the server suggested a wait.
 */
export function sliceResult(
  attempt: Attempt,
  cls: RunClass,
  copied: number,
  backoffMs: number | undefined,
): AttemptResult {
  Object.assign(attempt, { class: cls, messagesTransferred: copied });
  return {
    attempt,
    copied,
    exit: { code: cls === "ok" ? 0 : cls === "interrupted" ? 7 : 115, signal: null },
    classification: {
      class: cls,
      evidence: [],
      stats: { messagesTransferred: copied },
      folders: [],
      backoffMs,
      lostConnection: false,
      refused: backoffMs !== undefined,
    },
  };
}
