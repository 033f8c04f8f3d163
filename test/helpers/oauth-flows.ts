import { createHash, randomBytes } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

/** A PKCE verifier and the authorization request parameters that go with it (S256). */
export function pkce(): { verifier: string; params: Record<string, string> } {
  const verifier = randomBytes(32).toString("base64url");
  const challenge = createHash("sha256").update(verifier).digest("base64url");
  return { verifier, params: { code_challenge: challenge, code_challenge_method: "S256" } };
}

/** A form POST to a token endpoint, with its status and JSON body. */
export async function postForm(
  url: string,
  form: Record<string, string>,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(form).toString(),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** A one-shot callback server like oauth2c's: resolves with the first request's query or form. */
export async function callbackServer() {
  let resolve!: (fields: URLSearchParams) => void;
  const received = new Promise<URLSearchParams>((r) => (resolve = r));
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk: Buffer) => (body += chunk.toString()));
    req.on("end", () => {
      res.end("Authorization succeeded. You may close this window.");
      resolve(
        new URLSearchParams(req.method === "POST" ? body : new URL(req.url!, "http://x").search),
      );
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  return {
    redirectUri: `http://localhost:${port}/callback`,
    received,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
