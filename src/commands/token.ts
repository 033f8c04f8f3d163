// `token`: get an access token by the configured grant, import one obtained elsewhere, or forget it.
import type { Config } from "../config/types.js";
import {
  describeExpiry,
  forgetToken,
  importToken,
  obtainToken,
  tokenPaths,
  type AudienceName,
  type SignInOptions,
  type StoredToken,
  type TokenIo,
} from "../token/index.js";

export type { TokenIo } from "../token/index.js";

export interface TokenOptions extends SignInOptions {
  callbackPort: number;
}

/** Signs in (or refreshes), saves the token in WORK_DIR, and says where and until when. */
export async function tokenCommand(
  config: Config,
  opts: TokenOptions,
  io: TokenIo,
): Promise<StoredToken> {
  const token = await obtainToken({ ...config, callbackPort: opts.callbackPort }, opts, io, "imap");
  io.out(`Access token saved to ${tokenPaths(config.workDir).token}; it ${describeExpiry(token)}.`);
  return token;
}

/** `token --import FILE`: a token obtained elsewhere, checked like one obtained here. */
export function importCommand(config: Config, file: string, io: TokenIo): Promise<StoredToken> {
  return importToken(config, file, io, "imap");
}

/**
 * `token --forget`: the tokens of the APIs ITEMS needs (IMAP for mail, Microsoft Graph for
 * calendars and contacts) are removed, and their refresh token unless the other API's token
 * still uses it.
 */
export async function forgetCommand(config: Config, io: TokenIo): Promise<void> {
  const audiences: AudienceName[] = [
    ...(config.items.includes("mail") ? (["imap"] as const) : []),
    ...(config.items.some((item) => item !== "mail") ? (["graph"] as const) : []),
  ];
  const { removed, kept } = await forgetToken(config.workDir, audiences);
  if (removed.length === 0) io.out(`No token is saved in ${config.workDir}.`);
  for (const file of removed) io.out(`Removed ${file}`);
  for (const { file, usedBy } of kept) {
    io.out(
      `Kept ${file}: the ${usedBy.join(" and ")} token is still saved and renews with it (ITEMS=mail,calendar forgets both).`,
    );
  }
}
