// The token files in the work directory, for each audience: the access token (0600), what a
// person may see of it, and the refresh token.
import { mkdir, readFile, rm, stat } from "node:fs/promises";
import path from "node:path";
import writeFileAtomic from "write-file-atomic";
import { z } from "zod";
import { AUDIENCES, type AudienceName } from "./audiences.js";
import type { TokenResponse } from "./entra.js";
import { readJwt, toStoredToken, type StoredToken } from "./claims.js";

/**
 * The token's consumer reads the first line of `token` (imapsync, for `imap`); `meta` holds what
 * a person may see; the refresh token (auth-code, device-code) lives beside them, private like
 * the access token.
 */
export function tokenPaths(
  workDir: string,
  audience: AudienceName = "imap",
): { token: string; meta: string; refresh: string } {
  const files = AUDIENCES[audience].files;
  return {
    token: path.join(workDir, files.token),
    meta: path.join(workDir, files.meta),
    refresh: path.join(workDir, files.refresh),
  };
}

const metaSchema = z.object({
  obtainedAt: z.iso.datetime(),
  expiresAt: z.iso.datetime(),
  source: z.string(),
  claims: z
    .object({
      aud: z.string().optional(),
      upn: z.string().optional(),
      scp: z.string().optional(),
      roles: z.array(z.string()).optional(),
      tid: z.string().optional(),
      appid: z.string().optional(),
    })
    .optional(),
});

/**
 * Writes `token` (the token + LF, mode 0600 from the moment the file exists: write-file-atomic
 * creates its temporary file with that mode, syncs it and renames it) and `token.json` (expiry
 * and claims, no token). `source` names the grant (or "import"). The work directory is created
 * private if missing.
 */
export async function saveToken(
  workDir: string,
  response: TokenResponse,
  now = new Date(),
  source = "implicit",
  audience: AudienceName = "imap",
): Promise<StoredToken> {
  const token = toStoredToken(response, now);
  const paths = tokenPaths(workDir, audience);
  await mkdir(workDir, { recursive: true, mode: 0o700 });
  await writeFileAtomic(paths.token, `${token.accessToken}\n`, { mode: 0o600 });
  const meta: z.infer<typeof metaSchema> = {
    obtainedAt: token.obtainedAt.toISOString(),
    expiresAt: token.expiresAt.toISOString(),
    source,
    claims: token.claims,
  };
  await writeFileAtomic(paths.meta, `${JSON.stringify(meta, null, 2)}\n`, { mode: 0o600 });
  return token;
}

async function readIfExists(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

function parseMeta(text: string | undefined): z.infer<typeof metaSchema> | undefined {
  if (text === undefined) return undefined;
  try {
    const meta = metaSchema.safeParse(JSON.parse(text));
    return meta.success ? meta.data : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The saved token, or undefined when there is none or its expiry cannot be known. A JWT's own
 * claims win over `token.json`, so a token file replaced by hand is still judged correctly.
 */
export async function loadToken(
  workDir: string,
  audience: AudienceName = "imap",
): Promise<StoredToken | undefined> {
  const paths = tokenPaths(workDir, audience);
  const text = await readIfExists(paths.token);
  const accessToken = text?.split("\n", 1)[0]?.trim();
  if (!accessToken) return undefined;
  const jwt = readJwt(accessToken);
  const meta = parseMeta(await readIfExists(paths.meta));
  const expiresAt = jwt?.exp ?? (meta ? new Date(meta.expiresAt) : undefined);
  if (expiresAt === undefined) return undefined;
  const obtainedAt =
    (meta ? new Date(meta.obtainedAt) : undefined) ?? jwt?.iat ?? (await stat(paths.token)).mtime;
  return {
    accessToken,
    expiresAt,
    obtainedAt,
    claims: jwt?.claims ?? meta?.claims ?? {},
    ...(jwt ? {} : { opaque: true as const }),
  };
}

/**
 * Keeps the newest refresh token (0600, written to a synced temporary file, then renamed over the
 * old one). Called as soon as a token response arrives: the server has already invalidated the
 * refresh token it rotated, so the new one must be on disk before anything else can fail.
 */
export async function saveRefreshToken(
  workDir: string,
  refreshToken: string,
  audience: AudienceName = "imap",
): Promise<void> {
  await mkdir(workDir, { recursive: true, mode: 0o700 });
  await writeFileAtomic(tokenPaths(workDir, audience).refresh, `${refreshToken}\n`, {
    mode: 0o600,
  });
}

/** The newest refresh token saved by an auth-code or device-code sign-in, if any. */
export async function loadRefreshToken(
  workDir: string,
  audience: AudienceName = "imap",
): Promise<string | undefined> {
  const text = await readIfExists(tokenPaths(workDir, audience).refresh);
  return text?.split("\n", 1)[0]?.trim() || undefined;
}

/** A refresh token the server refused (used, revoked, expired) is worth nothing: drop it. */
export async function dropRefreshToken(
  workDir: string,
  audience: AudienceName = "imap",
): Promise<void> {
  await rm(tokenPaths(workDir, audience).refresh, { force: true });
}

/**
 * Removes the access token and metadata of each audience, and the refresh tokens they use; a
 * refresh token another audience still uses (its access token is saved: Entra redeems one refresh
 * token for IMAP and Graph alike) is kept, so forgetting one never signs the other out. Returns
 * the files that existed and were removed, and the refresh tokens kept with the APIs (their names)
 * still using them.
 */
export async function forgetToken(
  workDir: string,
  audiences: readonly AudienceName[] = ["imap"],
): Promise<{ removed: string[]; kept: { file: string; usedBy: string[] }[] }> {
  const removed: string[] = [];
  const kept: { file: string; usedBy: string[] }[] = [];
  const remove = async (file: string) => {
    if ((await readIfExists(file)) === undefined) return;
    await rm(file, { force: true });
    removed.push(file);
  };
  for (const audience of audiences) {
    const paths = tokenPaths(workDir, audience);
    await remove(paths.token);
    await remove(paths.meta);
  }
  const refreshFiles = new Set(audiences.map((a) => tokenPaths(workDir, a).refresh));
  for (const file of refreshFiles) {
    const usedBy: string[] = [];
    for (const other of Object.keys(AUDIENCES) as AudienceName[]) {
      const paths = tokenPaths(workDir, other);
      if (paths.refresh === file && (await readIfExists(paths.token)) !== undefined)
        usedBy.push(AUDIENCES[other].name);
    }
    if (usedBy.length === 0) await remove(file);
    else if ((await readIfExists(file)) !== undefined) kept.push({ file, usedBy });
  }
  return { removed, kept };
}
