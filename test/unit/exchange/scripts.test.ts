// The Exchange Online PowerShell of `grants` and `check`: exact lines, quoting, the files.
import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, it } from "node:test";
import {
  exchangeScripts,
  grantLine,
  psQuote,
  revokeLine,
  graphPermissions,
} from "../../../src/exchange/scripts.js";
import { runCli, tempDir } from "../../helpers/env.js";

const ADMIN = { kind: "admin", address: "admin@contoso.com" } as const;
const APP = { kind: "app", appId: "66666666-7777-8888-9999-000000000000" } as const;

describe("PowerShell for Exchange Online", () => {
  it("quotes with single quotes, doubling every kind of quote PowerShell takes for one", () => {
    assert.equal(psQuote("o'brien@contoso.com"), "'o''brien@contoso.com'");
    assert.equal(psQuote("rené’s@contoso.com"), "'rené’’s@contoso.com'");
    assert.equal(psQuote("‘a‚b‛"), "'‘‘a‚‚b‛‛'");
    // $ and backticks mean nothing inside single quotes: left alone.
    assert.equal(psQuote("$x`y@contoso.com"), "'$x`y@contoso.com'");
    assert.equal(psQuote("Élodie.Müller@contoso.com"), "'Élodie.Müller@contoso.com'");
  });

  it("writes the exact grant line for the admin and for the app's service principal", () => {
    assert.equal(
      grantLine("o'brien@contoso.com", ADMIN),
      "Add-MailboxPermission -Identity 'o''brien@contoso.com' -User 'admin@contoso.com' -AccessRights FullAccess -InheritanceType All -AutoMapping $false",
    );
    assert.equal(
      grantLine("alice@contoso.com", APP),
      "Add-MailboxPermission -Identity 'alice@contoso.com' -User $ServicePrincipal.Identity -AccessRights FullAccess -InheritanceType All",
    );
    assert.match(
      revokeLine("alice@contoso.com", ADMIN),
      /^Remove-MailboxPermission .* -Confirm:\$false$/,
    );
  });

  it("grants to and revokes from exactly the listed mailboxes, each on its own", () => {
    const mailboxes = ["alice@contoso.com", "o'brien@contoso.com"];
    const { grant, revoke } = exchangeScripts(mailboxes, APP);
    assert.equal(
      grant.match(/^ {2}Set-CASMailbox -Identity '.*' -ImapEnabled \$true\r$/gm)?.length,
      2,
    );
    assert.equal(grant.match(/^ {2}Add-MailboxPermission /gm)?.length, 2);
    assert.equal(revoke.match(/^ {2}Remove-MailboxPermission /gm)?.length, 2);
    assert.ok(!revoke.includes("Add-MailboxPermission"));
    assert.match(
      grant,
      /^\$ServicePrincipal = Get-ServicePrincipal -Identity '66666666-7777-8888-9999-000000000000'\r$/m,
    );
    assert.equal(grant.match(/^try \{\r$/gm)?.length, 2);
    // Every quote outside comments is balanced: an odd count would be a broken string.
    for (const line of grant.split("\r\n").filter((l) => !l.startsWith("#")))
      assert.equal((line.match(/'/g) ?? []).length % 2, 0, line);
  });

  it("grants --users writes both scripts (UTF-8 with BOM) for the configured admin", async () => {
    const dir = await tempDir();
    const users = path.join(dir, "users.csv");
    await writeFile(
      users,
      'source\nalice@contoso.com\n"o\'brien@contoso.com"\nÉlodie@contoso.com\n',
    );
    const run = await runCli(["grants", "--users", users, "--out", path.join(dir, "ps")], {
      cwd: dir,
      env: { LOGIN_HINT: "admin@contoso.com" },
    });
    assert.equal(run.exitCode, 0, run.stderr);
    assert.match(run.stdout, /3 mailboxes .*FullAccess for admin@contoso\.com/);
    const grant = await readFile(path.join(dir, "ps", "exchange-grant-access.ps1"), "utf8");
    assert.ok(grant.startsWith("\uFEFF# Before the migration"));
    assert.ok(grant.includes("-Identity 'Élodie@contoso.com' -User 'admin@contoso.com'"));
    assert.ok(grant.includes("'o''brien@contoso.com'"));
    const revoke = await readFile(path.join(dir, "ps", "exchange-remove-access.ps1"), "utf8");
    assert.equal(revoke.match(/Remove-MailboxPermission/g)?.length, 3);

    const noAdmin = await runCli(["grants", "--users", users], { cwd: dir, env: {} });
    assert.equal(noAdmin.exitCode, 2);
    assert.match(noAdmin.stderr, /LOGIN_HINT: is not set/);
  });
});

describe("graphPermissions", () => {
  it("application permissions for client credentials, delegated .Shared ones otherwise", () => {
    const [app] = graphPermissions("client-credentials");
    assert.match(
      app!,
      /Application permissions: Calendars\.Read, Contacts\.Read, MailboxSettings\.Read; then Grant admin consent/,
    );
    const [delegated] = graphPermissions("auth-code");
    assert.match(
      delegated!,
      /Delegated permissions: Calendars\.Read\.Shared, Contacts\.Read\.Shared, MailboxSettings\.Read, offline_access/,
    );
    assert.ok(graphPermissions("implicit").some((line) => /second sign-in/.test(line)));
    assert.ok(!graphPermissions("device-code").some((line) => /second sign-in/.test(line)));
  });

  it("grants with calendar or contacts selected writes them beside the scripts; mail alone, nothing", async () => {
    const dir = await tempDir("grants-graph-");
    const users = path.join(dir, "users.csv");
    await writeFile(users, "source,destination\nalice@contoso.com,alice@example.net\n");
    const env = { GRANT: "client-credentials", APP_ID: APP.appId };
    const out = path.join(dir, "ps");
    const run = await runCli(
      ["grants", "--users", users, "--out", out, "--items", "mail,calendar"],
      { cwd: dir, env },
    );
    assert.equal(run.exitCode, 0, run.stderr);
    assert.match(
      run.stdout,
      /Calendars and contacts \(ITEMS=mail,calendar\), GRANT=client-credentials: .*graph-permissions\.txt/,
    );
    const text = await readFile(path.join(out, "graph-permissions.txt"), "utf8");
    assert.match(
      text,
      /^Microsoft Graph, Application permissions: Calendars\.Read, Contacts\.Read, MailboxSettings\.Read/,
    );
    const mailOnly = await runCli(["grants", "--users", users, "--out", path.join(dir, "m")], {
      cwd: dir,
      env,
    });
    assert.doesNotMatch(mailOnly.stdout, /Calendars and contacts/);
  });
});
