// Where a part's two sides come from: the Microsoft Graph source (src/graph/) and the CalDAV/
// CardDAV destination, or files in the work directory without DAV_URL (src/dav/). The one place
// the part runner meets them; nothing else in the engine knows which sides it works with.
import path from "node:path";
import type { Config } from "../config/types.js";
import { DavDestination } from "../dav/destination.js";
import { openItemDestination } from "../dav/open.js";
import type { GraphTokens } from "../graph/client.js";
import { GraphSource } from "../graph/source.js";
import { safeFileName } from "../imapsync/args.js";
import type { PartPlan } from "../plan/plan.js";
import type { PartEnds } from "./run.js";

/** Opens the sides of one part's attempt. */
export type OpenPart = (plan: PartPlan) => Promise<PartEnds>;

/** Where the .ics and .vcf files go without DAV_URL: one folder per mailbox. */
export function itemFilesDir(workDir: string, mailbox: string): string {
  return path.join(workDir, "items", "files", safeFileName(mailbox));
}

/**
 * The sides for this configuration, once the Graph token is at hand: each attempt reads Graph
 * (throttling waited out inside a request up to --max-backoff, then the engine's policy) and
 * stores through DAV or files. The DAV side's probe is its discovery, for `check`.
 */
export function partEnds(
  config: Config,
  usersFile: string,
): (graphTokens: GraphTokens, signal?: AbortSignal) => OpenPart {
  return (tokens, signal) => async (plan) => {
    const source = new GraphSource({
      address: plan.mailbox.source,
      settings: config.graph,
      tokens,
      throttleBudgetMs: config.maxBackoffMs,
      signal,
    });
    const destination = await openItemDestination(
      plan.mailbox,
      usersFile,
      config,
      itemFilesDir(config.workDir, plan.mailbox.source),
    );
    const probe =
      destination instanceof DavDestination
        ? async () => void (await destination.home(plan.kind))
        : undefined;
    return { source, destination, probe };
  };
}
