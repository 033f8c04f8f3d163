// The whole stand-in for Microsoft 365: OAuth server, Office-like IMAP front, source Dovecot
// (XOAUTH2 + delegation), destination Dovecot (passwords, quota), seed data, settings for .env.
//
//   startStandin({ dir, ports?, tokenTtlSec?, bigCount?, throttle?, load?, commandDelayMs?,
//                  equal?, approveDeviceCodes? }) → Standin
//     env              the settings to put in .env (also written to <dir>/standin.env)
//     usersFile        <dir>/users.csv, every seeded mailbox with its destination password file
//     equalUsersFile   <dir>/users-equal.csv, only the `equal` mailboxes (for benchmarks)
//     oauth, front     see oauth-server.ts / front.ts (setTokenTtl, mint, setThrottle...)
//     graph            the Microsoft Graph stand-in (graph.ts, seed graph-seed.ts): GRAPH_URL
//     grant(tokenUser, mailbox, allowed)   edits the delegations (FullAccess) of the source;
//                      resolves once Dovecot sees the change (about a second)
//     stop()           stops everything it started, Dovecot sessions included
import { execFile } from "node:child_process";
import { chmod, mkdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import {
  instanceDirs,
  mailOwner,
  startDovecot,
  stopDovecot,
  writeDestinationConfig,
  writeSourceConfig,
} from "./dovecot.js";
import { startFront, type Front, type LoadThrottle, type ThrottleSettings } from "./front.js";
import {
  APP_CLIENT_ID,
  graphCaller,
  PUBLIC_CLIENT_ID,
  startOAuthServer,
  type OAuthServer,
} from "./oauth-server.js";
import { startGraph, type GraphServer } from "./graph.js";
import {
  GRAPH_DENIED,
  GRAPH_NOT_ENABLED,
  GRAPH_THROTTLED,
  GRAPH_THROTTLED_TIMES,
  graphSeed,
} from "./graph-seed.js";
import { freePort } from "./ports.js";
import { equalMailboxes, seedMailbox, seedPlan, type MailboxSeed } from "./seed.js";

export const ADMIN = "admin@contoso.test";
export const TENANT = "contoso.test";
/** FullAccess grants, as `<token user>/<mailbox>`: bob is delegated to nobody. */
export const DELEGATIONS = [
  `${ADMIN}/alice@contoso.test`,
  `${ADMIN}/carol@contoso.test`,
  `${ADMIN}/big@contoso.test`,
  `${ADMIN}/dave@contoso.test`,
  `${ADMIN}/erin@contoso.test`,
  `${APP_CLIENT_ID}/alice@contoso.test`,
  `${APP_CLIENT_ID}/big@contoso.test`,
];
/** DELEGATIONS by token user: the mailboxes each may open. */
export function delegationsByUser(): Record<string, string[]> {
  const byUser: Record<string, string[]> = {};
  for (const entry of DELEGATIONS) {
    const [user, mailbox] = entry.split("/") as [string, string];
    (byUser[user] ??= []).push(mailbox);
  }
  return byUser;
}
/** Destination quota rules: carol's source does not fit (about 90 KB into 60 KB). */
const QUOTAS: Record<string, string> = { "carol@contoso.test": "*:storage=60K" };
export const MASTER_USER = "migrator";
/** Dovecot re-reads a passwd-file at most once a second. */
const DOVECOT_RESYNC_MS = 1100;

export interface StandinPorts {
  oauth: number;
  front: number;
  source: number;
  destination: number;
  graph: number;
}

export interface StandinOptions {
  dir: string;
  /** 0 or absent: a free port. */
  ports?: Partial<StandinPorts>;
  tokenTtlSec?: number;
  /** Messages in big@contoso.test's INBOX (default 4000). */
  bigCount?: number;
  /** big@contoso.test's folders and message counts instead (benchmarks of big mailboxes). */
  bigSeed?: MailboxSeed;
  throttle?: ThrottleSettings;
  load?: LoadThrottle;
  commandDelayMs?: number;
  /** `count` more mailboxes, all with the same folders and message counts, delegated to ADMIN. */
  equal?: { count: number; seed?: MailboxSeed };
  /** ADMIN signs every device code in by itself: a device-code token needs nobody. */
  approveDeviceCodes?: boolean;
  /** big@contoso.test's Graph mailbox holds this many events and contacts (benchmarks). */
  graphBenchCount?: number;
}

export interface Standin {
  dir: string;
  ports: StandinPorts;
  env: Record<string, string>;
  usersFile: string;
  /** Only the `equal` mailboxes; absent without them. */
  equalUsersFile?: string;
  mailboxes: string[];
  oauth: OAuthServer;
  front: Front;
  graph: GraphServer;
  destinationPassword(mailbox: string): string;
  grant(tokenUser: string, mailbox: string, allowed: boolean): Promise<void>;
  stop(): Promise<void>;
}

/** Dovecot's mail processes (another uid) must be able to walk down to the stand-in's folder. */
async function assertSearchable(folder: string, uid: number): Promise<void> {
  for (let d = folder; ; d = path.dirname(d)) {
    if (((await stat(d)).mode & 0o001) === 0)
      throw new Error(
        `${d} is not searchable by uid ${uid}, which Dovecot uses for the mail: run chmod o+x ${d}, or choose a STANDIN_DIR elsewhere.`,
      );
    if (d === path.dirname(d)) return;
  }
}

const passwordOf = (mailbox: string) => `${mailbox.split("@")[0]}-dest-pw`;
const passwdLine = (user: string, password: string, extra = "") =>
  `${user}:{PLAIN}${password}::::::${extra}\n`;
/** Found means allowed: the oauth2 passdbs before it already checked the token. */
const delegationLine = (entry: string) => `${entry}::::::\n`;

/** Everything about .env a person needs to point the tool at the stand-in. */
export function envFile(env: Record<string, string>): string {
  return `# Microsoft 365 stand-in (scripts/standin-start.sh): append to .env\n${Object.entries(env)
    .map(([k, v]) => `${k}=${v}`)
    .join("\n")}\n`;
}

export async function startStandin(opts: StandinOptions): Promise<Standin> {
  const dir = path.resolve(opts.dir);
  const owner = mailOwner();
  // Dovecot's unprivileged processes must reach their sockets and the mail below this folder.
  await mkdir(dir, { recursive: true });
  await chmod(dir, 0o755);
  if (owner.uid !== process.getuid?.()) await assertSearchable(path.dirname(dir), owner.uid);
  const equal = opts.equal ? equalMailboxes(opts.equal.count, opts.equal.seed) : {};
  const delegations = path.join(dir, "delegations.passwd");
  await writeFile(
    delegations,
    [...DELEGATIONS, ...Object.keys(equal).map((m) => `${ADMIN}/${m}`)]
      .map(delegationLine)
      .join(""),
  );

  const started: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const step of started.reverse()) await step().catch(() => undefined);
  };
  try {
    const oauth = await startOAuthServer({
      port: opts.ports?.oauth ?? 0,
      tenant: TENANT,
      tokenTtlSec: opts.tokenTtlSec,
      defaultAccount: ADMIN,
      approveDeviceCodes: opts.approveDeviceCodes,
    });
    started.push(() => oauth.stop());

    const source = instanceDirs(dir, "source");
    const destination = instanceDirs(dir, "destination");
    const plan: Record<string, MailboxSeed> = {
      ...seedPlan(opts.bigCount ?? 4000),
      ...(opts.bigSeed && { "big@contoso.test": opts.bigSeed }),
      ...equal,
    };
    const mailboxes = Object.keys(plan);
    await rm(path.join(dir, "mail"), { recursive: true, force: true });
    await Promise.all(mailboxes.map((m) => seedMailbox(source.mail, m, plan[m]!)));
    await mkdir(destination.mail, { recursive: true });
    if (process.getuid?.() === 0)
      await promisify(execFile)("chown", [
        "-R",
        `${owner.uid}:${owner.gid}`,
        path.join(dir, "mail"),
      ]);

    const graph = await startGraph({
      port: opts.ports?.graph ?? 0,
      verify: graphCaller(oauth),
      seed: graphSeed(
        opts.graphBenchCount
          ? { address: "big@contoso.test", count: opts.graphBenchCount }
          : undefined,
      ),
      denied: [GRAPH_DENIED],
      notEnabled: [GRAPH_NOT_ENABLED],
      throttled: { [GRAPH_THROTTLED]: GRAPH_THROTTLED_TIMES },
    });
    started.push(() => graph.stop());

    const ports: StandinPorts = {
      oauth: oauth.port,
      graph: graph.port,
      front: 0,
      source: opts.ports?.source || (await freePort()),
      destination: opts.ports?.destination || (await freePort()),
    };
    const users = path.join(destination.root, "users.passwd");
    const masters = path.join(destination.root, "masters.passwd");
    await mkdir(destination.root, { recursive: true });
    await writeFile(
      users,
      mailboxes
        .map((m) => passwdLine(m, passwordOf(m), QUOTAS[m] ? `userdb_quota_rule=${QUOTAS[m]}` : ""))
        .join(""),
    );
    await writeFile(masters, passwdLine(MASTER_USER, passwordOf(MASTER_USER)));
    await writeSourceConfig(source, {
      port: ports.source,
      introspectionUrl: oauth.introspectionUrl,
      delegations,
      owner,
    });
    await writeDestinationConfig(destination, { port: ports.destination, users, masters, owner });
    for (const instance of [source, destination]) {
      await stopDovecot(instance); // a leftover of a run that was not stopped
      started.push(() => stopDovecot(instance));
      await startDovecot(instance);
    }

    const frontLog = path.join(dir, "front.log");
    const front = await startFront({
      port: opts.ports?.front ?? 0,
      upstreamPort: ports.source,
      verify: (token) => oauth.verify(token),
      isDelegated: async (tokenUser, mailbox) =>
        (await readFile(delegations, "utf8"))
          .split("\n")
          .some((l) => l.startsWith(`${tokenUser}/${mailbox}:`)),
      throttle: opts.throttle,
      load: opts.load,
      commandDelayMs: opts.commandDelayMs,
      log: (line) =>
        void writeFile(frontLog, `${new Date().toISOString()} ${line}\n`, { flag: "a" }),
    });
    started.push(() => front.stop());
    ports.front = front.port;

    const secrets = path.join(dir, "secrets");
    await mkdir(secrets, { recursive: true, mode: 0o700 });
    for (const m of mailboxes)
      await writeFile(path.join(secrets, `${m}.pass`), `${passwordOf(m)}\n`, { mode: 0o600 });
    const usersCsv = (list: string[]) =>
      `source,destination,password,password_file\n${list.map((m) => `${m},,,secrets/${m}.pass\n`).join("")}`;
    const usersFile = path.join(dir, "users.csv");
    await writeFile(usersFile, usersCsv(mailboxes.filter((m) => m !== ADMIN)));
    const equalUsersFile = opts.equal ? path.join(dir, "users-equal.csv") : undefined;
    if (equalUsersFile) await writeFile(equalUsersFile, usersCsv(Object.keys(equal)));
    const env: Record<string, string> = {
      TENANT_ID: TENANT,
      AUTHORITY_URL: oauth.issuer,
      APP_ID: PUBLIC_CLIENT_ID,
      LOGIN_HINT: ADMIN,
      HOST1: "127.0.0.1",
      PORT1: String(ports.front),
      TLS1: "none",
      HOST2: "127.0.0.1",
      PORT2: String(ports.destination),
      TLS2: "none",
      GRAPH_URL: graph.url,
    };
    await writeFile(path.join(dir, "standin.env"), envFile(env));
    return {
      dir,
      ports,
      env,
      usersFile,
      equalUsersFile,
      mailboxes,
      oauth,
      front,
      graph,
      destinationPassword: passwordOf,
      grant: async (tokenUser, mailbox, allowed) => {
        const entry = `${tokenUser}/${mailbox}`;
        const lines = (await readFile(delegations, "utf8"))
          .split("\n")
          .filter((l) => l && !l.startsWith(`${entry}:`));
        if (allowed) lines.push(delegationLine(entry).trimEnd());
        await writeFile(delegations, `${lines.join("\n")}\n`);
        await new Promise((resolve) => setTimeout(resolve, DOVECOT_RESYNC_MS));
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
