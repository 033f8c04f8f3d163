import { Chalk, type ChalkInstance } from "chalk";
import { Listr, type ListrTaskWrapper } from "listr2";
import { formatDuration } from "./duration.js";
import type { Progress, ReportEntry } from "./types.js";
import { countsAsOk } from "./report/summary.js";

/** What the migration tells the person watching. Every text here is already free of secrets. */
export interface Ui {
  info(message: string): void;
  warn(message: string): void;
  attemptStarted(source: string, attempt: number): void;
  progress(source: string, progress: Progress): void;
  /** The mailbox waits before its next attempt. */
  waiting(source: string, reason: string, delayMs: number): void;
  finished(entry: ReportEntry): void;
  close(): Promise<void>;
}

export interface UiOptions {
  stream: NodeJS.WriteStream;
  env: NodeJS.ProcessEnv;
  now?: () => Date;
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

/** Timestamped lines, one event each: for Docker logs, CI and files. */
export class PlainUi implements Ui {
  private readonly lastProgress = new Map<string, number>();

  constructor(private readonly opts: UiOptions) {}

  private line(text: string): void {
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
    // Attempt 0 is a verify run (counting, not copying).
    this.line(`${source}: ${attempt === 0 ? "verification" : `attempt ${attempt}`} started`);
  }
  progress(source: string, progress: Progress): void {
    // A line per message would drown the log: report every 10% only.
    const decile = progress.total > 0 ? Math.floor((10 * progress.done) / progress.total) : 0;
    if (decile <= (this.lastProgress.get(source) ?? 0)) return;
    this.lastProgress.set(source, decile);
    this.line(`${source}: ${formatProgress(progress)}`);
  }
  waiting(source: string, reason: string, delayMs: number): void {
    this.lastProgress.delete(source);
    this.line(`${source}: ${reason}; next attempt in ${formatDuration(delayMs)}`);
  }
  finished(entry: ReportEntry): void {
    this.line(`${entry.source}: ${outcomeText(entry)}`);
  }
  async close(): Promise<void> {}
}

interface TaskHandle {
  task?: ListrTaskWrapper<unknown, never, never>;
  done: (error?: Error) => void;
}

/** A live list on a terminal: every mailbox with its state and progress. */
export class TerminalUi implements Ui {
  private readonly handles = new Map<string, TaskHandle>();
  private readonly running: Promise<unknown>;
  private readonly color: ChalkInstance;

  constructor(
    sources: string[],
    private readonly opts: UiOptions,
  ) {
    this.color = colors(opts.stream, opts.env);
    const list = new Listr(
      sources.map((source) => ({
        title: `${source}: waiting`,
        task: (_ctx: unknown, task: ListrTaskWrapper<unknown, never, never>) =>
          new Promise<void>((resolve, reject) => {
            this.handles.set(source, {
              task,
              done: (error) => (error ? reject(error) : resolve()),
            });
          }),
      })),
      {
        concurrent: true,
        exitOnError: false,
        // Our own errors carry the outcome; listr must not print stack traces or fail the run.
        registerSignalListeners: false,
      },
    );
    this.running = list.run().catch(() => undefined);
  }

  private title(source: string, text: string): void {
    const handle = this.handles.get(source);
    if (handle?.task) handle.task.title = `${source}: ${text}`;
  }

  info(message: string): void {
    this.opts.stream.write(`${message}\n`);
  }
  warn(message: string): void {
    this.opts.stream.write(`${this.color.yellow(`WARNING ${message}`)}\n`);
  }
  attemptStarted(source: string, attempt: number): void {
    this.title(
      source,
      attempt === 0 ? "verifying" : attempt === 1 ? "running" : `running (attempt ${attempt})`,
    );
  }
  progress(source: string, progress: Progress): void {
    this.title(source, formatProgress(progress));
  }
  waiting(source: string, reason: string, delayMs: number): void {
    this.title(source, `${reason}; next attempt in ${formatDuration(delayMs)}`);
  }
  finished(entry: ReportEntry): void {
    this.title(entry.source, outcomeText(entry));
    const handle = this.handles.get(entry.source);
    // The remedy is long: the summary prints it; the live list only names the outcome.
    const klass = entry.class ? ` (${entry.class})` : "";
    handle?.done(
      countsAsOk(entry) ? undefined : new Error(`${entry.source}: ${entry.status}${klass}`),
    );
  }
  async close(): Promise<void> {
    for (const handle of this.handles.values()) handle.done();
    await this.running;
  }
}

export function createUi(sources: string[], opts: UiOptions): Ui {
  return opts.stream.isTTY && opts.env.CI === undefined
    ? new TerminalUi(sources, opts)
    : new PlainUi(opts);
}
