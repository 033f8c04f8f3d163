// The grants' building blocks: oauth2c argv per grant and release, the device user code dug out
// of oauth2c's log, and the in-process grants against a real local OAuth server (oidc-provider).
import { callbackServer, pkce, postForm } from "../../helpers/oauth-flows.js";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import {
  APP_CLIENT_ID,
  APP_CLIENT_SECRET,
  PUBLIC_CLIENT_ID,
  signInHeadless,
  startOAuthServer,
  type OAuthServer,
} from "../../../scripts/standin/oauth-server.js";
import { TokenError } from "../../../src/errors.js";
import { clientCredentialsGrant, refreshGrant } from "../../../src/token/oauth-client.js";
import { authCodeArgs, deviceCodeArgs } from "../../../src/token/oauth2c/args.js";
import { isTransient } from "../../../src/token/entra.js";
import { Oauth2cStderrScanner, oauth2cFeatures } from "../../../src/token/oauth2c/output.js";
import { FIXTURES } from "../../helpers/env.js";
import { freePort } from "../../../scripts/standin/ports.js";

const ISSUER = "https://login.microsoftonline.com/contoso.com/v2.0";

describe("oauth2c per grant", () => {
  it("knows which releases take --callback-addr and --no-origin", () => {
    assert.deepEqual(oauth2cFeatures("v1.19.0-4-g9db96f9"), { callbackAddr: true, noOrigin: true });
    assert.deepEqual(oauth2cFeatures("v1.18.0"), { callbackAddr: false, noOrigin: true });
    assert.deepEqual(oauth2cFeatures("v1.17.2-5-gceef823"), {
      callbackAddr: false,
      noOrigin: false,
    });
    assert.deepEqual(oauth2cFeatures("1.20.1"), { callbackAddr: true, noOrigin: true });
  });

  it("auth-code: PKCE, public client, offline_access, form_post, never a secret", () => {
    const args = authCodeArgs({
      authorityUrl: ISSUER,
      appId: "app",
      loginHint: "admin@contoso.com",
      callbackPort: 9876,
      callbackAddr: "0.0.0.0:9876",
      browserTimeoutSec: 60,
      openBrowser: false,
      noOrigin: true,
    });
    const flag = (name: string) => args[args.indexOf(name) + 1];
    assert.equal(flag("--grant-type"), "authorization_code");
    assert.equal(flag("--auth-method"), "none");
    assert.equal(flag("--response-mode"), "form_post");
    assert.equal(flag("--response-types"), "code");
    assert.match(flag("--scopes")!, /offline_access/);
    assert.equal(flag("--callback-addr"), "0.0.0.0:9876");
    for (const f of ["--pkce", "--no-origin", "--no-prompt", "--no-browser"])
      assert.ok(args.includes(f), f);
    assert.ok(!args.some((a) => /secret/.test(a)));
  });

  it("device-code: not silent (the user code is only in the log), no-origin only where known", () => {
    const args = deviceCodeArgs({
      authorityUrl: ISSUER,
      appId: "app",
      noOrigin: false,
      openBrowser: true,
    });
    assert.ok(
      !args.includes("--silent") && !args.includes("--no-origin") && !args.includes("--no-browser"),
    );
    assert.equal(
      args[args.indexOf("--grant-type") + 1],
      "urn:ietf:params:oauth:grant-type:device_code",
    );
    assert.equal(args[args.indexOf("--auth-method") + 1], "none");
  });

  it("finds Entra's user code in the recorded device log, chunk by chunk, and the URL after it", async () => {
    const stderr = await readFile(path.join(FIXTURES, "oauth2c", "entra_device_normal.stderr"));
    for (const size of [7, 100, stderr.length]) {
      const scanner = new Oauth2cStderrScanner();
      for (let i = 0; i < stderr.length; i += size) scanner.push(stderr.subarray(i, i + size));
      scanner.end();
      assert.equal(scanner.userCode, "ABCD1234");
      assert.equal(scanner.url, "https://microsoft.com/devicelogin");
    }
    // In silent mode there is no code to find: a person could not complete the sign-in.
    const silent = new Oauth2cStderrScanner();
    silent.push(
      await readFile(path.join(FIXTURES, "oauth2c", "entra_device_nobrowserflag_silent.stderr")),
    );
    silent.end();
    assert.equal(silent.userCode, undefined);
  });

  it("tells failures that pass from those a person must fix", () => {
    for (const m of [
      "timeout",
      'Get "x": dial tcp 1.2.3.4:443: connect: connection refused',
      "503: temporarily_unavailable",
    ])
      assert.ok(isTransient(m), m);
    for (const m of [
      "400: invalid_grant",
      "401: invalid_client",
      "access_denied",
      "unsupported_response_type",
    ])
      assert.ok(!isTransient(m), m);
  });
});

describe("in-process grants against oidc-provider", { timeout: 60_000 }, () => {
  let oauth: OAuthServer;
  before(async () => {
    oauth = await startOAuthServer({ tokenTtlSec: 600 });
  });
  after(() => oauth.stop());

  it("client credentials: an app token; a wrong secret is refused for good, in the server's words", async () => {
    const a = { authorityUrl: oauth.issuer, appId: APP_CLIENT_ID };
    const token = await clientCredentialsGrant(a, APP_CLIENT_SECRET);
    assert.ok(await oauth.verify(token.access_token));
    assert.equal(token.expires_in, 600);
    await assert.rejects(clientCredentialsGrant(a, "wrong"), (e: unknown) => {
      assert.ok(e instanceof TokenError && !e.transient);
      assert.match(e.message, /\(401: invalid_client\)\. Check APP_ID and APP_SECRET/);
      assert.ok(!e.message.includes("wrong"));
      return true;
    });
  });

  it("refresh: rotates; the spent token is refused (invalid_grant), an unreachable server is transient", async () => {
    const first = await codeFlowRefreshToken(oauth);
    const a = { authorityUrl: oauth.issuer, appId: PUBLIC_CLIENT_ID };
    const second = await refreshGrant(a, first);
    assert.ok(second.refresh_token && second.refresh_token !== first, "rotated");
    assert.equal((await oauth.verify(second.access_token))?.upn, "admin@contoso.test");
    await assert.rejects(refreshGrant(a, first), (e: unknown) => {
      assert.ok(e instanceof TokenError && !e.transient);
      assert.match(e.message, /\(400: invalid_grant\).*sign in again/);
      assert.ok(!e.message.includes(first));
      return true;
    });
    const nowhere = { authorityUrl: `http://127.0.0.1:${await freePort()}/t/v2.0`, appId: "x" };
    await assert.rejects(
      refreshGrant(nowhere, "rt"),
      (e: unknown) => e instanceof TokenError && e.transient,
    );
  });
});

/** A refresh token from a real authorization code sign-in (the headless browser signs in). */
async function codeFlowRefreshToken(oauth: OAuthServer): Promise<string> {
  const cb = await callbackServer();
  const redirectUri = cb.redirectUri;
  const { verifier, params } = pkce();
  const url = new URL(oauth.authorizeEndpoint);
  url.search = new URLSearchParams({
    client_id: PUBLIC_CLIENT_ID,
    login_hint: "admin@contoso.test",
    redirect_uri: redirectUri,
    response_type: "code",
    response_mode: "form_post",
    scope: "openid offline_access https://outlook.office365.com/.default",
    ...params,
  }).toString();
  void signInHeadless(url.href);
  const code = (await cb.received).get("code") ?? "";
  await cb.close();
  const { body } = await postForm(oauth.tokenEndpoint, {
    grant_type: "authorization_code",
    client_id: PUBLIC_CLIENT_ID,
    code,
    redirect_uri: redirectUri,
    code_verifier: verifier,
  });
  assert.ok(typeof body.refresh_token === "string", JSON.stringify(body));
  return body.refresh_token;
}
