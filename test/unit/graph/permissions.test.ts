// What check makes of each permission probe's answer, and what it tells the admin to do, by grant
// and by what the token's claims say. Expected sentences written by hand.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { GraphError } from "../../../src/graph/errors.js";
import { accessVerdict, PERMISSION_PROBES } from "../../../src/graph/permissions.js";
import { graphRequests } from "../../../src/graph/requests.js";
import { accessRemedy } from "../../../src/outcomes/remedies.js";

describe("permission probes", () => {
  it("one cheap request per permission, in the application and delegated forms", () => {
    const r = graphRequests("https://graph.example/v1.0", "zoé@contoso.test");
    assert.deepEqual(
      PERMISSION_PROBES.map((p) => `${p.kind} ${p.app} ${p.delegated} ${p.url(r)}`),
      [
        "calendar Calendars.Read Calendars.Read.Shared https://graph.example/v1.0/users/zo%C3%A9%40contoso.test/calendars?$top=1&$select=id",
        "calendar MailboxSettings.Read MailboxSettings.Read https://graph.example/v1.0/users/zo%C3%A9%40contoso.test/mailboxSettings",
        "contacts Contacts.Read Contacts.Read.Shared https://graph.example/v1.0/users/zo%C3%A9%40contoso.test/contactFolders?$top=1&$select=id",
      ],
    );
  });

  it("reads a 403 as refused, 404 MailboxNotEnabledForRESTAPI as no mailbox, another 404 as an unknown user, the rest as no verdict", () => {
    const e = (cls: ConstructorParameters<typeof GraphError>[0], status?: number, code?: string) =>
      new GraphError(cls, "GET /users/x/calendars", { status, code });
    assert.equal(accessVerdict(e("not_delegated", 403, "ErrorAccessDenied")), "refused");
    assert.equal(
      accessVerdict(e("mailbox_not_enabled", 404, "MailboxNotEnabledForRESTAPI")),
      "no_mailbox",
    );
    assert.equal(accessVerdict(e("other", 404)), "unknown_user");
    assert.equal(accessVerdict(e("throttled", 429, "ApplicationThrottled")), "unanswered");
    assert.equal(accessVerdict(e("connect_failed_source")), "unanswered");
    assert.equal(accessVerdict(new Error("socket hang up")), "unanswered");
  });
});

describe("what to do about a permission not granted", () => {
  const c = { mailbox: "zoé@contoso.test", said: "403 ErrorAccessDenied" };
  it("a delegated token: the scope it lacks, or the sharing the mailbox's owner must do", () => {
    assert.equal(
      accessRemedy("refused", {
        ...c,
        permission: "Contacts.Read.Shared",
        appOnly: false,
        inToken: false,
      }),
      "Microsoft Graph refused Contacts.Read.Shared on zoé@contoso.test (403 ErrorAccessDenied): the token's scopes lack it: add the delegated permission Contacts.Read.Shared with admin consent, then sign in again (`token`).",
    );
    assert.equal(
      accessRemedy("refused", {
        ...c,
        permission: "Contacts.Read.Shared",
        appOnly: false,
        inToken: true,
      }),
      "Microsoft Graph refused Contacts.Read.Shared on zoé@contoso.test (403 ErrorAccessDenied): the mailbox's owner must share its calendars and contact folders with the admin (FullAccess alone may not be enough for Graph); for a migration prefer GRANT=client-credentials.",
    );
  });

  it("an opaque app token: both the permission and the access policy, since its roles cannot be read", () => {
    assert.equal(
      accessRemedy("refused", {
        ...c,
        permission: "Calendars.Read",
        appOnly: true,
        inToken: undefined,
      }),
      "Microsoft Graph refused Calendars.Read on zoé@contoso.test (403 ErrorAccessDenied): give the app the application permission Calendars.Read (Microsoft Graph) and grant admin consent, then get a new token (`token`); if the app has it, an Exchange application access policy or RBAC for Applications scope leaves zoé@contoso.test out (Test-ApplicationAccessPolicy -Identity zoé@contoso.test -AppId <app>).",
    );
    assert.match(
      accessRemedy("no_mailbox", {
        ...c,
        permission: "Calendars.Read",
        appOnly: true,
        inToken: true,
      }),
      /^Microsoft Graph says zoé@contoso\.test has no Exchange Online mailbox it can read \(MailboxNotEnabledForRESTAPI\)/,
    );
  });
});
