// The calendar and contacts parts of the mailboxes, each to a final state: the same scheduler,
// retry policy (through countAndDecide) and report store as the mail, in a pool of its own. A
// part's attempt is one run of the part runner (items/run.ts) through the two sides `open` gives;
// it never spawns imapsync, so --concurrency (imapsync runs) does not count it.
import type { PartPlan } from "../plan/plan.js";
import type { Part, PermissionCheck, ReportEntry } from "../report/schema.js";
import type { ReportStore } from "../report/store.js";
import type { RunClass } from "../outcomes/classes.js";
import { accessRemedy, partRemedy } from "../outcomes/remedies.js";
import { checkPart, runPart, verifyPart, type PartEnds, type PartResult } from "../items/run.js";
import { classifyPartError, type PartFailure } from "../items/classify.js";
import { zeroCounts } from "../items/sync.js";
import type { Ui } from "../view/ui.js";
import { systemClock, type Clock } from "./clock.js";
import { countAndDecide, type AttemptCounts, type EngineDeps } from "./engine.js";
import { schedule } from "./scheduler.js";

export interface PartsDeps extends Pick<EngineDeps, "random" | "signal" | "verifyAfterCopy"> {
  limits: Omit<EngineDeps["limits"], "concurrency">;
  store: ReportStore;
  ui: Pick<Ui, "info">;
  clock?: Clock;
  /** The part's two sides for one attempt (a Graph source, a DAV or file destination). */
  open: (plan: PartPlan) => Promise<PartEnds>;
  /** Parts running at the same time, whatever the mail's concurrency. */
  concurrency: number;
  /** Graph's token is the app's own (GRANT=client-credentials): the remedies say which rights. */
  appOnly: boolean;
}

/** Item parts that run at once when nothing else says: see README, "How the parts share the machine". */
export const PART_CONCURRENCY = 4;

/** The report's record of a planned part (newReport gave every selected mailbox its parts). */
function partIn(entry: ReportEntry, plan: PartPlan): Part {
  const part = entry.parts?.find((p) => p.kind === plan.kind);
  if (!part) throw new Error(`No ${plan.kind} part in the report entry of ${entry.source}`);
  return part;
}

/**
 * Runs every part plan to a final state. Parts that never started, or were waiting for their next
 * attempt when the run was interrupted, stay pending for `--resume` or `retry`.
 */
export async function runParts(plans: PartPlan[], deps: PartsDeps): Promise<void> {
  const clock = deps.clock ?? systemClock;
  const histories = new Map<PartPlan, AttemptCounts>();
  // A pass runs from its first attempt until the part ends ok: a part that has not (interrupted,
  // failed, throttled past its budget) goes on with its pass, through `--resume` or `retry` too.
  const newPass = new Set<PartPlan>();
  for (const plan of plans) {
    histories.set(plan, freshCounts());
    const part = partIn(deps.store.entry(plan.mailbox.source), plan);
    if (plan.mode === "sync") {
      if (part.status === "ok" || part.attempts.length === 0 || !part.counts) {
        newPass.add(plan);
        part.counts = zeroCounts();
      }
      part.status = "pending";
    }
  }
  const unfinished = await schedule(
    plans,
    { concurrency: deps.concurrency, signal: deps.signal, clock: deps.clock },
    async (plan) => {
      const entry = deps.store.entry(plan.mailbox.source);
      const part = partIn(entry, plan);
      const history = histories.get(plan)!;
      history.quietSince ??= clock.now();
      const started = new Date(clock.now()).toISOString();
      delete part.nextAttemptAt;
      if (plan.mode === "sync") {
        part.attempts.push({ start: started });
        part.status = "running";
        part.verification = undefined;
      }
      await deps.store.saveEntry(entry);
      const ran = await attempt(plan, deps, newPass.delete(plan));
      const failure = ran.failure;
      const cls: RunClass = failure?.class ?? "ok";
      const copied = ran.counts ? ran.counts.sent + ran.counts.updated + ran.counts.removed : 0;
      const decision = countAndDecide(
        history,
        {
          class: cls,
          backoffMs: failure?.backoffMs,
          lostConnection: failure?.lostConnection ?? false,
          copied,
        },
        clock.now(),
        deps,
      );
      const wait =
        decision.retry && decision.throttle
          ? { delayMs: decision.delayMs, throttle: decision.throttle }
          : undefined;
      // The side's own remedy names its settings; a wait is the engine's to state.
      let remedy =
        failure?.remedy && cls !== "throttled"
          ? failure.remedy
          : partRemedy(cls, {
              kind: plan.kind,
              wait,
              mailbox: plan.mailbox.source,
              appOnly: deps.appOnly,
            });
      if (!decision.retry && decision.reason) remedy = `${remedy} (${decision.reason})`;
      const ended = new Date(clock.now()).toISOString();
      if (plan.mode === "sync") record(part, ran, cls, remedy, ended);
      else
        part.verification = {
          at: ended,
          verdict: failure ? "failed" : ran.missingItems > 0 ? "missing" : "verified",
          class: cls,
          remedy: failure ? remedy : undefined,
          collections: ran.collections,
          missingItems: ran.missingItems,
        };
      if (decision.retry) {
        if (plan.mode === "sync") part.status = "pending";
        if (decision.delayMs > 0)
          part.nextAttemptAt = new Date(clock.now() + decision.delayMs).toISOString();
        await deps.store.saveEntry(entry);
        deps.ui.info(
          `${plan.mailbox.source} ${plan.kind}: ${decision.reason}, next try in ${Math.round(decision.delayMs / 1000)} s`,
        );
        return { againInMs: decision.delayMs };
      }
      if (plan.mode === "sync")
        part.status = cls === "ok" ? "ok" : cls === "interrupted" ? "interrupted" : "failed";
      await deps.store.saveEntry(entry);
      deps.ui.info(outcomeLine(plan, part));
      if (plan.mode === "sync" && cls === "ok" && deps.verifyAfterCopy && !deps.signal.aborted) {
        // Its own retry count: the copy's attempts do not use up the verification's.
        plan.mode = "verify";
        histories.set(plan, freshCounts());
        return { againInMs: 0 };
      }
      return {};
    },
  );
  for (const plan of unfinished) {
    const part = partIn(deps.store.entry(plan.mailbox.source), plan);
    if (plan.mode === "sync") part.status = "pending";
    delete part.nextAttemptAt;
  }
}

function freshCounts(): AttemptCounts {
  return { total: 0, unproductive: 0, throttledAgain: 0, throttled: false };
}

/** What an attempt of either mode found: a sync's counts, or a verification's collections. */
type Ran = Partial<PartResult> &
  Pick<NonNullable<Part["verification"]>, "collections" | "missingItems"> & {
    failure?: PartFailure;
  };

async function attempt(plan: PartPlan, deps: PartsDeps, newPass: boolean): Promise<Ran> {
  let ends: PartEnds;
  try {
    ends = await deps.open(plan);
  } catch (error) {
    // Nothing was asked of either side yet: a setting, a password file, the Graph token.
    return { failure: classifyPartError(error, "source"), collections: [], missingItems: 0 };
  }
  if (plan.mode === "verify") {
    const { collections, failure } = await verifyPart(plan.kind, ends);
    const missingItems = collections.reduce((sum, c) => sum + c.missing.length, 0);
    return { collections, missingItems, failure };
  }
  const result = await runPart({
    kind: plan.kind,
    ends,
    stateFile: plan.stateFile,
    signal: deps.signal,
    newPass,
  });
  return { ...result, collections: [], missingItems: 0 };
}

/** A sync attempt into the part: its record, the pass's counts, and what the latest pass found. */
function record(part: Part, ran: Ran, cls: RunClass, remedy: string, ended: string): void {
  const last = part.attempts.at(-1)!;
  Object.assign(last, { end: ended, class: cls, counts: ran.counts, detail: ran.failure?.detail });
  // An attempt whose sides did not open leaves the pass's counts as they were.
  if (ran.passCounts) part.counts = ran.passCounts;
  if (ran.gone) part.gone = ran.gone.length > 0 ? ran.gone : undefined;
  part.class = cls;
  part.remedy = remedy;
  if (ran.skipped) part.skipped = ran.skipped;
  if (ran.losses) part.losses = ran.losses;
  if (ran.locations) part.locations = ran.locations;
}

function outcomeLine(plan: PartPlan, part: Part): string {
  const who = `${plan.mailbox.source} ${plan.kind}`;
  if (plan.mode === "verify") {
    const v = part.verification;
    return `${who}: verification ${v?.verdict ?? "-"}${v?.verdict === "missing" ? ` (${v.missingItems} items missing)` : ""}`;
  }
  const c = part.counts ?? zeroCounts();
  const counts = `${c.collections} collections, ${c.sent} sent, ${c.updated} updated, ${c.removed} removed, ${c.unchanged} unchanged`;
  const gone = part.gone?.length
    ? `; gone at the source since the last run, kept at the destination: ${part.gone.map((g) => `${g.name} (${g.location})`).join(", ")}`
    : "";
  return part.status === "ok"
    ? `${who}: ok, ${counts}${gone}`
    : `${who}: ${part.status} (${part.class}), ${counts}${gone}: ${part.remedy}`;
}

/**
 * `check` for every part plan, in the parts' own pool: each permission tried on each mailbox, its
 * collections listed at the source and its destination login tried, nothing copied. A part per
 * plan, by mailbox, with a verdict per permission.
 */
export async function checkParts(
  plans: PartPlan[],
  deps: Pick<PartsDeps, "open" | "concurrency" | "signal" | "appOnly"> & {
    /** The permissions the token's claims carry (`roles`, or `scp`); undefined for an opaque token. */
    granted?: readonly string[];
  },
): Promise<Map<string, Part[]>> {
  const found = new Map<string, Part[]>();
  await schedule(plans, { concurrency: deps.concurrency, signal: deps.signal }, async (plan) => {
    let result: Awaited<ReturnType<typeof checkPart>>;
    try {
      result = await checkPart(plan.kind, await deps.open(plan));
    } catch (error) {
      result = { owned: 0, skipped: 0, access: [], failure: classifyPartError(error, "source") };
    }
    const mailbox = plan.mailbox.source;
    const permissions: PermissionCheck[] = result.access.map(({ permission, verdict, said }) => {
      const name = deps.appOnly ? permission.app : permission.delegated;
      if (verdict === "granted") return { permission: name, verdict };
      const inToken = deps.granted?.some((g) => g.toLowerCase() === name.toLowerCase());
      const remedy = accessRemedy(verdict, {
        permission: name,
        appOnly: deps.appOnly,
        mailbox,
        inToken,
        said,
      });
      return { permission: name, verdict, ...(said && { said }), remedy };
    });
    const cls = result.failure?.class ?? "ok";
    const remedy =
      permissions.find((p) => p.remedy)?.remedy ??
      (result.failure?.remedy && cls !== "throttled"
        ? result.failure.remedy
        : cls === "ok"
          ? `${result.owned} ${plan.kind === "calendar" ? "calendars" : "contact folders"} to move${result.skipped ? `, ${result.skipped} not the mailbox's own (left out)` : ""}; the destination login works.`
          : partRemedy(cls, { kind: plan.kind, mailbox, appOnly: deps.appOnly }));
    const parts = found.get(mailbox) ?? [];
    parts.push({
      kind: plan.kind,
      status: cls === "ok" ? "ok" : "failed",
      class: cls,
      remedy,
      attempts: [],
      ...(permissions.length > 0 && { permissions }),
    });
    found.set(mailbox, parts);
    return {};
  });
  // In the plans' order (ITEMS'), whichever check ended first.
  const order = (p: Part) => plans.findIndex((plan) => plan.kind === p.kind);
  for (const parts of found.values()) parts.sort((a, b) => order(a) - order(b));
  return found;
}
