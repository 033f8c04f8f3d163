// `token`: get an access token by the configured grant, import one obtained elsewhere, or forget it.
import { InputError, readNamedFile, TokenError } from "../errors.js";
import { parseOauth2cStdout } from "../token/oauth2c/output.js";
import { type TokenResponse } from "../token/entra.js";
import { checkToken, refusalMessage } from "../token/checks.js";
import { expectationsOf, obtainToken, type SignInOptions, type TokenIo } from "../token/grants.js";
import { describeExpiry, toStoredToken, type StoredToken } from "../token/claims.js";
import { forgetToken, saveToken, tokenPaths } from "../token/store.js";
import type { Config } from "../config/types.js";

export type { TokenIo } from "../token/grants.js";

export interface TokenOptions extends SignInOptions {
  callbackPort: number;
}

/** Signs in (or refreshes), saves the token in WORK_DIR, and says where and until when. */
export async function tokenCommand(
  config: Config,
  opts: TokenOptions,
  io: TokenIo,
): Promise<StoredToken> {
  const token = await obtainToken({ ...config, callbackPort: opts.callbackPort }, opts, io);
  io.out(`Access token saved to ${tokenPaths(config.workDir).token}; it ${describeExpiry(token)}.`);
  return token;
}

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

/**
 * `token --import FILE`: a token obtained elsewhere (another machine, a browser-only workstation),
 * judged by the same checks as one obtained here. Its text is never repeated in any message.
 */
export async function importToken(config: Config, file: string, io: TokenIo): Promise<StoredToken> {
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
  const verdict = checkToken(token, expectationsOf(config, now));
  if (verdict.refusals.length > 0) throw new TokenError(refusalMessage(verdict, `in ${file}`));
  const saved = await saveToken(config.workDir, response, now, "import");
  io.out(`Imported ${verdict.summary}.`);
  for (const warning of verdict.warnings) io.out(`Warning: ${warning}`);
  io.out(`Access token saved to ${tokenPaths(config.workDir).token}.`);
  return saved;
}

/** `token --forget`: the access token, its metadata and any refresh token are removed. */
export async function forgetCommand(config: Config, io: TokenIo): Promise<void> {
  const removed = await forgetToken(config.workDir);
  if (removed.length === 0) io.out(`No token is saved in ${config.workDir}.`);
  for (const file of removed) io.out(`Removed ${file}`);
}
