// What Microsoft Entra ID does in the tests: mint access tokens and post them to a callback.
import { unsignedJwt } from "../helpers/jwt.js";
import { randomUUID } from "node:crypto";
import { appendFileSync } from "node:fs";

export const ENTRA_AUDIENCE = "https://outlook.office365.com";
export const DELEGATED_SCOPE =
  "https://outlook.office365.com/IMAP.AccessAsUser.All https://outlook.office365.com/.default";

export interface MintOptions {
  tid: string;
  appId: string;
  ttlSec: number;
  /** Delegated token: who signed in. */
  upn?: string;
  /** App-only token (client credentials). */
  roles?: string[];
  aud?: string;
}

/**
 * A JWT shaped like an Exchange Online access token (claims of microsoft-365.md §3). Nothing
 * checks its signature (neither oauth2c nor the wrapper); `jti` makes every token unique, so a
 * leak scan can tell one sign-in from another.
 */
export function mintAccessToken(o: MintOptions): string {
  const iat = Math.floor(Date.now() / 1000);
  const header = { typ: "JWT", alg: "RS256", kid: "test-double" };
  const payload = {
    aud: o.aud ?? ENTRA_AUDIENCE,
    iss: `https://sts.windows.net/${o.tid}/`,
    iat,
    nbf: iat,
    exp: iat + o.ttlSec,
    appid: o.appId,
    tid: o.tid,
    ver: "1.0",
    jti: randomUUID(),
    ...(o.upn ? { upn: o.upn, unique_name: o.upn, scp: "IMAP.AccessAsUser.All" } : {}),
    ...(o.roles ? { roles: o.roles } : {}),
  };
  return unsignedJwt(payload, header);
}

/** Appends a minted token to the file named by `FAKE_BROWSER_LOG`, for leak scans and counts. */
export function recordToken(token: string, who: string): void {
  const log = process.env.FAKE_BROWSER_LOG;
  if (log) appendFileSync(log, `${JSON.stringify({ token, who, at: new Date().toISOString() })}\n`);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * POSTs a form to a callback like the browser does after Entra's auto-submitting form_post page.
 * oauth2c opens its callback only after the opener returns, so "connection refused" is retried.
 * `localhost` is dialled as 127.0.0.1, where oauth2c listens (a browser tries both families).
 */
export async function completeSignIn(
  redirectUri: string,
  form: Record<string, string>,
  opts: { retryForMs?: number } = {},
): Promise<{ status: number; body: string }> {
  const url = new URL(redirectUri);
  if (url.hostname === "localhost") url.hostname = "127.0.0.1";
  const deadline = Date.now() + (opts.retryForMs ?? 10_000);
  for (;;) {
    try {
      const response = await fetch(url, {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams(form).toString(),
      });
      return { status: response.status, body: await response.text() };
    } catch (error) {
      const code = (error as { cause?: { code?: string } }).cause?.code;
      if (code !== "ECONNREFUSED" || Date.now() > deadline) throw error;
      await sleep(100);
    }
  }
}

/** The form Entra posts for a successful implicit sign-in. */
export function tokenForm(accessToken: string, ttlSec: number, state = ""): Record<string, string> {
  return {
    access_token: accessToken,
    token_type: "Bearer",
    expires_in: String(ttlSec),
    scope: DELEGATED_SCOPE,
    state,
    session_state: randomUUID(),
  };
}
