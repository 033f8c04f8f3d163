// The Graph stand-in through HTTP: the documented shapes, paging, Prefer, the errors of
// microsoft-graph.md §9 and Outlook's per-mailbox concurrency limit; and a Graph token obtained
// through the token wing from the stand-in's OAuth server.
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { decodeJwt } from "jose";
import {
  AUDIENCE,
  APP_CLIENT_ID,
  APP_CLIENT_SECRET,
  PUBLIC_CLIENT_ID,
  signInHeadless,
} from "../../../scripts/standin/oauth-server.js";
import { callbackServer, pkce, postForm } from "../../helpers/oauth-flows.js";
import { obtainToken } from "../../../src/token/index.js";
import { testConfig } from "../../helpers/config.js";
import { tempDir } from "../../helpers/env.js";
import { startGraphWorld, type GraphWorld } from "../../helpers/graph-standin.js";

let world: GraphWorld;
let bearer: string;
before(async () => {
  world = await startGraphWorld();
  bearer = `Bearer ${(await world.token()).accessToken}`;
});
after(() => world.stop());

const get = (path: string, headers: Record<string, string> = {}) =>
  fetch(`${world.graph.url}${path}`, { headers: { Authorization: bearer, ...headers } });
const body = async (r: Response) =>
  (await r.json()) as Record<string, unknown> & {
    value?: Record<string, unknown>[];
    error?: { code: string };
  };

describe("Graph stand-in", () => {
  it("answers 401 InvalidAuthenticationToken without a token and for an Exchange Online token", async () => {
    const none = await fetch(`${world.graph.url}/users/alice@contoso.test/calendars`);
    assert.equal(none.status, 401);
    assert.equal((await body(none)).error?.code, "InvalidAuthenticationToken");
    const imap = await get("/users/alice@contoso.test/calendars", {
      Authorization: `Bearer ${(await world.token(AUDIENCE)).accessToken}`,
    });
    assert.equal(imap.status, 401);
  });

  it("accepts a Graph token the token wing obtained from the stand-in's OAuth server (client credentials)", async () => {
    const workDir = await tempDir("graph-token-");
    const config = testConfig({
      workDir,
      grant: "client-credentials",
      authorityUrl: world.oauth.issuer,
      appId: APP_CLIENT_ID,
      appSecret: APP_CLIENT_SECRET,
      tenantId: "contoso.test",
    });
    const lines: string[] = [];
    const token = await obtainToken(config, {}, { out: (l) => lines.push(l) }, "graph");
    assert.equal(token.claims.aud, "https://graph.microsoft.com");
    assert.deepEqual(token.claims.roles, [
      "Calendars.Read",
      "Contacts.Read",
      "MailboxSettings.Read",
    ]);
    assert.match(
      lines.join("\n"),
      /New access token: an app-only token of application migration-app \(Calendars\.Read, Contacts\.Read, MailboxSettings\.Read\)/,
    );
    const r = await get("/users/alice@contoso.test/mailboxSettings", {
      Authorization: `Bearer ${token.accessToken}`,
    });
    assert.equal(r.status, 200);
    assert.equal((await body(r)).timeZone, "Romance Standard Time");
  });

  it("redeems one refresh token for both Graph and Exchange Online, one audience at a time (it rotates)", async () => {
    const cb = await callbackServer();
    let refresh: string;
    try {
      const { verifier, params } = pkce();
      const url = new URL(world.oauth.authorizeEndpoint);
      url.search = new URLSearchParams({
        client_id: PUBLIC_CLIENT_ID,
        login_hint: "admin@contoso.test",
        redirect_uri: cb.redirectUri,
        response_type: "code",
        scope: "openid offline_access https://outlook.office365.com/.default",
        state: "s",
        ...params,
      }).toString();
      void signInHeadless(url.href);
      const code = (await cb.received).get("code")!;
      const first = await postForm(world.oauth.tokenEndpoint, {
        grant_type: "authorization_code",
        client_id: PUBLIC_CLIENT_ID,
        code,
        redirect_uri: cb.redirectUri,
        code_verifier: verifier,
      });
      refresh = String(first.body.refresh_token);
    } finally {
      await cb.close();
    }
    const workDir = await tempDir("graph-refresh-");
    await writeFile(path.join(workDir, "token.refresh"), `${refresh}\n`, { mode: 0o600 });
    const config = testConfig({
      workDir,
      grant: "auth-code",
      nonInteractive: true,
      authorityUrl: world.oauth.issuer,
      appId: PUBLIC_CLIENT_ID,
      loginHint: "admin@contoso.test",
      tenantId: "contoso.test",
    });
    const io = { out: () => undefined };
    // Together, as a migration's IMAP and Graph keepers may ask: the second redeems the rotated one.
    const [graph, imap] = await Promise.all([
      obtainToken(config, {}, io, "graph"),
      obtainToken(config, {}, io, "imap"),
    ]);
    assert.equal(decodeJwt(graph.accessToken).aud, "https://graph.microsoft.com");
    assert.equal(
      graph.claims.scp,
      "Calendars.Read.Shared Contacts.Read.Shared MailboxSettings.Read",
    );
    assert.equal(decodeJwt(imap.accessToken).aud, AUDIENCE);
    assert.equal(imap.claims.scp, "IMAP.AccessAsUser.All");
    const r = await get("/users/alice@contoso.test/mailboxSettings", {
      Authorization: `Bearer ${graph.accessToken}`,
    });
    assert.equal(r.status, 200);
  });

  it("answers 403 ErrorAccessDenied for a mailbox not granted and 404 MailboxNotEnabledForRESTAPI for a user without one", async () => {
    const denied = await get("/users/bob@contoso.test/calendars");
    assert.equal(denied.status, 403);
    assert.equal((await body(denied)).error?.code, "ErrorAccessDenied");
    const none = await get("/users/nomailbox@contoso.test/calendars");
    assert.equal(none.status, 404);
    assert.equal((await body(none)).error?.code, "MailboxNotEnabledForRESTAPI");
    const unknown = await get("/users/nobody@contoso.test/calendars");
    assert.equal(unknown.status, 404);
    assert.equal((await body(unknown)).error?.code, "ErrorInvalidUser");
  });

  it("throttles busy@contoso.test twice with Retry-After, then serves it", async () => {
    for (let i = 0; i < 2; i++) {
      const r = await get("/users/busy@contoso.test/mailboxSettings");
      assert.equal(r.status, 429);
      assert.equal(r.headers.get("retry-after"), "1");
      await r.body?.cancel();
    }
    assert.equal((await get("/users/busy@contoso.test/mailboxSettings")).status, 200);
  });

  it("pages with $top and @odata.nextLink, followed verbatim", async () => {
    const names: string[] = [];
    let next: string | undefined = `${world.graph.url}/users/alice@contoso.test/calendars?$top=2`;
    let pages = 0;
    while (next) {
      const page = await body(await fetch(next, { headers: { Authorization: bearer } }));
      names.push(...page.value!.map((c) => String(c.name)));
      next = page["@odata.nextLink"] as string | undefined;
      pages++;
    }
    assert.equal(pages, 3);
    assert.deepEqual(names, [
      "Calendar",
      "Projets Été",
      "Calendrier de Bob",
      "Anniversaires",
      "Jours fériés en France",
    ]);
  });

  it("answers times in UTC, or in the zone Prefer: outlook.timezone names (echoed), and text bodies when asked", async () => {
    const path =
      "/users/alice@contoso.test/events/evt-alice-weekly/instances?startDateTime=2026-03-29T00:00:00Z&endDateTime=2026-04-01T00:00:00Z";
    const utc = (await body(await get(path))).value!;
    assert.deepEqual(
      utc.map((i) => i.start),
      [{ dateTime: "2026-03-30T07:00:00.0000000", timeZone: "UTC" }],
    );
    const r = await get(path, {
      Prefer: 'outlook.timezone="Romance Standard Time", outlook.body-content-type="text"',
    });
    assert.equal(r.headers.get("preference-applied"), 'outlook.timezone="Romance Standard Time"');
    const [instance] = (await body(r)).value!;
    assert.deepEqual(instance!.start, {
      dateTime: "2026-03-30T09:00:00.0000000",
      timeZone: "Romance Standard Time",
    });
    assert.deepEqual(instance!.body, {
      contentType: "text",
      content: "Ordre du jour : avancement, risques.",
    });
    assert.equal(instance!.originalStart, "2026-03-30T07:00:00Z");
  });

  it("refuses a fifth request in flight for one mailbox with 429 ApplicationThrottled, not another mailbox's", async () => {
    const release = world.graph.hold();
    const held = Array.from({ length: 4 }, () => get("/users/alice@contoso.test/mailboxSettings"));
    while (world.graph.inFlight("alice@contoso.test") < 4)
      await new Promise((resolve) => setTimeout(resolve, 20));
    const fifth = await get("/users/alice@contoso.test/mailboxSettings");
    assert.equal(fifth.status, 429);
    assert.equal((await body(fifth)).error?.code, "ApplicationThrottled");
    assert.ok(fifth.headers.get("retry-after"));
    const other = get("/users/carol@contoso.test/mailboxSettings");
    while (world.graph.inFlight("carol@contoso.test") < 1)
      await new Promise((resolve) => setTimeout(resolve, 20));
    release();
    for (const r of await Promise.all([...held, other])) assert.equal(r.status, 200);
  });
});
