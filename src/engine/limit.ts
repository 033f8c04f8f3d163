// How many mailboxes may run at once, as the scheduler sees it: a fixed number, or `auto`, where
// the concurrency controller decides from what the runs report. The engine tells the limit what
// happens (an attempt starts, makes progress, ends, a mailbox is done); the limit samples that and
// the CPU once a second and tells the scheduler and the log when the number changes.
import { ConcurrencyController, type ConcurrencyChange } from "./concurrency.js";
import { CpuMeter, cpuReader, type CpuReader } from "./cpu.js";

export interface ConcurrencyLimit {
  current(): number;
  /** The most it can ever be: the scheduler keeps that many workers. */
  readonly max: number;
  /** Called on every change; returns a function that stops the calls. */
  subscribe(listener: () => void): () => void;
  attemptStarted(source: string): void;
  progress(source: string, done: number): void;
  attemptEnded(source: string, ended: { copied: number; bytes: number; throttled: boolean }): void;
  /** The mailbox will not run again in this migration. */
  mailboxDone(source: string): void;
  stop(): void;
}

export function fixedLimit(n: number): ConcurrencyLimit {
  const level = Math.max(1, n);
  return {
    current: () => level,
    max: level,
    subscribe: () => () => undefined,
    attemptStarted: () => undefined,
    progress: () => undefined,
    attemptEnded: () => undefined,
    mailboxDone: () => undefined,
    stop: () => undefined,
  };
}

export interface AutoLimitOptions {
  max: number;
  start?: number;
  /** Mailboxes in this migration: those neither running nor done are taken as waiting. */
  mailboxes: number;
  cpu?: CpuReader;
  now?: () => number;
  /** One line per change, with its reason. */
  log: (change: ConcurrencyChange) => void;
  tickMs?: number;
}

const TICK_MS = 1000;

export class AutoLimit implements ConcurrencyLimit {
  readonly max: number;
  private readonly controller: ConcurrencyController;
  private readonly listeners = new Set<() => void>();
  private readonly done = new Map<string, number>();
  /** Attempts that have not copied their first message yet: when they started. */
  private readonly starting = new Map<string, number>();
  /** When each running attempt started. */
  private readonly startedAt = new Map<string, number>();
  /** Smoothed time from an attempt's start to its first message. */
  private startupMs?: number;
  private readonly meter?: CpuMeter;
  private readonly timer: NodeJS.Timeout;
  private readonly now: () => number;
  private messages = 0;
  private bytes = 0;
  private running = 0;
  private finished = 0;

  constructor(private readonly o: AutoLimitOptions) {
    this.max = Math.max(1, o.max);
    this.now = o.now ?? Date.now;
    this.controller = new ConcurrencyController({ max: this.max, start: o.start });
    this.meter = o.cpu && new CpuMeter(o.cpu, this.now);
    this.meter?.busy();
    this.timer = setInterval(() => this.tick(), o.tickMs ?? TICK_MS);
    this.timer.unref();
  }

  current(): number {
    return this.controller.current;
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  attemptStarted(source: string): void {
    this.running++;
    this.done.set(source, 0);
    this.starting.set(source, this.now());
    this.startedAt.set(source, this.now());
  }

  progress(source: string, done: number): void {
    const since = this.starting.get(source);
    if (since !== undefined && done > 0) {
      this.starting.delete(source);
      const took = this.now() - since;
      this.startupMs = this.startupMs === undefined ? took : 0.8 * this.startupMs + 0.2 * took;
    }
    this.messages += Math.max(0, done - (this.done.get(source) ?? 0));
    this.done.set(source, done);
  }

  attemptEnded(source: string, ended: { copied: number; bytes: number; throttled: boolean }): void {
    this.running--;
    // A run that printed no progress still handled what it copied.
    this.messages += Math.max(0, ended.copied - (this.done.get(source) ?? 0));
    this.bytes += ended.bytes;
    this.done.delete(source);
    this.starting.delete(source);
    const startedAt = this.startedAt.get(source);
    this.startedAt.delete(source);
    if (ended.throttled)
      this.apply(this.controller.throttled(this.now(), { mailbox: source, startedAt }));
  }

  mailboxDone(_source: string): void {
    this.finished++;
  }

  private tick(): void {
    this.apply(
      this.controller.sample({
        at: this.now(),
        messages: this.messages,
        bytes: this.bytes,
        running: this.running,
        waiting: Math.max(0, this.o.mailboxes - this.finished - this.running),
        cpuBusy: this.meter?.busy(),
        startupMs: this.startupMs,
      }),
    );
  }

  private apply(change: ConcurrencyChange | undefined): void {
    if (!change) return;
    this.o.log(change);
    for (const listener of this.listeners) listener();
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

/**
 * The limit a command runs with: `--concurrency N` (at least `least`), or `auto` within
 * --max-concurrency, starting at `least` when given. Says once how `auto` starts.
 */
/** What one imapsync run holds at its peak, measured on 2.229 (README, "Beyond one machine"). */
const RUN_MEMORY_BYTES = 200 * 2 ** 20;

export function limitFor(
  settings: { concurrency: number | "auto"; maxConcurrency: number },
  o: {
    mailboxes: number;
    least?: number;
    info: (line: string) => void;
    log: (change: ConcurrencyChange) => void;
    /** Bytes of memory the tool may still use (its cgroup's limit in a container). */
    availableMemory: () => number;
  },
): ConcurrencyLimit {
  const least = o.least ?? 1;
  if (settings.concurrency !== "auto") return fixedLimit(Math.max(settings.concurrency, least));
  const cpu = cpuReader();
  // auto climbs while the rate grows, whatever memory each run takes: never past what fits.
  const memory = o.availableMemory();
  const fits = Math.max(1, Math.floor(memory / RUN_MEMORY_BYTES));
  const max = Math.max(Math.min(settings.maxConcurrency, fits), least);
  const limit = new AutoLimit({
    max,
    start: o.least,
    mailboxes: o.mailboxes,
    cpu,
    log: o.log,
  });
  const bound =
    fits < settings.maxConcurrency
      ? `the ${Math.round(memory / 2 ** 20)} MB of memory available fit ${fits} imapsync runs of about ${RUN_MEMORY_BYTES / 2 ** 20} MB`
      : "--max-concurrency";
  o.info(
    `Concurrency auto: ${limit.current()} at first, at most ${max} (${bound}); CPU available: ${cpu.source}.`,
  );
  return limit;
}
