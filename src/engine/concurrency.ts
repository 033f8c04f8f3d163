// `--concurrency auto`: how many mailboxes run at once, found from what the runs achieve. Pure: the
// engine feeds it samples (cumulative messages and bytes, runs in flight, CPU use) on a steady tick
// and every throttled attempt; it answers with changes, each with the reason an admin reads.
//
// The method is a hill climb on the aggregate rate: after each change, wait for the runs to settle
// (a new imapsync logs in and sizes its folders before it copies anything: the engine measures how
// long that takes and the wait follows it), measure the rate over a
// window, and keep climbing while the rate grows by at least `gain`; when it stops growing, go back
// to the last level that paid and hold there, probing upwards again now and then because servers
// and mailboxes change. Two signals override the climb: a saturated CPU lowers by one (imapsync
// competes with itself for the CPUs it is given), and throttling of several mailboxes at once lowers it
// by a quarter at once and caps the level below where it happened for a while (Exchange Online
// throttles a tenant that asks too much; one mailbox throttled alone is its own affair).

import { formatBytes } from "../format.js";

export interface LoadSample {
  /** Milliseconds on the engine's clock. */
  at: number;
  /** Messages handled so far by every run (copied or found already there), cumulative. */
  messages: number;
  /** Bytes copied so far by every run, cumulative. */
  bytes: number;
  /** Runs in flight now. */
  running: number;
  /** Mailboxes that could start now if a slot were free. */
  waiting: number;
  /** Share of the CPU available to the tool (its cgroup limit, or the machine) in use since the previous sample; undefined where it cannot be read. */
  cpuBusy?: number;
  /** How long a new run typically takes to copy its first message (login, folder sizes). */
  startupMs?: number;
}

export interface ConcurrencyChange {
  from: number;
  to: number;
  reason: string;
}

export interface ControllerOptions {
  /** --max-concurrency. */
  max: number;
  /** Level to begin with; default min(max, 8). */
  start?: number;
  /** Time a change gets before its effect is measured, at least (runs' start-up time when longer). */
  settleMs?: number;
  /** Length of one measurement. */
  windowMs?: number;
  /** Relative growth that counts as "the rate still grows" (0.1 = 10 %). */
  gain?: number;
  /** CPU share above which the CPU is saturated. */
  cpuHigh?: number;
  /** Windows spent at a level before probing upwards again. */
  holdWindows?: number;
  /** How long the level stays below where Office 365 throttled. */
  throttleCapMs?: number;
}

interface Rate {
  messages: number;
  bytes: number;
}

/** On throttling the level drops to this share of itself (at least by one). */
const THROTTLE_FACTOR = 0.75;
/**
 * Throttling is widespread when this share of the level (and never fewer than two mailboxes) was
 * throttled within THROTTLE_WINDOW_MS: the share the level then drops by.
 */
const WIDESPREAD_SHARE = 1 - THROTTLE_FACTOR;
/** Exchange Online suggests waiting about 300 s: one episode of throttling lasts about that. */
const THROTTLE_WINDOW_MS = 5 * 60_000;

/** A start-up longer than this (a huge mailbox's folder sizes) does not hold decisions back. */
const MAX_STARTUP_MS = 30_000;

const DEFAULTS = {
  settleMs: 1000,
  windowMs: 2000,
  gain: 0.1,
  cpuHigh: 0.95,
  holdWindows: 8,
  throttleCapMs: 10 * 60_000,
};

export class ConcurrencyController {
  private level: number;
  private readonly o: typeof DEFAULTS & { max: number };
  /** Start of the current measurement; undefined while settling after a change. */
  private windowStart?: { at: number; messages: number; bytes: number };
  private settleUntil = Number.NEGATIVE_INFINITY;
  private cpu: number[] = [];
  /** The level before the last raise and the rate it gave: a raise must beat it. */
  private before?: { level: number; rate: Rate };
  /** At a level found good (or forced): probe upwards again only after `holdWindows` windows. */
  private holding = false;
  private held = 0;
  private best?: Rate;
  private cap: { level: number; until: number } | undefined;
  private lastThrottleAt = Number.NEGATIVE_INFINITY;
  /** Mailboxes throttled since the last lowering, within THROTTLE_WINDOW_MS: when, oldest first. */
  private readonly throttledRecently = new Map<string, number>();
  /** Set by the first sample: until then a change has no time to settle from. */
  private started = false;
  /** The runs' start-up time, from the last sample that knew it. */
  private startupMs = 0;

  constructor(options: ControllerOptions) {
    const max = Math.max(1, Math.floor(options.max));
    this.o = { ...DEFAULTS, ...withoutUndefined(options), max };
    this.level = clamp(options.start ?? Math.min(max, 8), 1, max);
  }

  get current(): number {
    return this.level;
  }

  /**
   * An attempt of `mailbox` ended throttled. Exchange Online budgets each mailbox as well as the
   * tenant: a mailbox read hard is throttled alone, and fewer runs of the others would not refill
   * its budget, only slow a night of thousands of mailboxes down for its sake (its own growing
   * waits deal with it). Several mailboxes throttled together point at the tenant's (or the
   * app's) budget, which fewer runs do relieve: then lower at once. An attempt that started before
   * the last lowering belongs to the same episode (runs above the new level still drain): it
   * lowers nothing more.
   */
  throttled(
    at: number,
    attempt: { mailbox: string; startedAt?: number },
  ): ConcurrencyChange | undefined {
    if ((attempt.startedAt ?? at) < this.lastThrottleAt) return undefined;
    this.throttledRecently.delete(attempt.mailbox);
    this.throttledRecently.set(attempt.mailbox, at);
    for (const [mailbox, when] of this.throttledRecently) {
      if (when > at - THROTTLE_WINDOW_MS) break;
      this.throttledRecently.delete(mailbox);
    }
    const mailboxes = this.throttledRecently.size;
    if (mailboxes < Math.max(2, Math.ceil(this.level * WIDESPREAD_SHARE))) return undefined;
    if (at - this.lastThrottleAt < this.o.settleMs) return undefined;
    this.lastThrottleAt = at;
    this.throttledRecently.clear();
    this.cap = { level: Math.max(1, this.level - 1), until: at + this.o.throttleCapMs };
    return this.settle(
      Math.max(1, Math.min(this.level - 1, Math.floor(this.level * THROTTLE_FACTOR))),
      at,
      `Office 365 throttled ${mailboxes} mailboxes within ${Math.round(THROTTLE_WINDOW_MS / 60_000)} min: lowered at once, and kept below ${this.level} for ${Math.round(this.o.throttleCapMs / 60_000)} min`,
    );
  }

  /** One tick of the engine's clock; returns a change when one is due. */
  sample(s: LoadSample): ConcurrencyChange | undefined {
    if (s.startupMs !== undefined) this.startupMs = Math.min(s.startupMs, MAX_STARTUP_MS);
    if (!this.started) {
      this.started = true;
      this.restart(s.at);
    }
    if (this.cap && s.at >= this.cap.until) this.cap = undefined;
    if (s.at < this.settleUntil) return undefined;
    if (!this.windowStart) {
      this.windowStart = { at: s.at, messages: s.messages, bytes: s.bytes };
      this.cpu = [];
      return undefined;
    }
    // A window in which the level was not filled, or older runs above it still drain, says
    // nothing about the level: start again.
    if (s.running !== this.level) {
      this.windowStart = { at: s.at, messages: s.messages, bytes: s.bytes };
      this.cpu = [];
      return undefined;
    }
    if (s.cpuBusy !== undefined) this.cpu.push(s.cpuBusy);
    const elapsed = s.at - this.windowStart.at;
    if (elapsed < this.o.windowMs) return undefined;
    const rate: Rate = {
      messages: ((s.messages - this.windowStart.messages) * 1000) / elapsed,
      bytes: ((s.bytes - this.windowStart.bytes) * 1000) / elapsed,
    };
    const cpu = this.cpu.length > 0 ? this.cpu.reduce((a, b) => a + b, 0) / this.cpu.length : 0;
    return this.decide(rate, cpu, s);
  }

  private decide(measured: Rate, cpu: number, s: LoadSample): ConcurrencyChange | undefined {
    if (cpu >= this.o.cpuHigh && this.level > 1) {
      return this.settle(
        this.level - 1,
        s.at,
        `the CPU available is saturated (${percent(cpu)} busy)`,
      );
    }
    let rate = measured;
    const previous = this.before;
    if (previous && !grew(previous.rate, rate, this.o.gain)) {
      return this.settle(
        previous.level,
        s.at,
        `the rate stopped growing (${describe(previous.rate)} at ${previous.level}, ${describe(rate)} at ${this.level})`,
      );
    }
    if (this.holding) {
      // A probe must beat the best this level did, not one window that mailboxes ending and
      // starting happened to pull down.
      this.best = this.best && !grew(this.best, rate, 0) ? this.best : rate;
      if (++this.held < this.o.holdWindows) return this.restart(s.at);
      rate = this.best;
    }
    const ceiling = Math.min(this.o.max, this.cap?.level ?? this.o.max);
    const next = Math.min(ceiling, this.level + Math.max(1, Math.round(this.level / 2)));
    // No room, or nothing left to start: stay, measure again, probe later.
    if (next <= this.level || s.waiting === 0) return this.settle(this.level, s.at, "");
    this.before = { level: this.level, rate };
    this.holding = false;
    this.best = undefined;
    const why = previous
      ? `the rate still grows (${describe(previous.rate)} at ${previous.level}, ${describe(rate)} at ${this.level})`
      : `probing for more (${describe(rate)} at ${this.level})`;
    return this.change(next, s.at, why);
  }

  /** A change down to a level to hold at for a while. */
  private settle(to: number, at: number, reason: string): ConcurrencyChange | undefined {
    this.before = undefined;
    this.holding = true;
    this.held = 0;
    this.best = undefined;
    if (to === this.level) return this.restart(at);
    return this.change(to, at, reason);
  }

  private change(to: number, at: number, reason: string): ConcurrencyChange {
    const from = this.level;
    this.level = to;
    this.restart(at);
    return { from, to, reason };
  }

  private restart(at: number): undefined {
    this.settleUntil = at + Math.max(this.o.settleMs, this.startupMs);
    this.windowStart = undefined;
    this.cpu = [];
    return undefined;
  }
}

/** A raise paid when either rate grew by `gain` (bytes alone move for mailboxes of big messages). */
function grew(before: Rate, after: Rate, gain: number): boolean {
  const up = (a: number, b: number) => b > a * (1 + gain) && b > 0;
  return up(before.messages, after.messages) || up(before.bytes, after.bytes);
}

function describe(rate: Rate): string {
  return `${rate.messages.toFixed(1)} msg/s, ${formatBytes(rate.bytes)}/s`;
}

function percent(share: number): string {
  return `${Math.round(share * 100)} %`;
}

function clamp(n: number, low: number, high: number): number {
  return Math.min(high, Math.max(low, Math.floor(n)));
}

function withoutUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
