import { createHash, randomBytes } from "node:crypto";

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
