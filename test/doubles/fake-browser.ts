#!/usr/bin/env node
// Plays browser + Microsoft Entra ID when installed as `xdg-open` first on PATH: given oauth2c's
// authorize URL it "signs in" as login_hint and lets the form_post page POST to redirect_uri.
//
// Like a real opener it returns at once (oauth2c starts its callback server only afterwards); a
// detached copy of this script does the POST. Environment:
//   FAKE_BROWSER_MODE  approve (default) | deny | not_enabled | ignore (nobody signs in)
//   FAKE_TOKEN_TTL     token lifetime in seconds (default 3600); a list "2,3600" gives the
//                      n-th sign-in the n-th value (the last one repeats), counted in the log
//   FAKE_BROWSER_LOG   file that receives every minted token (one JSON line each)
// A URL of a local identity provider (the stand-in of scripts/standin, on 127.0.0.1) is instead
// visited like a browser whose user signs in at once: authorization code, device code, implicit.
import { readFileSync } from "node:fs";
import { execa } from "execa";
import { completeSignIn, mintAccessToken, recordToken, tokenForm } from "./entra.js";

const POST_ENV = "FAKE_BROWSER_POST";

/** This sign-in's token lifetime: each opener run is a new process, so the log keeps count. */
function ttlSec(): number {
  const ttls = (process.env.FAKE_TOKEN_TTL ?? "3600").split(",").map(Number);
  const log = process.env.FAKE_BROWSER_LOG;
  let before = 0;
  try {
    if (log) before = readFileSync(log, "utf8").split("\n").filter(Boolean).length;
  } catch {
    // No log yet: this is the first sign-in.
  }
  return ttls[Math.min(before, ttls.length - 1)]!;
}

function formFor(url: URL): Record<string, string> | undefined {
  const q = url.searchParams;
  const state = q.get("state") ?? "";
  switch (process.env.FAKE_BROWSER_MODE ?? "approve") {
    case "ignore":
      return undefined;
    case "deny":
      return {
        error: "access_denied",
        error_description: "AADSTS65004: User declined to consent to access the app.",
        state,
      };
    case "not_enabled":
      return {
        error: "unsupported_response_type",
        error_description:
          "AADSTS700054: response_type 'token' is not enabled for the application.",
        error_uri: "https://login.microsoftonline.com/error?code=700054",
        state,
      };
    default: {
      const ttl = ttlSec();
      // The tenant is the first path segment: /<tenant>/oauth2/v2.0/authorize.
      const tid = url.pathname.split("/")[1] || "common";
      const upn = q.get("login_hint") ?? "user@example.com";
      const token = mintAccessToken({ tid, appId: q.get("client_id") ?? "", ttlSec: ttl, upn });
      recordToken(token, upn);
      return tokenForm(token, ttl, state);
    }
  }
}

/** Visits the page detached, as a browser would while its opener has long returned. */
function inBackground(job: object): void {
  const poster = execa(process.execPath, [import.meta.filename], {
    detached: true,
    stdio: "ignore",
    cleanup: false,
    env: { [POST_ENV]: JSON.stringify(job) },
  });
  poster.unref();
  poster.catch(() => undefined);
}

async function open(target: string): Promise<void> {
  // The fixtures' scripted opener printed this on its stderr; oauth2c passes it through.
  process.stderr.write(`fake-xdg-open: ${target}\n`);
  // oauth2c v1.17.x opens "" for Entra's device flow.
  if (!URL.canParse(target)) return;
  const url = new URL(target);
  if (["127.0.0.1", "localhost"].includes(url.hostname)) return inBackground({ visit: target });
  const redirectUri = url.searchParams.get("redirect_uri");
  // A device-code verification page has no redirect: the double approves the code itself.
  if (!redirectUri) return;
  const form = formFor(url);
  if (form) inBackground({ redirectUri, form });
}

async function post(job: string): Promise<void> {
  const parsed = JSON.parse(job) as
    { visit: string } | { redirectUri: string; form: Record<string, string> };
  if ("visit" in parsed) {
    const { signInHeadless } = await import("../../scripts/standin/oauth-server.js");
    await signInHeadless(parsed.visit);
  } else await completeSignIn(parsed.redirectUri, parsed.form);
}

const job = process.env[POST_ENV];
if (job) await post(job);
else await open(process.argv[2] ?? "");
