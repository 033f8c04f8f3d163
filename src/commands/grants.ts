// `grants`: the Exchange Online PowerShell that prepares exactly the mailboxes of a users file for
// the migration, and the one that takes the rights back afterwards.
import { mkdir } from "node:fs/promises";
import path from "node:path";
import writeFileAtomic from "write-file-atomic";
import { loadConfig } from "../config/load.js";
import { InputError } from "../errors.js";
import { exchangeScripts, graphPermissions, principalOf } from "../exchange/scripts.js";
import { readUsersFile } from "../users/read.js";

export interface GrantsFlags extends Record<string, unknown> {
  users: string;
  /** Folder for the two scripts; WORK_DIR by default. */
  out?: string;
}

export function grantsPaths(dir: string): { grant: string; revoke: string; graph: string } {
  return {
    grant: path.join(dir, "exchange-grant-access.ps1"),
    revoke: path.join(dir, "exchange-remove-access.ps1"),
    graph: path.join(dir, "graph-permissions.txt"),
  };
}

export async function grantsCommand(
  flags: GrantsFlags,
  io: { stdout: NodeJS.WritableStream; env: NodeJS.ProcessEnv },
): Promise<number> {
  const users = await readUsersFile(flags.users);
  const config = loadConfig(flags, { env: io.env, require: [] });
  const principal = principalOf(config);
  if (!principal) {
    const appOnly = config.grant === "client-credentials";
    throw new InputError(
      appOnly ? "APP_ID" : "LOGIN_HINT",
      "is not set",
      appOnly
        ? "With GRANT=client-credentials the app's service principal gets FullAccess: set APP_ID=<Application (client) ID> in .env."
        : "The admin who signs in gets FullAccess: set LOGIN_HINT=<admin address> in .env or pass --login-hint.",
    );
  }
  const dir = path.resolve(flags.out ?? config.workDir);
  const files = grantsPaths(dir);
  const scripts = exchangeScripts(
    users.mailboxes.map((m) => m.source),
    principal,
  );
  await mkdir(dir, { recursive: true, mode: 0o700 });
  // A BOM, or Windows PowerShell 5.1 reads the script as ANSI and garbles "Élodie".
  await writeFileAtomic(files.grant, `\uFEFF${scripts.grant}`, { mode: 0o644 });
  await writeFileAtomic(files.revoke, `\uFEFF${scripts.revoke}`, { mode: 0o644 });
  const who =
    principal.kind === "admin"
      ? principal.address
      : `the service principal of app ${principal.appId}`;
  const say = (line: string) => io.stdout.write(`${line}\n`);
  say(`${users.mailboxes.length} mailboxes of ${users.path}; FullAccess for ${who}.`);
  say(`Before the migration: ${files.grant}`);
  say(`After the migration:  ${files.revoke}`);
  say("Run each in Exchange Online PowerShell (Connect-ExchangeOnline first), e.g.:");
  say(`  & '${files.grant.replace(/'/g, "''")}'`);
  if (config.items.some((item) => item !== "mail")) {
    // Calendars and contacts are read through Microsoft Graph, whatever FullAccess says.
    const lines = graphPermissions(config.grant);
    await writeFileAtomic(files.graph, `${lines.join("\n")}\n`, { mode: 0o644 });
    say(
      `Calendars and contacts (ITEMS=${config.items.join(",")}), GRANT=${config.grant}: ${files.graph}`,
    );
    for (const line of lines) say(`  ${line}`);
  }
  return 0;
}
