// The Graph client's retries with a fetch of our own: a throttled request past its budget ends
// the part `throttled` with Graph's figure; 503 without a figure backs off, doubling; a network
// failure is a lost source; and the remedies an admin then reads.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import pLimit from "p-limit";
import { GraphClient, type GraphWait } from "../../../src/graph/client.js";
import { GraphError } from "../../../src/graph/errors.js";
import { remedyFor } from "../../../src/outcomes/remedies.js";
import type { StoredToken } from "../../../src/token/index.js";

const token: StoredToken = {
  accessToken: "t",
  obtainedAt: new Date(),
  expiresAt: new Date(Date.now() + 3_600_000),
  claims: {},
};
const tokens = { fresh: async () => token, renewAfterExpiry: async () => token };

/** A fetch that answers each call with the next of `answers` and keeps the requests' headers. */
function scripted(answers: (() => Response)[]) {
  const seen: Headers[] = [];
  const fetch = (async (_url: string, init?: RequestInit) => {
    seen.push(new Headers(init?.headers));
    const next = answers.shift();
    if (!next) throw new Error("no more answers");
    return next();
  }) as typeof globalThis.fetch;
  return { fetch, seen };
}
const throttled =
  (retryAfter?: string, status = 429) =>
  () =>
    new Response(JSON.stringify({ error: { code: "TooManyRequests", message: "busy" } }), {
      status,
      headers: retryAfter ? { "Retry-After": retryAfter } : {},
    });
const ok = (body: unknown) => () => new Response(JSON.stringify(body), { status: 200 });

describe("Graph client", () => {
  it("sends the bearer token and the Prefer headers", async () => {
    const { fetch, seen } = scripted([ok({ value: [] })]);
    const client = new GraphClient({ tokens, limit: pLimit(4), throttleBudgetMs: 0, fetch });
    await client.json("http://127.0.0.1:9/v1.0/users/a@b.c/events", {
      timeZone: "Romance Standard Time",
      textBody: true,
    });
    assert.equal(seen[0]!.get("authorization"), "Bearer t");
    assert.equal(
      seen[0]!.get("prefer"),
      'outlook.timezone="Romance Standard Time", outlook.body-content-type="text"',
    );
  });

  it("ends throttled with Graph's figure once the waits of one request would pass the budget", async () => {
    const waits: GraphWait[] = [];
    const { fetch } = scripted([throttled("0"), throttled("30")]);
    const client = new GraphClient({
      tokens,
      limit: pLimit(4),
      throttleBudgetMs: 10_000,
      fetch,
      onWait: (w) => waits.push(w),
    });
    await assert.rejects(
      client.json("http://127.0.0.1:9/v1.0/users/a@b.c/calendars"),
      (e) =>
        e instanceof GraphError &&
        e.runClass === "throttled" &&
        e.backoffMs === 30_000 &&
        e.status === 429,
    );
    assert.deepEqual(waits, [{ delayMs: 0, suggestedMs: 0, status: 429 }]);
  });

  it("backs off, doubling, on 503 without Retry-After", async () => {
    const waits: GraphWait[] = [];
    const { fetch } = scripted([
      throttled(undefined, 503),
      throttled(undefined, 503),
      ok({ id: "x" }),
    ]);
    const client = new GraphClient({
      tokens,
      limit: pLimit(4),
      throttleBudgetMs: 60_000,
      firstBackoffMs: 5,
      fetch,
      onWait: (w) => waits.push(w),
    });
    assert.deepEqual(await client.json("http://127.0.0.1:9/v1.0/users/a@b.c/calendar"), {
      id: "x",
    });
    assert.deepEqual(
      waits.map((w) => w.delayMs),
      [5, 10],
    );
  });

  it("ends connect_failed_source when Graph cannot be reached, naming the request without its query", async () => {
    const fetch = (async () => {
      throw new TypeError("fetch failed");
    }) as typeof globalThis.fetch;
    const client = new GraphClient({ tokens, limit: pLimit(4), throttleBudgetMs: 0, fetch });
    await assert.rejects(
      client.json("http://127.0.0.1:9/v1.0/users/a@b.c/calendars?$skiptoken=secretish"),
      (e) => {
        assert.ok(e instanceof GraphError);
        assert.equal(e.runClass, "connect_failed_source");
        assert.ok(!e.message.includes("skiptoken"), e.message);
        return true;
      },
    );
  });

  it("reads no photo as none (404), not as a failure", async () => {
    const { fetch } = scripted([
      () => new Response(JSON.stringify({ error: { code: "ImageNotFound" } }), { status: 404 }),
    ]);
    const client = new GraphClient({ tokens, limit: pLimit(4), throttleBudgetMs: 0, fetch });
    assert.equal(
      await client.bytes("http://127.0.0.1:9/v1.0/users/a@b.c/contacts/c/photo/$value"),
      undefined,
    );
  });
});

describe("Graph remedies", () => {
  it("names the application permissions and the access policy for an app-only token", () => {
    const text = remedyFor("not_delegated", {
      mailbox: "bob@contoso.test",
      graph: { appOnly: true },
    });
    assert.match(text, /Calendars\.Read, Contacts\.Read and MailboxSettings\.Read/);
    assert.match(text, /admin consent/);
    assert.match(text, /application access policy .* leaves bob@contoso\.test out/);
    assert.doesNotMatch(text, /Add-MailboxPermission/);
  });

  it("names the delegated .Shared permissions for a person's token", () => {
    assert.match(
      remedyFor("not_delegated", { graph: { appOnly: false } }),
      /Calendars\.Read\.Shared, Contacts\.Read\.Shared/,
    );
  });

  it("speaks of Graph, not IMAP, for a refused token and an unreachable service", () => {
    assert.match(
      remedyFor("auth_failed_source", { graph: { appOnly: true } }),
      /^Microsoft Graph refused the access token/,
    );
    assert.match(
      remedyFor("connect_failed_source", { graph: { appOnly: true } }),
      /^Microsoft Graph could not be reached/,
    );
    assert.match(remedyFor("connect_failed_source"), /IMAP/);
  });

  it("says what a user without an Exchange Online mailbox is, and that a rerun waits for one", () => {
    const text = remedyFor("mailbox_not_enabled", { mailbox: "nomailbox@contoso.test" });
    assert.match(text, /nomailbox@contoso\.test has no Exchange Online mailbox/);
    assert.match(text, /licence/);
  });
});
