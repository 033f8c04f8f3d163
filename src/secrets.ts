/**
 * Every form a secret can take in text that leaves the process: plain, base64 (the XOAUTH2 SASL
 * string is base64), URL-encoded and JSON-escaped. The tests scan every output for all of them.
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

/**
 * The environment a child program gets: ours, minus the variables whose names match `dropped`
 * (they may hold one of our secrets, and /proc/PID/environ outlives any care we take), plus
 * `extra`. Used with execa's `extendEnv: false`.
 */
export function childEnv(
  dropped: RegExp,
  extra: Record<string, string> = {},
): Record<string, string> {
  const inherited = Object.entries(process.env).filter(
    (entry): entry is [string, string] => entry[1] !== undefined && !dropped.test(entry[0]),
  );
  return { ...Object.fromEntries(inherited), ...extra };
}
