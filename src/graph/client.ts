// The one place Microsoft Graph is called: a GET with the bearer token and the mailbox's
// preferences, inside the mailbox's limiter; a refused token is renewed once, throttling is waited
// out, and paging follows @odata.nextLink verbatim (microsoft-graph.md §4, §5, §9).
import { setTimeout as sleep } from "node:timers/promises";
import type { LimitFunction } from "p-limit";
import type { StoredToken } from "../token/index.js";
import { classifyGraphError, errorCode, GraphError } from "./errors.js";

/** What the client needs of the token keeper (src/token/keeper.ts). */
export interface GraphTokens {
  fresh(): Promise<StoredToken>;
  renewAfterExpiry(stale: StoredToken): Promise<StoredToken>;
}

/** A throttling wait in progress, for the live view: the same class and words as IMAP's. */
export interface GraphWait {
  delayMs: number;
  /** What Graph suggested (Retry-After); undefined when it named no figure. */
  suggestedMs: number | undefined;
  status: number;
}

export interface GraphClientOptions {
  tokens: GraphTokens;
  /** The mailbox's limiter (limit.ts), shared by all its parts. */
  limit: LimitFunction;
  /**
   * Throttling is waited out inside the request while the waits of one request add up to less
   * than this; past it the part ends `throttled` with Graph's figure, and the engine's throttling
   * policy (waits, THROTTLE_GIVE_UP) takes over.
   */
  throttleBudgetMs: number;
  /** A wait that Graph gave no figure for: this, doubled each time in a row (then capped by the budget). */
  firstBackoffMs?: number;
  onWait?: (wait: GraphWait) => void;
  signal?: AbortSignal;
  fetch?: typeof fetch;
}

export interface GetOptions {
  /** `Prefer: outlook.timezone` — times come back in this (Windows or IANA) zone. */
  timeZone?: string;
  /** `Prefer: outlook.body-content-type="text"`: event bodies as plain text. */
  textBody?: boolean;
}

const REQUEST_TIMEOUT_MS = 120_000;
const DEFAULT_FIRST_BACKOFF_MS = 5_000;

/** A request as a message names it: path only (paging tokens are long, and useless to a person). */
function described(url: string): string {
  const u = new URL(url);
  return `GET ${u.pathname}`;
}

function prefer(opts: GetOptions): string[] {
  const values: string[] = [];
  if (opts.timeZone) values.push(`outlook.timezone="${opts.timeZone}"`);
  if (opts.textBody) values.push('outlook.body-content-type="text"');
  return values;
}

export class GraphClient {
  constructor(private readonly opts: GraphClientOptions) {}

  /** One JSON resource. */
  async json<T>(url: string, opts: GetOptions = {}): Promise<T> {
    const answer = await this.get(url, opts, async (r) => (await r.json()) as unknown);
    if (answer === undefined)
      throw new GraphError("other", `${described(url)} vanished`, { status: 404 });
    return answer as T;
  }

  /** Every item of a collection, page after page, following @odata.nextLink as given. */
  async *pages<T>(url: string, opts: GetOptions = {}): AsyncGenerator<T> {
    let next: string | undefined = url;
    while (next) {
      const page = (await this.get(next, opts, async (r) => (await r.json()) as unknown)) as
        { value?: T[]; "@odata.nextLink"?: string } | undefined;
      if (!page) return;
      yield* page.value ?? [];
      next = page["@odata.nextLink"];
    }
  }

  /** A binary resource (a photo); undefined when Graph has none (404). */
  async bytes(url: string): Promise<{ bytes: Buffer; contentType: string } | undefined> {
    return this.get(
      url,
      {},
      async (r) => ({
        bytes: Buffer.from(await r.arrayBuffer()),
        contentType: r.headers.get("content-type") ?? "application/octet-stream",
      }),
      true,
    );
  }

  /**
   * The request, with its retries: undefined when the resource is gone (404 ErrorItemNotFound, or
   * any 404 of a `binary`: a photo), the read body otherwise; a GraphError when the part must end,
   * another 404 included (an unknown user: Graph's code kept, never taken for an empty collection).
   */
  private async get<T>(
    url: string,
    opts: GetOptions,
    read: (response: Response) => Promise<T>,
    binary = false,
  ): Promise<T | undefined> {
    const doFetch = this.opts.fetch ?? fetch;
    let token = await this.opts.tokens.fresh();
    let renewed = false;
    let waitedMs = 0;
    let quietWaits = 0;
    for (;;) {
      const headers = new Headers({ Authorization: `Bearer ${token.accessToken}`, Accept: "*/*" });
      for (const p of prefer(opts)) headers.append("Prefer", p);
      const outcome = await this.opts.limit(async () => {
        let response: Response;
        try {
          response = await doFetch(url, {
            headers,
            signal: AbortSignal.any(
              [AbortSignal.timeout(REQUEST_TIMEOUT_MS), this.opts.signal].filter(
                (s): s is AbortSignal => s !== undefined,
              ),
            ),
          });
        } catch (error) {
          if (this.opts.signal?.aborted)
            throw new GraphError("interrupted", described(url), { cause: error });
          throw new GraphError(
            "connect_failed_source",
            `${described(url)} could not reach Microsoft Graph`,
            {
              cause: error,
            },
          );
        }
        if (response.ok) return { ok: true as const, value: await read(response) };
        const text = await response.text();
        let body: unknown;
        try {
          body = JSON.parse(text);
        } catch {
          body = undefined;
        }
        return {
          ok: false as const,
          status: response.status,
          code: errorCode(body),
          retryAfter: response.headers.get("retry-after"),
        };
      });
      if (outcome.ok) return outcome.value;
      const { status, code } = outcome;
      const verdict = classifyGraphError(status, code, outcome.retryAfter);
      switch (verdict.kind) {
        case "renew_token":
          if (renewed)
            throw new GraphError(
              "auth_failed_source",
              `${described(url)}: a new token was refused too`,
              { status, code },
            );
          token = await this.opts.tokens.renewAfterExpiry(token);
          renewed = true;
          continue;
        case "gone":
          return undefined;
        case "fail":
          // A photo: any 404 is "none".
          if (status === 404 && verdict.class === "other" && binary) return undefined;
          throw new GraphError(verdict.class, described(url), { status, code });
        case "wait": {
          const first = this.opts.firstBackoffMs ?? DEFAULT_FIRST_BACKOFF_MS;
          const delayMs = verdict.retryAfterMs ?? first * 2 ** Math.min(quietWaits, 10);
          quietWaits++;
          if (waitedMs + delayMs > this.opts.throttleBudgetMs)
            throw new GraphError("throttled", described(url), {
              status,
              code,
              backoffMs: verdict.retryAfterMs,
            });
          this.opts.onWait?.({ delayMs, suggestedMs: verdict.retryAfterMs, status });
          waitedMs += delayMs;
          try {
            await sleep(delayMs, undefined, { signal: this.opts.signal });
          } catch (error) {
            throw new GraphError("interrupted", described(url), { cause: error });
          }
        }
      }
    }
  }
}
