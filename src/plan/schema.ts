// The one source of the plans' printed shape: each line of `migrate --plan --json` (what a script,
// a Kubernetes Job or an admin reads), as a zod schema with the type inferred from it.
import { z } from "zod";
import { folderPairSchema, partKindSchema } from "../report/schema.js";

/**
 * sync: copy the mail (migrate, retry); preflight: log in and open every folder (check);
 * verify: count every folder on both sides after the copy, with the copy's folder mapping.
 */
export const planModeSchema = z.enum(["sync", "preflight", "verify"]);
export type PlanMode = z.infer<typeof planModeSchema>;

/** One mailbox's next attempt as `migrate --plan --json` prints it; keys in printed order. */
export const printedPlanSchema = z.object({
  source: z.string(),
  destination: z.string(),
  /** Program and arguments as they will be spawned, secrets masked. */
  argv: z.array(z.string()),
  mode: planModeSchema,
  attempt: z.number().int().min(0),
  logFile: z.string(),
  folders: z.array(folderPairSchema),
  /** With a shard count: the shard that runs this mailbox. */
  shard: z.object({ index: z.number().int().min(0), count: z.number().int().min(1) }).optional(),
  /** Only when ITEMS names more than mail: "mail", beside the lines of the other parts. */
  part: partKindSchema.optional(),
  /** A sliced mailbox: its size, whether `argv` (--justfolders) runs first, then its slices. */
  bytes: z.number().optional(),
  /** A mailbox big enough to slice that runs whole, and why. */
  unsliced: z.string().optional(),
  justFolders: z.boolean().optional(),
  /** A sliced mailbox Exchange Online throttled while sliced: its slices start one at a time, why. */
  oneAtATime: z.string().optional(),
  slices: z
    .array(
      z.object({
        id: z.string(),
        folders: z.array(z.string()),
        since: z.string().optional(),
        before: z.string().optional(),
        argv: z.array(z.string()),
        logFile: z.string(),
      }),
    )
    .optional(),
});
export type PrintedPlan = z.infer<typeof printedPlanSchema>;

/** A calendar or contacts part's next attempt, after its mailbox's mail line, if any. */
export const printedPartPlanSchema = z.object({
  source: z.string(),
  destination: z.string(),
  part: partKindSchema.exclude(["mail"]),
  mode: planModeSchema.exclude(["preflight"]),
  attempt: z.number().int().min(0),
  /** What the last run sent, so that the next sends only what changed. */
  stateFile: z.string(),
  shard: printedPlanSchema.shape.shard,
});
export type PrintedPartPlan = z.infer<typeof printedPartPlanSchema>;
