/**
 * Every form a secret can take in text that leaves the process: plain, base64 (the XOAUTH2 SASL
 * string is base64), URL-encoded and JSON-escaped. Used to mask output and, in tests, to scan it.
 */
export function secretForms(secret: string): string[] {
  const forms = new Set<string>([
    secret,
    Buffer.from(secret).toString("base64"),
    Buffer.from(secret).toString("base64url"),
    encodeURIComponent(secret),
    new URLSearchParams({ s: secret }).toString().slice(2),
    JSON.stringify(secret).slice(1, -1),
  ]);
  return [...forms].filter((form) => form.length > 0);
}

/** Too short to be a real secret, and masking it would garble ordinary words. */
const MIN_SECRET_LENGTH = 4;

/** Masks known secrets in any text before it is printed or written. */
export class Redactor {
  private readonly forms: string[] = [];

  add(secret: string | undefined): void {
    if (!secret || secret.length < MIN_SECRET_LENGTH) return;
    for (const form of secretForms(secret)) if (!this.forms.includes(form)) this.forms.push(form);
    // Longest first, so that a form containing another is masked whole.
    this.forms.sort((a, b) => b.length - a.length);
  }

  redact(text: string): string {
    let out = text;
    for (const form of this.forms) out = out.split(form).join("***");
    return out;
  }
}
