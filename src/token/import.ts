// `token --import`: a token obtained elsewhere (another machine, a browser-only workstation),
// judged by the same checks as one obtained here before it is saved for its audience.
import { InputError, readNamedFile, TokenError } from "../errors.js";
import type { Config } from "../config/types.js";
import { AUDIENCES, type AudienceName } from "./audiences.js";
import { refusalMessage } from "./checks.js";
import { toStoredToken, type StoredToken } from "./claims.js";
import type { TokenResponse } from "./entra.js";
import { expectationsOf, type TokenIo } from "./grants.js";
import { parseOauth2cStdout } from "./oauth2c/output.js";
import { saveToken, tokenPaths } from "./store.js";

/**
 * What an exported token file holds: oauth2c's JSON output (the last `{` line, so `expires_in`
 * is known even for an opaque token), or the bare token on its first line.
 */
export function readTokenText(text: string): TokenResponse | undefined {
  const { token } = parseOauth2cStdout(text);
  if (token) return token;
  const first = text
    .replace(/^\uFEFF/, "")
    .split(/\r?\n/)
    .find((line) => line.trim() !== "");
  return first ? { access_token: first.trim() } : undefined;
}

/** Checks and saves the token in `file`. Its text is never repeated in any message. */
export async function importToken(
  config: Config,
  file: string,
  io: TokenIo,
  audience: AudienceName,
): Promise<StoredToken> {
  const text = await readNamedFile(
    file,
    "the token file",
    "Give the file holding the access token (its first line) or oauth2c's JSON output.",
  );
  const response = readTokenText(text);
  if (!response)
    throw new InputError(file, "holds no access token", "Put the token on its first line.");
  const now = new Date();
  const token = toStoredToken(response, now);
  if (token.opaque && response.expires_in === undefined)
    throw new TokenError(
      `The token in ${file} is not a JWT, so its expiry cannot be read from it. Import oauth2c's JSON output instead (the line with "access_token" and "expires_in").`,
    );
  const { check, name } = AUDIENCES[audience];
  const verdict = check(token, expectationsOf(config, now));
  if (verdict.refusals.length > 0)
    throw new TokenError(refusalMessage(verdict, `in ${file}`, name));
  const saved = await saveToken(config.workDir, response, now, "import", audience);
  io.out(`Imported ${verdict.summary}.`);
  for (const warning of verdict.warnings) io.out(`Warning: ${warning}`);
  io.out(`Access token saved to ${tokenPaths(config.workDir, audience).token}.`);
  return saved;
}
