// Where a part's two sides come from: the Microsoft Graph source (src/graph/) and the CalDAV/
// CardDAV destination, or files in the work directory without DAV_URL (src/dav/). The one place
// the part runner meets them; nothing else in the engine knows which sides it works with.
import type { Config } from "../config/types.js";
import { InputError } from "../errors.js";
import type { PartPlan } from "../plan/plan.js";
import type { PartEnds } from "./run.js";

/** Opens the sides of one part's attempt, given the mailbox's destination password. */
export type OpenPart = (plan: PartPlan, password: string | undefined) => Promise<PartEnds>;

/**
 * The sides for this configuration. Until the Graph source and the DAV destination are part of
 * this build, selecting calendar or contacts is refused before anything runs.
 */
export function partEnds(config: Pick<Config, "items">): OpenPart {
  const wanted = config.items.filter((item) => item !== "mail");
  if (wanted.length > 0)
    throw new InputError(
      "ITEMS",
      `${wanted.join(" and ")} cannot be moved by this build yet (its Microsoft Graph source and CalDAV/CardDAV destination are not in it)`,
      "Set ITEMS=mail (the default), or use a build that includes them.",
    );
  return () => Promise.reject(new Error("no part to open"));
}
