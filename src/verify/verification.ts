// What one verify run (imapsync --justfoldersizes after a migration) proves, as the report keeps
// it. A run that did not end ok proves nothing and is classified like any run; so is an ok run
// whose listing was broken (imapsync ends EX_OK when its session dies mid-listing).
import type { Classification } from "../imapsync/classification.js";
import type { FolderPair, Verification } from "../report/schema.js";
import { compareFolderSizes } from "./compare.js";
import type { FolderSizes } from "./foldersizes.js";

/**
 * Classes after which the counts still hold: a destination nearly full makes imapsync warn
 * (`98.33 % full: it is time to find a bigger place!`, which the catalogue classes
 * quota_exceeded) but the listing is complete (fixtures/imapsync-2.229-verify, partly_copied_carol).
 */
const LISTING_HOLDS: ReadonlySet<Classification["class"]> = new Set(["ok", "quota_exceeded"]);

/** A verify run's result, before the engine adds the remedy of a failed one. */
export function verificationOf(run: {
  classification: Classification;
  sizes: FolderSizes;
  at: string;
  logFile: string;
  mapping: FolderPair[];
  /** Messages on the destination before the first copy, when its statistics said. */
  destinationBefore?: number;
}): { classification: Classification; verification: Verification } {
  const comparison = compareFolderSizes(run.sizes, { destinationBefore: run.destinationBefore });
  const base = { at: run.at, logFile: run.logFile, mapping: run.mapping };
  let classification = run.classification;
  // imapsync says EX_OK although it could not read a side: retried like a lost connection.
  if (classification.class === "ok" && comparison.verdict === "unreadable") {
    classification = {
      ...classification,
      class: "other",
      lostConnection: true,
      evidence: [...comparison.evidence, ...classification.evidence],
    };
  }
  if (!LISTING_HOLDS.has(classification.class) || comparison.verdict === "unreadable") {
    return {
      classification,
      verification: {
        ...base,
        verdict: "failed",
        class: classification.class,
        folders: [],
        missingMessages: 0,
        extraMessages: 0,
        evidence: classification.evidence,
      },
    };
  }
  return {
    classification,
    verification: {
      ...base,
      verdict: comparison.verdict,
      class: classification.class,
      folders: comparison.folders,
      missingMessages: comparison.missingMessages,
      extraMessages: comparison.extraMessages,
      extraNote: comparison.extraNote,
      evidence: [],
    },
  };
}
