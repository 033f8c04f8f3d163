// A mailbox's parts (ITEMS) in the report. In memory, an entry's own status, class, remedy and
// next attempt are its mail's, as the mail engine has always written them; on disk (report.json,
// the journal, report.csv, report.html) they are the worst part's, and the mail part carries the
// mail's. `persisted` and `live` turn one into the other, at the only places a report is written
// and read, so that the mail engine never learns about parts.
import type { Attempt, MailboxStatus, Part, PartKind, ReportEntry } from "./schema.js";
import { ITEMS } from "../config/settings.js";

/** The first of these a part has is the mailbox's: still running, then what needs the admin. */
const WORST_FIRST: readonly MailboxStatus[] = ["running", "failed", "interrupted", "pending", "ok"];

/**
 * Every imapsync attempt of a mailbox's mail: its own (a sliced mailbox's folder-creating runs)
 * and each slice's, in that order; what the outputs count as its attempts and messages.
 */
export function mailAttempts(entry: Pick<ReportEntry, "attempts" | "slices">): Attempt[] {
  if (!entry.slices) return entry.attempts;
  return [...entry.attempts, ...entry.slices.flatMap((slice) => slice.attempts)];
}

/** A part that has not run yet. */
export function newPart(kind: PartKind): Part {
  return { kind, status: "pending", attempts: [] };
}

/** The mail part as the entry's own fields now say it is. */
function mailPart(entry: ReportEntry): Part {
  return {
    kind: "mail",
    status: entry.status,
    class: entry.class,
    remedy: entry.remedy,
    nextAttemptAt: entry.nextAttemptAt,
    attempts: [],
  };
}

/** Every part of a mailbox, the mail part up to date; none for a mail-only entry. */
export function partsOf(entry: ReportEntry): Part[] {
  return (entry.parts ?? []).map((part) => (part.kind === "mail" ? mailPart(entry) : part));
}

/** One part of a mailbox, or undefined when it is not (yet) one of its parts. */
export function partOf(entry: ReportEntry, kind: PartKind): Part | undefined {
  return partsOf(entry).find((part) => part.kind === kind);
}

/**
 * Gives the entry a part for each selected item it has not got yet. Parts appear only once an item
 * other than mail is selected; from then on a mail part stands for the mail copied before, if any.
 */
export function selectParts(entry: ReportEntry, items: readonly PartKind[]): void {
  if (!entry.parts && items.every((kind) => kind === "mail")) return;
  const parts = entry.parts ?? [];
  const wanted = new Set(items);
  if (entry.attempts.length > 0) wanted.add("mail");
  for (const kind of wanted) {
    if (!parts.some((part) => part.kind === kind)) parts.push(newPart(kind));
  }
  entry.parts = parts.sort(inItemsOrder);
}

/** Parts in ITEMS's order, whatever order they were selected in over the runs. */
export function inItemsOrder(a: Part, b: Part): number {
  return ITEMS.indexOf(a.kind) - ITEMS.indexOf(b.kind);
}

/** The entry as written: the mailbox's status, class and remedy are its worst part's. */
export function persisted(entry: ReportEntry): ReportEntry {
  if (!entry.parts) return entry;
  const parts = partsOf(entry);
  const rank = (part: Part) => WORST_FIRST.indexOf(part.status);
  const worst = parts.reduce((a, b) => (rank(b) < rank(a) ? b : a));
  return {
    ...entry,
    status: worst.status,
    class: worst.class,
    remedy: worst.remedy,
    nextAttemptAt: worst.nextAttemptAt,
    parts,
  };
}

/** The entry as read back: its own fields the mail's again (pending when mail never ran). */
export function live(entry: ReportEntry): ReportEntry {
  if (!entry.parts) return entry;
  const mail = entry.parts.find((part) => part.kind === "mail");
  return {
    ...entry,
    status: mail?.status ?? "pending",
    class: mail?.class,
    remedy: mail?.remedy,
    nextAttemptAt: mail?.nextAttemptAt,
  };
}

/** A calendar or contacts part is done when it ended ok and no verification found items missing. */
export function partDone(part: Part): boolean {
  return part.status === "ok" && part.verification?.verdict !== "missing";
}
