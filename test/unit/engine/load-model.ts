// A simulated server and CPU for the concurrency controller: deterministic, on a fake clock. Each
// run logs in and lists folders (`startupMs`, nothing copied), then copies at `perRun` messages a
// second; together the runs get at most what the server (`serverCap`) and the CPUs
// (`cpus * 1000 / cpuMsPerMessage`) can do. Above `throttleAbove` messages a second, the newest runs
// end throttled and their mailbox waits `backoffMs` before its next attempt, as with Office 365.
import {
  ConcurrencyController,
  type ConcurrencyChange,
  type ControllerOptions,
} from "../../../src/engine/concurrency.js";

export interface LoadModel {
  perRun: number;
  startupMs: number;
  serverCap?: number;
  cpus: number;
  cpuMsPerMessage: number;
  throttleAbove?: number;
  backoffMs?: number;
  bytesPerMessage?: number;
}

export interface SimResult {
  wallMs: number;
  throttled: number;
  changes: ConcurrencyChange[];
  /** The level at every tick, to look at where it settled. */
  levels: number[];
}

const TICK_MS = 100;
const SAMPLE_MS = 1000;

interface Run {
  mailbox: number;
  startupLeft: number;
  startedAt: number;
}

export function simulate(
  model: LoadModel,
  mailboxes: number,
  messagesEach: number,
  policy: { fixed: number } | { auto: ControllerOptions },
): SimResult {
  const controller = "auto" in policy ? new ConcurrencyController(policy.auto) : undefined;
  const level = () => controller?.current ?? (policy as { fixed: number }).fixed;
  const remaining = new Array<number>(mailboxes).fill(messagesEach);
  const notBefore = new Array<number>(mailboxes).fill(0);
  const queue = Array.from({ length: mailboxes }, (_, i) => i);
  const running: Run[] = [];
  const changes: ConcurrencyChange[] = [];
  const levels: number[] = [];
  let messages = 0;
  let cpuMs = 0;
  let throttled = 0;
  let at = 0;
  const note = (change: ConcurrencyChange | undefined) => change && changes.push(change);
  for (; queue.length > 0 || running.length > 0; at += TICK_MS) {
    if (at > 100 * 3_600_000) throw new Error("the simulation does not end");
    while (running.length < level()) {
      const ready = queue.findIndex((m) => notBefore[m]! <= at);
      if (ready < 0) break;
      running.push({
        mailbox: queue.splice(ready, 1)[0]!,
        startupLeft: model.startupMs,
        startedAt: at,
      });
    }
    const copying = running.filter((r) => r.startupLeft <= 0);
    for (const r of running) r.startupLeft -= TICK_MS;
    const wanted = copying.length * model.perRun;
    const cpuCap = (model.cpus * 1000) / model.cpuMsPerMessage;
    const rate = Math.min(wanted, model.serverCap ?? Infinity, cpuCap);
    if (model.throttleAbove !== undefined && rate > model.throttleAbove) {
      // The newest runs hit the limit first; the others go on.
      const keep = Math.floor(model.throttleAbove / model.perRun);
      for (const r of copying.slice(keep)) {
        running.splice(running.indexOf(r), 1);
        notBefore[r.mailbox] = at + (model.backoffMs ?? 300_000);
        queue.push(r.mailbox);
        throttled++;
        note(controller?.throttled(at, { mailbox: String(r.mailbox), startedAt: r.startedAt }));
      }
      continue;
    }
    const each = copying.length > 0 ? (rate * TICK_MS) / 1000 / copying.length : 0;
    for (const r of copying) {
      const done = Math.min(each, remaining[r.mailbox]!);
      remaining[r.mailbox]! -= done;
      messages += done;
      cpuMs += done * model.cpuMsPerMessage;
      if (remaining[r.mailbox]! <= 1e-9) running.splice(running.indexOf(r), 1);
    }
    levels.push(level());
    if (controller && at % SAMPLE_MS === 0) {
      const waiting = queue.filter((m) => notBefore[m]! <= at).length;
      note(
        controller.sample({
          at,
          messages,
          bytes: messages * (model.bytesPerMessage ?? 20_000),
          running: running.length,
          waiting,
          cpuBusy: Math.min(1, cpuMs / (model.cpus * SAMPLE_MS)),
          startupMs: model.startupMs,
        }),
      );
      cpuMs = 0;
    }
  }
  return { wallMs: at, throttled, changes, levels };
}
