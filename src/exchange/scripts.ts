// Exchange Online PowerShell for the temporary set-up of a migration (microsoft-365.md §4, §5):
// IMAP on, FullAccess for whoever the token belongs to, and the script that takes FullAccess back.

import type { Config } from "../config/types.js";

/** Who opens the mailboxes: the admin who signs in, or the app's Exchange service principal. */
export type Principal = { kind: "admin"; address: string } | { kind: "app"; appId: string };

/** Who gets FullAccess: the admin who signs in, or the app's service principal. */
export function principalOf(
  config: Pick<Config, "grant" | "appId" | "loginHint">,
): Principal | undefined {
  if (config.grant === "client-credentials")
    return config.appId ? { kind: "app", appId: config.appId } : undefined;
  return config.loginHint ? { kind: "admin", address: config.loginHint } : undefined;
}

/**
 * A PowerShell single-quoted string. Inside one, only a quote is special and it is written twice;
 * PowerShell also takes the typographic quotes ‘ ’ ‚ ‛ for quotes, so they are doubled too.
 */
export function psQuote(text: string): string {
  return `'${text.replace(/['\u2018\u2019\u201a\u201b]/g, (q) => q + q)}'`;
}

/** The service principal is looked up once, by application id, at the top of each script. */
const SP_VARIABLE = "$ServicePrincipal";

function userArgument(p: Principal): string {
  return p.kind === "admin" ? psQuote(p.address) : `${SP_VARIABLE}.Identity`;
}

/** The grant line for one mailbox; `check` prints it for every mailbox found not delegated. */
export function grantLine(mailbox: string, p: Principal): string {
  // AutoMapping would add every mailbox to the admin's Outlook; it does not apply to an app.
  const autoMapping = p.kind === "admin" ? " -AutoMapping $false" : "";
  return `Add-MailboxPermission -Identity ${psQuote(mailbox)} -User ${userArgument(p)} -AccessRights FullAccess -InheritanceType All${autoMapping}`;
}

export function revokeLine(mailbox: string, p: Principal): string {
  return `Remove-MailboxPermission -Identity ${psQuote(mailbox)} -User ${userArgument(p)} -AccessRights FullAccess -InheritanceType All -Confirm:$false`;
}

export function enableImapLine(mailbox: string): string {
  return `Set-CASMailbox -Identity ${psQuote(mailbox)} -ImapEnabled $true`;
}

function header(purpose: string, p: Principal): string[] {
  const lines = [
    `# ${purpose}`,
    "# Written by m365-imapsync. Run it in Exchange Online PowerShell, signed in as an Exchange",
    "# administrator:  Connect-ExchangeOnline -UserPrincipalName <admin>;  then  & <this file>",
    "$ErrorActionPreference = 'Stop'",
  ];
  if (p.kind === "app")
    lines.push(
      "# The app's service principal must be registered in Exchange first (once):",
      "#   New-ServicePrincipal -AppId <APP_ID> -ServiceId <Object ID of the Enterprise application>",
      `${SP_VARIABLE} = Get-ServicePrincipal -Identity ${psQuote(p.appId)}`,
    );
  return lines;
}

/** Each mailbox on its own, so one that fails (unknown address) does not stop the others. */
function perMailbox(mailbox: string, commands: string[]): string[] {
  return [
    "try {",
    ...commands.map((c) => `  ${c}`),
    `  Write-Host ('done: ' + ${psQuote(mailbox)})`,
    "} catch {",
    `  Write-Warning ('failed: ' + ${psQuote(mailbox)} + ': ' + $_)`,
    "}",
  ];
}

/** The two scripts, as text with CRLF line ends (Windows PowerShell reads them either way). */
export function exchangeScripts(
  mailboxes: string[],
  p: Principal,
): { grant: string; revoke: string } {
  const who = p.kind === "admin" ? p.address : `the service principal of app ${p.appId}`;
  const grant = [
    ...header(
      `Before the migration: enable IMAP and give ${who} FullAccess on ${mailboxes.length} mailboxes (it takes a few minutes to apply).`,
      p,
    ),
    ...mailboxes.flatMap((m) => perMailbox(m, [enableImapLine(m), grantLine(m, p)])),
  ];
  const revoke = [
    ...header(
      `After the migration: take FullAccess on ${mailboxes.length} mailboxes back from ${who}. IMAP stays enabled; turn it off with Set-CASMailbox -ImapEnabled $false where it was off before.`,
      p,
    ),
    ...mailboxes.flatMap((m) => perMailbox(m, [revokeLine(m, p)])),
  ];
  const text = (lines: string[]) => `${lines.join("\r\n")}\r\n`;
  return { grant: text(grant), revoke: text(revoke) };
}

/**
 * What the app registration needs in Microsoft Graph (API permissions, then "Grant admin
 * consent") for calendars and contacts, by the grant its tokens come from (microsoft-graph.md §2).
 */
export function graphPermissions(grant: Config["grant"]): string[] {
  if (grant === "client-credentials")
    return [
      "Microsoft Graph, Application permissions: Calendars.Read, Contacts.Read, MailboxSettings.Read; then Grant admin consent.",
      "The app reads every mailbox of the tenant; to limit it to the migrated ones, an Exchange application access policy: New-ApplicationAccessPolicy -AppId <APP_ID> -PolicyScopeGroupId <group of the mailboxes> -AccessRight RestrictAccess -Description 'migration'.",
    ];
  return [
    "Microsoft Graph, Delegated permissions: Calendars.Read.Shared, Contacts.Read.Shared, MailboxSettings.Read, offline_access; then Grant admin consent.",
    "Graph lets the signed-in admin read another user's calendars and contacts only where that user shared them or made the admin a delegate (FullAccess may not be enough); GRANT=client-credentials with application permissions is the grant to prefer for calendars and contacts.",
    ...(grant === "implicit"
      ? ["GRANT=implicit gives no refresh token: the Graph token needs a second sign-in."]
      : []),
  ];
}
