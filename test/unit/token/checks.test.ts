// What a token's claims say before any imapsync run: refused with reason and fix, or warned.
import { unsignedJwt } from "../../helpers/jwt.js";
import { TENANT } from "../../helpers/constants.js";
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  checkGraphToken,
  checkToken,
  GRAPH_APP_ID,
  refusalMessage,
} from "../../../src/token/checks.js";
import { toStoredToken } from "../../../src/token/claims.js";
import { mintAccessToken } from "../../doubles/entra.js";

const ADMIN = "admin@contoso.com";
const now = new Date();
const expect = { now, loginHint: ADMIN, tenantId: TENANT, marginMs: 15 * 60_000 };

function claimsToken(payload: Record<string, unknown>) {
  const exp = Math.floor(now.getTime() / 1000) + 3600;
  return toStoredToken({ access_token: unsignedJwt({ exp, ...payload }) }, now);
}

describe("token checks", () => {
  it("accepts a delegated Exchange token of the admin, and says whose it is", () => {
    const t = toStoredToken(
      { access_token: mintAccessToken({ tid: TENANT, appId: "a", ttlSec: 3600, upn: ADMIN }) },
      now,
    );
    const v = checkToken(t, expect);
    assert.deepEqual(v.refusals, []);
    assert.deepEqual(v.warnings, []);
    assert.match(
      v.summary,
      // The token is minted a moment after `now`: 3600 s ahead of its own second, 59 or 60 min.
      /^a delegated token of admin@contoso\.com \(IMAP\.AccessAsUser\.All\) that expires at .* \(in (59|60) min\)$/,
    );
  });

  it("refuses a Microsoft Graph token with the fix, by app id or by URL", () => {
    for (const aud of [GRAPH_APP_ID, "https://graph.microsoft.com"]) {
      const v = checkToken(
        claimsToken({ aud, upn: ADMIN, scp: "IMAP.AccessAsUser.All", tid: TENANT }),
        expect,
      );
      assert.equal(v.refusals.length, 1, aud);
      assert.match(
        v.refusals[0]!,
        /audience is Microsoft Graph .*request only https:\/\/outlook\.office365\.com\/\.default/,
      );
      assert.match(refusalMessage(v, "in x"), /^The access token in x cannot work for IMAP/);
    }
  });

  it("refuses another audience, a token without IMAP permission, another tenant, an expired one", () => {
    const other = checkToken(
      claimsToken({ aud: "api://something", upn: ADMIN, scp: "IMAP.AccessAsUser.All" }),
      expect,
    );
    assert.match(other.refusals.join(), /is for api:\/\/something, not for Exchange Online/);
    const noScope = checkToken(
      claimsToken({ aud: "https://outlook.office.com", upn: ADMIN, scp: "Mail.Read" }),
      expect,
    );
    assert.match(
      noScope.refusals.join(),
      /grants "Mail\.Read" but not IMAP\.AccessAsUser\.All.*delegated permission/,
    );
    const noRole = checkToken(
      claimsToken({ aud: "https://outlook.office365.com", roles: ["Mail.Read"] }),
      { ...expect, appOnly: true },
    );
    assert.match(
      noRole.refusals.join(),
      /roles Mail\.Read but not IMAP\.AccessAsApp.*application permission/,
    );
    const tenant = checkToken(
      claimsToken({
        aud: "https://outlook.office365.com",
        upn: ADMIN,
        scp: "IMAP.AccessAsUser.All",
        tid: "99999999-2222-3333-4444-555555555555",
      }),
      expect,
    );
    assert.match(tenant.refusals.join(), /issued by tenant 9999.*not by TENANT_ID/);
    // A domain name cannot be compared with a tenant id offline: no refusal then.
    assert.deepEqual(
      checkToken(
        claimsToken({
          aud: "https://outlook.office365.com/",
          upn: ADMIN,
          scp: "IMAP.AccessAsUser.All",
          tid: "x",
        }),
        { ...expect, tenantId: "contoso.com" },
      ).refusals,
      [],
    );
    const expired = toStoredToken(
      { access_token: mintAccessToken({ tid: TENANT, appId: "a", ttlSec: -5, upn: ADMIN }) },
      now,
    );
    assert.match(checkToken(expired, expect).refusals.join(), /expired at/);
  });

  it("warns about another user, an app token for a delegated grant, a token inside the margin", () => {
    const someone = checkToken(
      claimsToken({
        aud: "https://outlook.office365.com",
        upn: "eve@contoso.com",
        scp: "IMAP.AccessAsUser.All",
        tid: TENANT,
      }),
      expect,
    );
    assert.deepEqual(someone.refusals, []);
    assert.match(
      someone.warnings.join(),
      /belongs to eve@contoso\.com, not to LOGIN_HINT admin@contoso\.com/,
    );
    const app = checkToken(
      claimsToken({
        aud: "https://outlook.office365.com",
        roles: ["IMAP.AccessAsApp"],
        appid: "app-1",
      }),
      expect,
    );
    assert.deepEqual(app.refusals, []);
    assert.match(app.summary, /app-only token of application app-1 \(IMAP\.AccessAsApp\)/);
    assert.match(app.warnings.join(), /service principal/);
    const short = toStoredToken(
      { access_token: mintAccessToken({ tid: TENANT, appId: "a", ttlSec: 300, upn: ADMIN }) },
      now,
    );
    assert.match(checkToken(short, expect).warnings.join(), /within the renewal margin/);
  });

  it("accepts an opaque token with a warning, its expiry from expires_in", () => {
    const t = toStoredToken({ access_token: "EwBwA8l6BAAUopaque", expires_in: 3600 }, now);
    const v = checkToken(t, expect);
    assert.deepEqual(v.refusals, []);
    assert.match(v.warnings.join(), /not a JWT.*expires_in/);
    assert.equal(t.expiresAt.getTime(), now.getTime() + 3_600_000);
  });
});

describe("Microsoft Graph token checks", () => {
  it("accepts an app-only Graph token with the three application permissions", () => {
    const t = claimsToken({
      aud: "https://graph.microsoft.com",
      roles: ["Calendars.Read", "Contacts.Read", "MailboxSettings.Read"],
      appid: "app",
    });
    const v = checkGraphToken(t, expect);
    assert.deepEqual(v.refusals, []);
    assert.deepEqual(v.warnings, []);
    assert.match(
      v.summary,
      /^an app-only token of application app \(Calendars\.Read, Contacts\.Read, MailboxSettings\.Read\)/,
    );
  });

  it("accepts a delegated Graph token (by Graph's app id) with the .Shared scopes", () => {
    const t = claimsToken({
      aud: GRAPH_APP_ID,
      upn: ADMIN,
      scp: "Calendars.Read.Shared Contacts.Read.Shared MailboxSettings.Read User.Read",
    });
    assert.deepEqual(checkGraphToken(t, expect).refusals, []);
  });

  it("refuses an Exchange Online token, and one without any calendar or contacts permission", () => {
    const imap = claimsToken({
      aud: "https://outlook.office365.com",
      upn: ADMIN,
      scp: "IMAP.AccessAsUser.All",
    });
    const v = checkGraphToken(imap, expect);
    assert.equal(v.refusals.length, 2);
    assert.match(
      v.refusals[0]!,
      /not for Microsoft Graph .* request the scope https:\/\/graph\.microsoft\.com\/\.default/,
    );
    assert.match(
      v.refusals[1]!,
      /none of the Microsoft Graph delegated permissions Calendars\.Read\.Shared, Contacts\.Read\.Shared, MailboxSettings\.Read/,
    );
  });

  it("warns, without refusing, when one permission is missing", () => {
    const t = claimsToken({
      aud: "https://graph.microsoft.com",
      roles: ["Calendars.Read", "MailboxSettings.Read"],
    });
    const v = checkGraphToken(t, expect);
    assert.deepEqual(v.refusals, []);
    assert.deepEqual(v.warnings, [
      "The token lacks the Microsoft Graph application permission Contacts.Read: the parts that need it will fail (not_delegated) until it is added with admin consent.",
    ]);
  });
});
