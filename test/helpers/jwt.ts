/** A JWT nobody checks the signature of (neither oauth2c, nor the tool, nor the doubles). */
export function unsignedJwt(
  payload: object,
  header: object = { alg: "RS256", typ: "JWT" },
): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");
  return `${part(header)}.${part(payload)}.${Buffer.from("not-a-real-signature").toString("base64url")}`;
}
