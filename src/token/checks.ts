// Can this access token open Exchange Online mailboxes over IMAP? Judged from its claims before
// any imapsync run (microsoft-365.md §3, §5, §6). The signature is not checked: the server does
// that; what is checked here are the mistakes that otherwise surface hours later as
// `AUTHENTICATE failed` or `User is authenticated but not connected`.
import type { StoredToken } from "./claims.js";
import { describeExpiry } from "./claims.js";
import { GRAPH_APP_PERMISSIONS, GRAPH_DELEGATED_PERMISSIONS } from "./entra.js";

/** Microsoft Graph's application id: a token for it is refused by IMAP (`AUTHENTICATE failed`). */
export const GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000";
const GRAPH_AUDIENCES = [GRAPH_APP_ID, "https://graph.microsoft.com"];
/** Exchange Online as `aud`: its URLs (with or without a trailing slash) or its application id. */
const EXCHANGE_AUDIENCE =
  /^(https:\/\/outlook\.office(365)?\.com\/?|00000002-0000-0ff1-ce00-000000000000)$/i;
export const DELEGATED_PERMISSION = "IMAP.AccessAsUser.All";
export const APP_PERMISSION = "IMAP.AccessAsApp";
const TENANT_GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface TokenExpectations {
  now: Date;
  /** Delegated grants: the admin who should have signed in. */
  loginHint?: string;
  /** Compared with `tid` only when it is a GUID (a domain name cannot be compared offline). */
  tenantId?: string;
  /** The token will be used by an app-only grant (client credentials). */
  appOnly?: boolean;
  /** A token expiring within this is worth a warning (it will be renewed or must be). */
  marginMs?: number;
}

export interface TokenVerdict {
  /** Each a sentence: why the token cannot work, and what to do. Empty: usable. */
  refusals: string[];
  /** Things that may still fail later, each a sentence. */
  warnings: string[];
  /** One line for a person: whose token, what it allows, when it expires. */
  summary: string;
}

const REQUEST_AGAIN = "then get a new token (`m365-imapsync token`)";

function permissions(t: StoredToken): { delegated: boolean; app: boolean } {
  const scopes = (t.claims.scp ?? "").split(/\s+/);
  return {
    // v1 tokens carry short names, some tools print the full `https://outlook.../NAME` form.
    delegated: scopes.some(
      (s) => s === DELEGATED_PERMISSION || s.endsWith(`/${DELEGATED_PERMISSION}`),
    ),
    app: (t.claims.roles ?? []).includes(APP_PERMISSION),
  };
}

function audienceRefusal(aud: string | undefined): string | undefined {
  if (aud === undefined)
    return `the token names no audience (aud), so Exchange Online will refuse it; request the scope https://outlook.office365.com/.default, ${REQUEST_AGAIN}.`;
  const audiences = aud.split(" ");
  if (audiences.some((a) => GRAPH_AUDIENCES.includes(a.toLowerCase().replace(/\/$/, ""))))
    return `the token audience is Microsoft Graph (${aud}), which IMAP refuses with "AUTHENTICATE failed"; request only https://outlook.office365.com/.default (no Graph scope such as User.Read in the same request), ${REQUEST_AGAIN}.`;
  if (!audiences.some((a) => EXCHANGE_AUDIENCE.test(a)))
    return `the token is for ${aud}, not for Exchange Online (https://outlook.office365.com), so IMAP will refuse it; request the scope https://outlook.office365.com/.default, ${REQUEST_AGAIN}.`;
  return undefined;
}

function permissionRefusal(t: StoredToken): string | undefined {
  const { delegated, app } = permissions(t);
  if (delegated || app) return undefined;
  if (t.claims.roles !== undefined)
    return `the app-only token carries the roles ${t.claims.roles.join(", ") || "(none)"} but not ${APP_PERMISSION}; in the app registration add the application permission Office 365 Exchange Online → ${APP_PERMISSION}, grant admin consent, ${REQUEST_AGAIN}.`;
  if (t.claims.scp !== undefined)
    return `the token grants "${t.claims.scp}" but not ${DELEGATED_PERMISSION}; in the app registration add the delegated permission Office 365 Exchange Online → ${DELEGATED_PERMISSION}, grant admin consent, ${REQUEST_AGAIN}.`;
  return `the token carries no IMAP permission (neither scp ${DELEGATED_PERMISSION} nor roles ${APP_PERMISSION}); check the app registration's API permissions, ${REQUEST_AGAIN}.`;
}

function whose(t: StoredToken): string {
  if (t.opaque) return "an opaque (non-JWT) token";
  if (t.claims.upn) return `a delegated token of ${t.claims.upn}`;
  if (t.claims.roles) return `an app-only token of application ${t.claims.appid ?? "(unknown)"}`;
  return "a token of an unknown principal";
}

/** Everything that can be known from the token alone, against what this migration needs. */
export function checkToken(t: StoredToken, expect: TokenExpectations): TokenVerdict {
  const refusals: string[] = [];
  const warnings: string[] = [];
  expiryVerdict(t, expect, refusals, warnings);

  if (t.opaque) {
    warnings.push(
      "The access token is not a JWT: its audience, permissions and owner cannot be checked here, and its expiry comes from expires_in. Exchange Online will judge it at the first login.",
    );
  } else {
    const { upn, tid } = t.claims;
    for (const refusal of [audienceRefusal(t.claims.aud), permissionRefusal(t)])
      if (refusal) refusals.push(refusal);
    if (tid && expect.tenantId && TENANT_GUID.test(expect.tenantId) && tid !== expect.tenantId)
      refusals.push(
        `the token was issued by tenant ${tid}, not by TENANT_ID ${expect.tenantId}, so it cannot open this tenant's mailboxes; check TENANT_ID, ${REQUEST_AGAIN}.`,
      );
    const { delegated, app } = permissions(t);
    if (expect.appOnly && delegated && !app)
      warnings.push(
        `GRANT is client-credentials but this is ${whose(t)}: every mailbox must then be delegated to ${upn ?? "that user"}, not to the app's service principal.`,
      );
    if (!expect.appOnly && app && !delegated)
      warnings.push(
        `This is ${whose(t)}: the mailboxes must be delegated to the app's Exchange service principal, not to ${expect.loginHint ?? "an admin"} (see \`m365-imapsync grants --grant client-credentials\`).`,
      );
    if (
      !expect.appOnly &&
      upn &&
      expect.loginHint &&
      upn.toLowerCase() !== expect.loginHint.toLowerCase()
    )
      warnings.push(
        `The token belongs to ${upn}, not to LOGIN_HINT ${expect.loginHint}: mailboxes delegated to ${expect.loginHint} will fail (not_delegated). If that is wrong, sign out of ${upn} in the browser and get a new token.`,
      );
  }
  const { delegated, app } = permissions(t);
  const allows = [delegated ? DELEGATED_PERMISSION : "", app ? APP_PERMISSION : ""].filter(Boolean);
  const summary = `${whose(t)}${allows.length ? ` (${allows.join(", ")})` : ""} that ${describeExpiry(t, expect.now)}`;
  return { refusals, warnings, summary };
}

/** The message of a refused token: every reason with its fix, one per line. */
export function refusalMessage(verdict: TokenVerdict, origin: string, api = "IMAP"): string {
  const reasons = verdict.refusals.map((r) => `  - ${r}`).join("\n");
  return `The access token ${origin} cannot work for ${api} (${verdict.summary}):\n${reasons}`;
}

/** The expiry part of a verdict, the same for every API. */
function expiryVerdict(
  t: StoredToken,
  expect: TokenExpectations,
  refusals: string[],
  warnings: string[],
): void {
  const left = t.expiresAt.getTime() - expect.now.getTime();
  if (left <= 0) refusals.push(`the token ${describeExpiry(t, expect.now)}; ${REQUEST_AGAIN}.`);
  else if (expect.marginMs !== undefined && left < expect.marginMs)
    warnings.push(`The token ${describeExpiry(t, expect.now)}, within the renewal margin.`);
}

/**
 * Can this token read calendars and contacts through Microsoft Graph (microsoft-graph.md §2-§3)?
 * Its audience must be Graph; app-only tokens carry the permissions in `roles`
 * (Calendars.Read, Contacts.Read, MailboxSettings.Read), delegated ones in `scp` (the .Shared
 * forms, or the plain ones for the signed-in user's own mailbox). A token with none of them is
 * refused; one missing some is a warning, since a part may need only calendars or only contacts.
 */
export function checkGraphToken(t: StoredToken, expect: TokenExpectations): TokenVerdict {
  const refusals: string[] = [];
  const warnings: string[] = [];
  expiryVerdict(t, expect, refusals, warnings);
  const app = t.claims.roles !== undefined;
  const held = app
    ? (t.claims.roles ?? [])
    : (t.claims.scp ?? "").split(/\s+/).map((s) => s.replace(/^.*\//, ""));
  const wanted: readonly string[] = app ? GRAPH_APP_PERMISSIONS : GRAPH_DELEGATED_PERMISSIONS;
  // A delegated Calendars.Read reads the admin's own mailbox only, but is still a calendar permission.
  const has = (p: string) =>
    held.includes(p) || (!app && held.includes(p.replace(/\.Shared$/, "")));
  const missing = wanted.filter((p) => !has(p));
  if (t.opaque) {
    warnings.push(
      "The access token is not a JWT: its audience and permissions cannot be checked here; Microsoft Graph will judge it at the first request.",
    );
  } else {
    const aud = (t.claims.aud ?? "").toLowerCase().replace(/\/$/, "");
    if (!GRAPH_AUDIENCES.includes(aud))
      refusals.push(
        `the token is for ${t.claims.aud ?? "no audience"}, not for Microsoft Graph (https://graph.microsoft.com), which answers it 401; request the scope https://graph.microsoft.com/.default, ${REQUEST_AGAIN}.`,
      );
    const kind = app ? "application" : "delegated";
    if (missing.length === wanted.length)
      refusals.push(
        `the token carries none of the Microsoft Graph ${kind} permissions ${wanted.join(", ")}; in the app registration add them (Microsoft Graph → ${kind} permissions), grant admin consent, ${REQUEST_AGAIN}.`,
      );
    else if (missing.length > 0)
      warnings.push(
        `The token lacks the Microsoft Graph ${kind} permission${missing.length === 1 ? "" : "s"} ${missing.join(", ")}: the parts that need ${missing.length === 1 ? "it" : "them"} will fail (not_delegated) until ${missing.length === 1 ? "it is" : "they are"} added with admin consent.`,
      );
  }
  const allows = wanted.filter(has);
  const summary = `${whose(t)}${allows.length ? ` (${allows.join(", ")})` : ""} that ${describeExpiry(t, expect.now)}`;
  return { refusals, warnings, summary };
}
