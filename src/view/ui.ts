import { Chalk, type ChalkInstance } from "chalk";
import { createLogUpdate } from "log-update";
import { formatBytes, formatDuration } from "../format.js";
import type { ConcurrencyChange } from "../engine/concurrency.js";
import type { Progress } from "../imapsync/classification.js";
import type { ReportEntry } from "../report/schema.js";
import { countsAsOk } from "../report/summary.js";
import { Totals, type TotalsSnapshot } from "./totals.js";

/** What the migration tells the person watching. Every text here is already free of secrets. */
export interface Ui {
  info(message: string): void;
  warn(message: string): void;
  attemptStarted(source: string, attempt: number): void;
  progress(source: string, progress: Progress): void;
  /** The attempt ended and the mailbox waits before its next one. */
  waiting(entry: ReportEntry, reason: string, delayMs: number): void;
  finished(entry: ReportEntry): void;
  /** `--concurrency auto` changed the number of simultaneous runs. */
  concurrency(change: ConcurrencyChange): void;
  close(): Promise<void>;
}

export interface UiOptions {
  stream: NodeJS.WriteStream;
  env: NodeJS.ProcessEnv;
  now?: () => Date;
  /** Off a terminal: a totals line this often. */
  totalsEveryMs?: number;
  /** Off a terminal: at most one progress line per mailbox this often. */
  progressEveryMs?: number;
  /** `--events jsonl`: every event as a JSON line on this stream instead of a view. */
  events?: NodeJS.WritableStream;
}

export function useColor(stream: NodeJS.WriteStream, env: NodeJS.ProcessEnv): boolean {
  // https://no-color.org: any non-empty value turns colour off.
  if (env.NO_COLOR) return false;
  return Boolean(stream.isTTY);
}

export function colors(stream: NodeJS.WriteStream, env: NodeJS.ProcessEnv): ChalkInstance {
  return new Chalk({ level: useColor(stream, env) ? 1 : 0 });
}

export function formatProgress(progress: Progress): string {
  const percent = progress.total > 0 ? Math.floor((100 * progress.done) / progress.total) : 0;
  const parts = [`${progress.done}/${progress.total} messages (${percent}%)`];
  if (progress.copied) parts.push(`${progress.copied} copied`);
  if (progress.etaSeconds !== undefined)
    parts.push(`ETA ${formatDuration(progress.etaSeconds * 1000)}`);
  return parts.join(", ");
}

function outcomeText(entry: ReportEntry): string {
  const klass = entry.class && entry.class !== entry.status ? ` (${entry.class})` : "";
  const v = entry.verification;
  const verified = v
    ? `, verification ${v.verdict === "failed" ? `failed (${v.class})` : v.verdict}`
    : "";
  return `${entry.status}${klass}${verified}${countsAsOk(entry) || !entry.remedy ? "" : `: ${entry.remedy}`}`;
}

/** `1234567` → `1,234,567`: counts an admin reads at a glance. */
export function formatCount(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

/** The totals in one line: what the plain view prints at a steady interval. */
export function formatTotals(t: TotalsSnapshot): string {
  const c = t.counts;
  const eta =
    t.etaSeconds === undefined ? "ETA unknown" : `ETA ${formatDuration(t.etaSeconds * 1000)}`;
  return [
    `${c.ok + c.failed}/${t.mailboxes} done (${c.ok} ok, ${c.failed} failed), ${c.running} running, ${c.waiting} waiting, ${c.pending} pending`,
    `${formatCount(t.messages)} messages, ${formatBytes(t.bytes)}`,
    `${t.messagesPerSecond.toFixed(1)} msg/s, ${formatBytes(t.bytesPerSecond)}/s`,
    `${eta}, elapsed ${formatDuration(t.elapsedMs)}`,
  ].join("; ");
}

/**
 * Why a mailbox waits and until when, as every view says it: "throttled, next try at
 * 2026-11-29T22:05:00Z (in 5m00s)".
 */
export function nextTryText(
  cls: string | undefined,
  nextAt: number | undefined,
  now: number,
): string {
  const why = cls ?? "waiting";
  if (nextAt === undefined) return `${why}, next try now`;
  const at = new Date(nextAt).toISOString().replace(/\.\d{3}Z$/, "Z");
  return `${why}, next try at ${at} (in ${formatDuration(Math.max(0, nextAt - now))})`;
}

function entryNextTry(entry: ReportEntry, now: number): string {
  const at = entry.nextAttemptAt === undefined ? undefined : Date.parse(entry.nextAttemptAt);
  return nextTryText(entry.class, at, now);
}

function changeText(change: ConcurrencyChange): string {
  return `concurrency ${change.from} -> ${change.to}: ${change.reason}`;
}

const TOTALS_EVERY_MS = 30_000;
const PROGRESS_EVERY_MS = 60_000;

/** Progress lines at most once per mailbox per interval: a line per message would drown the log. */
class ProgressLimiter {
  private readonly last = new Map<string, number>();
  constructor(
    private readonly everyMs: number,
    private readonly now: () => number,
  ) {}
  due(source: string): boolean {
    const at = this.now();
    const last = this.last.get(source);
    if (last === undefined) {
      // The first line of a run waits one interval too: short runs print none.
      this.last.set(source, at);
      return false;
    }
    if (at - last < this.everyMs) return false;
    this.last.set(source, at);
    return true;
  }
  forget(source: string): void {
    this.last.delete(source);
  }
}

/**
 * Off a terminal (Docker logs, CI, files): timestamped lines. A totals line at a steady interval,
 * one line per finished mailbox, retries and waits, and rate-limited progress: at 10,000 mailboxes
 * the log stays readable, and its size grows with the mailboxes, not with their messages.
 */
export class PlainUi implements Ui {
  protected readonly totals: Totals;
  private readonly limiter: ProgressLimiter;
  private readonly timer: NodeJS.Timeout;

  constructor(
    sources: string[],
    protected readonly opts: UiOptions,
  ) {
    const clock = () => (opts.now ?? (() => new Date()))().getTime();
    this.totals = new Totals(sources, clock);
    this.limiter = new ProgressLimiter(opts.progressEveryMs ?? PROGRESS_EVERY_MS, clock);
    this.timer = setInterval(() => this.tick(), opts.totalsEveryMs ?? TOTALS_EVERY_MS);
    this.timer.unref();
  }

  protected tick(): void {
    this.line(`totals: ${formatTotals(this.totals.snapshot())}`);
  }

  protected line(text: string): void {
    const now = (this.opts.now ?? (() => new Date()))();
    this.opts.stream.write(`${now.toISOString()} ${text}\n`);
  }

  info(message: string): void {
    this.line(message);
  }
  warn(message: string): void {
    this.line(`WARNING ${message}`);
  }
  attemptStarted(source: string, attempt: number): void {
    this.totals.attemptStarted(source, attempt);
    // A first attempt is in the totals; a rerun is worth its own line. Attempt 0 is a verify
    // run (counting, not copying): its outcome line says how it ended.
    if (attempt > 1) this.line(`${source}: attempt ${attempt} started`);
  }
  progress(source: string, progress: Progress): void {
    this.totals.progress(source, progress);
    if (this.limiter.due(source)) this.progressDue(source, progress);
  }
  protected progressDue(source: string, progress: Progress): void {
    this.line(`${source}: ${formatProgress(progress)}`);
  }
  // The wait is in the entry (nextAttemptAt); `delayMs` goes to the JSON event as it is.
  waiting(entry: ReportEntry, reason: string, _delayMs: number): void {
    this.totals.waiting(entry);
    this.limiter.forget(entry.source);
    const now = (this.opts.now ?? (() => new Date()))().getTime();
    this.line(`${entry.source}: ${entryNextTry(entry, now)}: ${reason}`);
  }
  finished(entry: ReportEntry): void {
    const ran = this.totals.ran(entry.source);
    this.totals.finished(entry);
    this.limiter.forget(entry.source);
    // Mailboxes left pending without a run (an interruption) are in the totals and the summary.
    if (ran || entry.status !== "pending") this.line(`${entry.source}: ${outcomeText(entry)}`);
  }
  concurrency(change: ConcurrencyChange): void {
    this.line(changeText(change));
  }
  async close(): Promise<void> {
    clearInterval(this.timer);
    this.tick();
  }
}

/** `--events jsonl`: the plain view's events as JSON objects, one a line, for scripts. */
export class JsonlUi extends PlainUi {
  private readonly out: NodeJS.WritableStream;

  constructor(sources: string[], opts: UiOptions & { events: NodeJS.WritableStream }) {
    super(sources, opts);
    this.out = opts.events;
  }

  private event(event: string, fields: Record<string, unknown>): void {
    const at = (this.opts.now ?? (() => new Date()))().toISOString();
    this.out.write(`${JSON.stringify({ at, event, ...fields })}\n`);
  }

  protected override tick(): void {
    const t = this.totals.snapshot();
    this.event("totals", {
      mailboxes: t.mailboxes,
      ...t.counts,
      messages: t.messages,
      bytes: t.bytes,
      messagesPerSecond: Number(t.messagesPerSecond.toFixed(2)),
      bytesPerSecond: Math.round(t.bytesPerSecond),
      etaSeconds: t.etaSeconds === undefined ? null : Math.round(t.etaSeconds),
      elapsedMs: t.elapsedMs,
    });
  }
  protected override line(): void {}

  override info(message: string): void {
    this.event("info", { message });
  }
  override warn(message: string): void {
    this.event("warning", { message });
  }
  override attemptStarted(source: string, attempt: number): void {
    super.attemptStarted(source, attempt);
    this.event("attempt", { source, attempt });
  }
  protected override progressDue(source: string, progress: Progress): void {
    this.event("progress", { source, done: progress.done, total: progress.total });
  }
  override waiting(entry: ReportEntry, reason: string, delayMs: number): void {
    super.waiting(entry, reason, delayMs);
    this.event("waiting", {
      source: entry.source,
      class: entry.class,
      reason,
      delayMs,
      nextAttemptAt: entry.nextAttemptAt ?? null,
    });
  }
  override finished(entry: ReportEntry): void {
    super.finished(entry);
    const last = entry.attempts.at(-1);
    this.event("finished", {
      source: entry.source,
      status: entry.status,
      class: entry.class ?? null,
      attempts: entry.attempts.length,
      messages: last?.messagesTransferred ?? null,
      bytes: last?.bytesTransferred ?? null,
      verification: entry.verification?.verdict ?? null,
      remedy: countsAsOk(entry) ? null : (entry.remedy ?? null),
    });
  }
  override concurrency(change: ConcurrencyChange): void {
    this.event("concurrency", { ...change });
  }
}

const REDRAW_MS = 1000;
/** Lines of running mailboxes shown at most (the rest is counted). */
const RUNNING_SHOWN = 12;
/** Lines of waiting mailboxes shown at most, the soonest next try first. */
const WAITING_SHOWN = 3;

/**
 * On a terminal: a block redrawn in place once a second with the totals, the rate, the ETA and
 * the mailboxes running now; above it, scrolling, the lines worth keeping (warnings, mailboxes that
 * did not end ok, concurrency changes). Never one line per mailbox of the list.
 */
export class TerminalUi implements Ui {
  private readonly totals: Totals;
  private readonly color: ChalkInstance;
  private readonly timer: NodeJS.Timeout;
  private readonly clock: () => number;
  private readonly live: ReturnType<typeof createLogUpdate>;

  constructor(
    sources: string[],
    private readonly opts: UiOptions,
  ) {
    this.clock = () => (opts.now ?? (() => new Date()))().getTime();
    this.totals = new Totals(sources, this.clock);
    this.color = colors(opts.stream, opts.env);
    this.live = createLogUpdate(opts.stream, { showCursor: true });
    this.timer = setInterval(() => this.draw(), REDRAW_MS);
    this.timer.unref();
    this.draw();
  }

  /** Writes a line above the block, which is then drawn again below it. */
  private above(text: string): void {
    this.live.clear();
    this.opts.stream.write(`${text}\n`);
    this.draw();
  }

  private draw(): void {
    const width = Math.max(20, this.opts.stream.columns ?? 100);
    this.live(
      this.block()
        .map((l) => clip(l, width))
        .join("\n"),
    );
  }

  /** The lines of the live block (also what a capture of the terminal shows). */
  block(): string[] {
    const t = this.totals.snapshot();
    const c = t.counts;
    const k = this.color;
    const eta =
      t.etaSeconds === undefined ? "ETA unknown" : `ETA ${formatDuration(t.etaSeconds * 1000)}`;
    const lines = [
      `${k.bold(`${formatCount(t.mailboxes)} mailboxes`)}  ${k.green(`${formatCount(c.ok)} ok`)}  ${k.red(`${formatCount(c.failed)} failed`)}  ${k.cyan(`${c.running} running`)}  ${c.waiting} waiting  ${formatCount(c.pending)} pending`,
      `${formatCount(t.messages)} messages, ${formatBytes(t.bytes)} copied  ${t.messagesPerSecond.toFixed(1)} msg/s, ${formatBytes(t.bytesPerSecond)}/s  ${eta}  elapsed ${formatDuration(t.elapsedMs)}`,
    ];
    const running = this.totals.running(RUNNING_SHOWN);
    if (running.length > 0) lines.push(k.dim("running:"));
    const width = Math.max(...running.map((r) => r.source.length), 0);
    for (const r of running) {
      const amount =
        r.total === undefined ? "starting" : formatProgress({ done: r.done, total: r.total });
      const attempt =
        r.attempt === 0 ? ", verifying" : r.attempt > 1 ? `, attempt ${r.attempt}` : "";
      lines.push(
        `  ${r.source.padEnd(width)}  ${amount}  ${formatDuration(this.clock() - r.since)}${attempt}`,
      );
    }
    if (c.running > running.length) lines.push(k.dim(`  … and ${c.running - running.length} more`));
    const waiting = this.totals.waitingList(WAITING_SHOWN);
    if (waiting.length > 0) lines.push(k.dim("waiting:"));
    const widest = Math.max(...waiting.map((w) => w.source.length), 0);
    for (const w of waiting)
      lines.push(`  ${w.source.padEnd(widest)}  ${nextTryText(w.cls, w.nextAt, this.clock())}`);
    if (c.waiting > waiting.length) lines.push(k.dim(`  … and ${c.waiting - waiting.length} more`));
    return lines;
  }

  info(message: string): void {
    this.above(message);
  }
  warn(message: string): void {
    this.above(this.color.yellow(`WARNING ${message}`));
  }
  attemptStarted(source: string, attempt: number): void {
    this.totals.attemptStarted(source, attempt);
  }
  progress(source: string, progress: Progress): void {
    this.totals.progress(source, progress);
  }
  waiting(entry: ReportEntry, reason: string, _delayMs: number): void {
    this.totals.waiting(entry);
    this.above(this.color.dim(`${entry.source}: ${entryNextTry(entry, this.clock())}: ${reason}`));
  }
  finished(entry: ReportEntry): void {
    this.totals.finished(entry);
    // The summary lists every outcome; the live view keeps only those that need a look.
    if (!countsAsOk(entry) && entry.status !== "pending") {
      const klass = entry.class ? ` (${entry.class})` : "";
      this.above(this.color.red(`${entry.source}: ${entry.status}${klass}`));
    }
  }
  concurrency(change: ConcurrencyChange): void {
    this.above(this.color.dim(changeText(change)));
  }
  async close(): Promise<void> {
    clearInterval(this.timer);
    this.draw();
    this.live.done();
  }
}

/** Cuts a line to the terminal's width, escape sequences not counted. */
function clip(line: string, width: number): string {
  // eslint-disable-next-line no-control-regex
  const visible = line.replace(/\x1b\[[0-9;]*m/g, "");
  if (visible.length <= width) return line;
  return `${visible.slice(0, width - 1)}…`;
}

export function createUi(sources: string[], opts: UiOptions): Ui {
  if (opts.events) return new JsonlUi(sources, { ...opts, events: opts.events });
  return opts.stream.isTTY && opts.env.CI === undefined
    ? new TerminalUi(sources, opts)
    : new PlainUi(sources, opts);
}
