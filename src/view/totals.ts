// What the views show for a whole migration: counts by state, messages and bytes, the current
// rate and an ETA. Pure, fed by the same events as the views; each event costs O(1) whatever the
// length of the list, and memory is one small record per mailbox.
import { countsAsOk } from "../report/summary.js";
import type { Progress } from "../imapsync/classification.js";
import type { ReportEntry } from "../report/schema.js";

export type ViewState = "pending" | "running" | "waiting" | "ok" | "failed";

interface MailboxView {
  state: ViewState;
  attempt: number;
  /** When the current attempt started (ms). */
  since: number;
  done: number;
  /**
   * Messages of this mailbox counted in this run. A rerun's progress starts again from the top of
   * the mailbox (imapsync's `left/total` spans all of it, fixtures/imapsync-2.229-m365/
   * ok_rerun_after_expiry.log): only what goes past this is new. Progress also counts messages
   * that failed (a throttled run even ends below 0 left), so when an attempt ends, this is set
   * to what it is known to hold: what was there before it and what it copied, or all of the
   * mailbox once a copy ended ok.
   */
  handled: number;
  /** `handled` when the current attempt started. */
  before: number;
  total?: number;
  /** The attempt whose messages and bytes are already counted. */
  counted: number;
  /** While waiting: when its next attempt starts (ms), and why it waits (the last class). */
  nextAt?: number;
  waitingFor?: string;
}

export interface TotalsSnapshot {
  at: number;
  mailboxes: number;
  counts: Record<ViewState, number>;
  /** Messages handled (copied or found already there) in this run. */
  messages: number;
  /** Bytes copied by the attempts that ended in this run. */
  bytes: number;
  messagesPerSecond: number;
  bytesPerSecond: number;
  /** Seconds until every mailbox is done at the current rate; undefined while unknown. */
  etaSeconds?: number;
  elapsedMs: number;
}

export interface RunningMailbox {
  source: string;
  attempt: number;
  since: number;
  done: number;
  total?: number;
}

export interface WaitingMailbox {
  source: string;
  /** The class of the attempt that made it wait (throttled...). */
  cls?: string;
  /** When its next attempt starts (ms); undefined: at once. */
  nextAt?: number;
}

/** Rate over this long a window: long enough to smooth runs starting and ending. */
const RATE_WINDOW_MS = 60_000;

export class Totals {
  private readonly byMailbox = new Map<string, MailboxView>();
  /** Kept apart so that listing them never walks the whole list. */
  private readonly runningNow = new Set<string>();
  private readonly waitingNow = new Set<string>();
  private readonly counts: Record<ViewState, number> = {
    pending: 0,
    running: 0,
    waiting: 0,
    ok: 0,
    failed: 0,
  };
  private messages = 0;
  private bytes = 0;
  /** Sum and count of the message totals seen (running or ended), for the ETA of the others. */
  private totalSum = 0;
  private totalCount = 0;
  /** Cumulative (at, messages, bytes) once a second or so, for the rate. */
  private readonly samples: { at: number; messages: number; bytes: number }[] = [];
  private readonly startedAt: number;

  constructor(
    sources: string[],
    private readonly now: () => number = Date.now,
  ) {
    this.startedAt = now();
    this.samples.push({ at: this.startedAt, messages: 0, bytes: 0 });
    for (const source of sources) this.byMailbox.set(source, newView());
    this.counts.pending = sources.length;
  }

  private set(source: string, view: MailboxView, state: ViewState): void {
    this.counts[view.state]--;
    this.counts[state]++;
    view.state = state;
    if (state === "running") this.runningNow.add(source);
    else this.runningNow.delete(source);
    if (state === "waiting") this.waitingNow.add(source);
    else this.waitingNow.delete(source);
  }

  private view(source: string): MailboxView {
    let view = this.byMailbox.get(source);
    if (!view) {
      view = newView();
      this.byMailbox.set(source, view);
      this.counts.pending++;
    }
    return view;
  }

  attemptStarted(source: string, attempt: number): void {
    const view = this.view(source);
    this.set(source, view, "running");
    view.attempt = attempt;
    view.since = this.now();
    view.done = 0;
    view.before = view.handled;
  }

  progress(source: string, progress: Progress): void {
    const view = this.view(source);
    if (view.total === undefined && progress.total > 0) {
      this.totalSum += progress.total;
      this.totalCount++;
    }
    if (progress.total > 0) view.total = progress.total;
    const done = progress.total > 0 ? Math.min(progress.done, progress.total) : progress.done;
    if (done > view.handled) this.setHandled(view, done);
    view.done = progress.done;
  }

  private setHandled(view: MailboxView, handled: number): void {
    this.messages += handled - view.handled;
    view.handled = handled;
  }

  /** The attempt ended and the mailbox waits for its next one. */
  waiting(entry: ReportEntry): void {
    const view = this.view(entry.source);
    this.attemptEnded(view, entry, false);
    view.nextAt = entry.nextAttemptAt === undefined ? undefined : Date.parse(entry.nextAttemptAt);
    view.waitingFor = entry.class;
    this.set(entry.source, view, "waiting");
  }

  finished(entry: ReportEntry): void {
    const view = this.view(entry.source);
    this.attemptEnded(view, entry, entry.status === "ok");
    const state: ViewState = countsAsOk(entry)
      ? "ok"
      : entry.status === "pending"
        ? "pending"
        : "failed";
    this.set(entry.source, view, state);
  }

  /** Counts the bytes of this run's attempt once, and settles its messages (see `handled`). */
  private attemptEnded(view: MailboxView, entry: ReportEntry, copyOk: boolean): void {
    if (view.attempt === 0 || view.counted === view.attempt) return;
    view.counted = view.attempt;
    const last = entry.attempts.at(-1);
    this.bytes += last?.bytesTransferred ?? 0;
    // A run that printed no progress (a quick rerun) still handled what it copied.
    const known = view.before + (last?.messagesTransferred ?? 0);
    this.setHandled(view, copyOk ? Math.max(known, view.total ?? 0) : known);
    view.done = 0;
  }

  /** Whether the mailbox had an attempt in this run. */
  ran(source: string): boolean {
    return (this.byMailbox.get(source)?.attempt ?? 0) > 0;
  }

  /** The mailboxes running now, longest-running first, at most `limit`. */
  running(limit: number): RunningMailbox[] {
    const out: RunningMailbox[] = [];
    for (const source of this.runningNow) {
      const view = this.byMailbox.get(source)!;
      out.push({
        source,
        attempt: view.attempt,
        since: view.since,
        done: view.done,
        total: view.total,
      });
    }
    out.sort((a, b) => a.since - b.since);
    return out.slice(0, limit);
  }

  /** The mailboxes waiting for their next attempt, the soonest first, at most `limit`. */
  waitingList(limit: number): WaitingMailbox[] {
    const out: WaitingMailbox[] = [];
    for (const source of this.waitingNow) {
      const view = this.byMailbox.get(source)!;
      out.push({ source, cls: view.waitingFor, nextAt: view.nextAt });
    }
    out.sort((a, b) => (a.nextAt ?? 0) - (b.nextAt ?? 0));
    return out.slice(0, limit);
  }

  snapshot(): TotalsSnapshot {
    const at = this.now();
    // At most two samples a second, however often a view redraws.
    if (at - (this.samples.at(-1)?.at ?? -Infinity) >= 500)
      this.samples.push({ at, messages: this.messages, bytes: this.bytes });
    while (this.samples.length > 2 && this.samples[0]!.at < at - RATE_WINDOW_MS)
      this.samples.shift();
    const first = this.samples[0] ?? { at, messages: this.messages, bytes: this.bytes };
    const seconds = (at - first.at) / 1000;
    // Less than a second of history says nothing yet about the rate.
    const messagesPerSecond = seconds >= 1 ? (this.messages - first.messages) / seconds : 0;
    const bytesPerSecond = seconds >= 1 ? (this.bytes - first.bytes) / seconds : 0;
    return {
      at,
      mailboxes: this.byMailbox.size,
      counts: { ...this.counts },
      messages: this.messages,
      bytes: this.bytes,
      messagesPerSecond,
      bytesPerSecond,
      etaSeconds: this.eta(messagesPerSecond),
      elapsedMs: at - this.startedAt,
    };
  }

  /**
   * Messages still to handle at the current rate: what running mailboxes still have, plus, for
   * mailboxes not started or waiting, the average size of those seen so far.
   */
  private eta(rate: number): number | undefined {
    if (rate <= 0 || this.totalCount === 0) return undefined;
    const average = this.totalSum / this.totalCount;
    let left = (this.counts.pending + this.counts.waiting) * average;
    for (const running of this.running(Number.POSITIVE_INFINITY))
      left += Math.max(0, (running.total ?? average) - running.done);
    return left / rate;
  }
}

function newView(): MailboxView {
  return { state: "pending", attempt: 0, since: 0, done: 0, handled: 0, before: 0, counted: 0 };
}
