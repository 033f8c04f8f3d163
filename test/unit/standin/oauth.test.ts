// The stand-in's OAuth server: every grant the tool uses, token shape, lifetime, introspection.
import { waitFor } from "../../helpers/env.js";
import { callbackServer, pkce, postForm } from "../../helpers/oauth-flows.js";
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { decodeJwt } from "jose";
import {
  APP_CLIENT_ID,
  APP_CLIENT_SECRET,
  AUDIENCE,
  PUBLIC_CLIENT_ID,
  signInHeadless,
  startOAuthServer,
  type OAuthServer,
} from "../../../scripts/standin/oauth-server.js";

const SCOPE = `${AUDIENCE}/.default offline_access`;

describe("stand-in OAuth server", () => {
  let oauth: OAuthServer;
  before(async () => {
    oauth = await startOAuthServer({ tokenTtlSec: 600 });
  });
  after(() => oauth.stop());

  it("publishes OIDC discovery under an Entra-shaped issuer", async () => {
    assert.match(oauth.issuer, /^http:\/\/127\.0\.0\.1:\d+\/contoso\.test\/v2\.0$/);
    const meta = (await (
      await fetch(`${oauth.issuer}/.well-known/openid-configuration`)
    ).json()) as Record<string, unknown>;
    assert.equal(meta.issuer, oauth.issuer);
    assert.equal(meta.authorization_endpoint, oauth.authorizeEndpoint);
    assert.equal(meta.token_endpoint, oauth.tokenEndpoint);
    assert.equal(meta.device_authorization_endpoint, oauth.deviceEndpoint);
    assert.equal(meta.jwks_uri, oauth.jwksUrl);
  });

  it("client credentials: an app token with roles, introspected under the client id", async () => {
    const { status, body } = await postForm(oauth.tokenEndpoint, {
      grant_type: "client_credentials",
      client_id: APP_CLIENT_ID,
      client_secret: APP_CLIENT_SECRET,
      scope: `${AUDIENCE}/.default`,
    });
    assert.equal(status, 200, JSON.stringify(body));
    const claims = decodeJwt(String(body.access_token));
    assert.equal(claims.aud, AUDIENCE);
    assert.deepEqual(claims.roles, ["IMAP.AccessAsApp"]);
    assert.equal(claims.upn, undefined);
    assert.equal(body.expires_in, 600);
    const intro = await postForm(oauth.introspectionUrl, { token: String(body.access_token) });
    assert.equal(intro.body.active, true);
    assert.equal(intro.body.upn, APP_CLIENT_ID);
  });

  it("client credentials with a wrong secret is refused", async () => {
    const { status, body } = await postForm(oauth.tokenEndpoint, {
      grant_type: "client_credentials",
      client_id: APP_CLIENT_ID,
      client_secret: "wrong",
      scope: `${AUDIENCE}/.default`,
    });
    assert.equal(status, 401);
    assert.equal(body.error, "invalid_client");
  });

  it("implicit: form_post page with a delegated token for login_hint, no person needed", async () => {
    const cb = await callbackServer();
    try {
      const url = new URL(oauth.authorizeEndpoint);
      for (const [k, v] of Object.entries({
        client_id: PUBLIC_CLIENT_ID,
        login_hint: "admin@contoso.test",
        redirect_uri: cb.redirectUri,
        response_mode: "form_post",
        response_type: "token",
        scope: `${AUDIENCE}/.default`,
        state: "s1",
        nonce: "n1",
      }))
        url.searchParams.set(k, v);
      const final = await signInHeadless(url.href);
      assert.match(final.body, /Authorization succeeded/);
      const fields = await cb.received;
      assert.equal(fields.get("state"), "s1");
      const claims = decodeJwt(fields.get("access_token")!);
      assert.equal(claims.upn, "admin@contoso.test");
      assert.equal(claims.scp, "IMAP.AccessAsUser.All");
      assert.equal(claims.aud, AUDIENCE);
      assert.equal(fields.get("expires_in"), "600");
      assert.ok(await oauth.verify(fields.get("access_token")!));
    } finally {
      await cb.close();
    }
  });

  it("implicit for an app without implicit tokens answers AADSTS700054 through the form", async () => {
    const cb = await callbackServer();
    try {
      const url = new URL(oauth.authorizeEndpoint);
      url.search = new URLSearchParams({
        client_id: "no-implicit-app",
        redirect_uri: "http://localhost:9876/callback".replace(
          "9876",
          new URL(cb.redirectUri).port,
        ),
        response_mode: "form_post",
        response_type: "token",
        state: "s2",
      }).toString();
      await signInHeadless(url.href);
      const fields = await cb.received;
      assert.equal(fields.get("error"), "unsupported_response_type");
      assert.match(fields.get("error_description")!, /AADSTS700054/);
    } finally {
      await cb.close();
    }
  });

  it("authorization code + PKCE, then refresh with rotation", async () => {
    const cb = await callbackServer();
    try {
      const { verifier, params } = pkce();
      const url = new URL(oauth.authorizeEndpoint);
      url.search = new URLSearchParams({
        client_id: PUBLIC_CLIENT_ID,
        login_hint: "alice@contoso.test",
        redirect_uri: cb.redirectUri,
        response_type: "code",
        scope: `openid ${SCOPE}`,
        state: "s3",
        ...params,
        prompt: "consent",
      }).toString();
      void signInHeadless(url.href);
      const query = await cb.received;
      assert.equal(query.get("state"), "s3", query.toString());
      const code = query.get("code")!;
      const first = await postForm(oauth.tokenEndpoint, {
        grant_type: "authorization_code",
        client_id: PUBLIC_CLIENT_ID,
        code,
        redirect_uri: cb.redirectUri,
        code_verifier: verifier,
      });
      assert.equal(first.status, 200, JSON.stringify(first.body));
      assert.equal(decodeJwt(String(first.body.access_token)).upn, "alice@contoso.test");
      assert.equal(decodeJwt(String(first.body.access_token)).aud, AUDIENCE);
      const refresh = String(first.body.refresh_token);
      const second = await postForm(oauth.tokenEndpoint, {
        grant_type: "refresh_token",
        client_id: PUBLIC_CLIENT_ID,
        refresh_token: refresh,
      });
      assert.equal(second.status, 200, JSON.stringify(second.body));
      assert.notEqual(second.body.refresh_token, refresh, "rotated");
      assert.equal(decodeJwt(String(second.body.access_token)).upn, "alice@contoso.test");
      const reused = await postForm(oauth.tokenEndpoint, {
        grant_type: "refresh_token",
        client_id: PUBLIC_CLIENT_ID,
        refresh_token: refresh,
      });
      assert.equal(reused.body.error, "invalid_grant");
    } finally {
      await cb.close();
    }
  });

  it("device code: pending, then a token once the headless browser confirmed", async () => {
    const start = await postForm(oauth.deviceEndpoint, {
      client_id: PUBLIC_CLIENT_ID,
      scope: SCOPE,
    });
    assert.equal(start.status, 200, JSON.stringify(start.body));
    const poll = () =>
      postForm(oauth.tokenEndpoint, {
        grant_type: "urn:ietf:params:oauth:grant-type:device_code",
        client_id: PUBLIC_CLIENT_ID,
        device_code: String(start.body.device_code),
      });
    assert.equal((await poll()).body.error, "authorization_pending");
    const page = await signInHeadless(String(start.body.verification_uri_complete));
    assert.match(page.body, /Signed in/);
    const done = await poll();
    assert.equal(done.status, 200, JSON.stringify(done.body));
    assert.equal(decodeJwt(String(done.body.access_token)).upn, "admin@contoso.test");
  });

  it("approveDeviceCodes: the default account signs every device code in by itself", async () => {
    const auto = await startOAuthServer({
      approveDeviceCodes: true,
      defaultAccount: "admin@contoso.test",
    });
    try {
      const start = await postForm(auto.deviceEndpoint, {
        client_id: PUBLIC_CLIENT_ID,
        scope: SCOPE,
      });
      assert.equal(start.status, 200, JSON.stringify(start.body));
      let done: Awaited<ReturnType<typeof postForm>> | undefined;
      await waitFor(
        async () => {
          done = await postForm(auto.tokenEndpoint, {
            grant_type: "urn:ietf:params:oauth:grant-type:device_code",
            client_id: PUBLIC_CLIENT_ID,
            device_code: String(start.body.device_code),
          });
          return done.status === 200;
        },
        30_000,
        "the device code approved without anyone",
      );
      assert.equal(decodeJwt(String(done!.body.access_token)).upn, "admin@contoso.test");
    } finally {
      await auto.stop();
    }
  });

  it("lifetime configurable down to seconds; expired tokens introspect inactive", async () => {
    // A loaded machine may take over a second between minting and introspecting: "active" is
    // asserted on a token that cannot have expired yet, and the 1-second one is polled until it
    // turns inactive, which must not happen before its exp.
    const live = await oauth.mint({ upn: "admin@contoso.test" });
    assert.equal((await postForm(oauth.introspectionUrl, { token: live })).body.active, true);
    oauth.setTokenTtl(1);
    try {
      const token = await oauth.mint({ upn: "admin@contoso.test" });
      const claims = decodeJwt(token);
      assert.equal(claims.exp! - claims.iat!, 1);
      const deadline = Date.now() + 30_000;
      while ((await postForm(oauth.introspectionUrl, { token })).body.active !== false) {
        assert.ok(Date.now() < deadline, "the 1-second token still introspects active after 30 s");
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(Date.now() / 1000 >= claims.exp! - 0.05, "inactive before its exp");
    } finally {
      oauth.setTokenTtl(600);
    }
  });

  it("introspection refuses a token signed by someone else", async () => {
    const other = await startOAuthServer();
    try {
      const foreign = await other.mint({ upn: "admin@contoso.test" });
      const intro = await postForm(oauth.introspectionUrl, { token: foreign });
      assert.deepEqual(intro.body, { active: false });
    } finally {
      await other.stop();
    }
  });
});
