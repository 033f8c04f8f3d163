// Dovecot instances of the stand-in (test-environment.md §1-§3): a source that takes XOAUTH2
// tokens through introspection with Microsoft-style delegation, and a destination with passwords
// and a quota. Each instance has its own base_dir/state_dir/log, so several run side by side.
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { userInfo } from "node:os";
import path from "node:path";
import { execa } from "execa";

export const DOVECOT = "/usr/sbin/dovecot";

/** Why the stand-in cannot run here, or undefined when it can. */
export function dovecotMissing(): string | undefined {
  return existsSync(DOVECOT) ? undefined : "dovecot not installed: apt-get install dovecot-imapd";
}

/** Who owns the mail: an unprivileged uid when we are root (Dovecot refuses uid 0 for mail). */
export interface MailOwner {
  uid: number;
  gid: number;
  /** Dovecot runs unprivileged too: its internal and login users must be us. */
  unprivileged?: string;
}

export function mailOwner(): MailOwner {
  const me = userInfo();
  return me.uid === 0
    ? { uid: 65534, gid: 65534 }
    : { uid: me.uid, gid: me.gid, unprivileged: me.username };
}

export interface InstanceDirs {
  /** Everything of the instance lives below: config, run, state, log. */
  root: string;
  baseDir: string;
  conf: string;
  log: string;
  mail: string;
}

export function instanceDirs(standinDir: string, name: string): InstanceDirs {
  const root = path.join(standinDir, name);
  return {
    root,
    baseDir: path.join(root, "run"),
    conf: path.join(root, "dovecot.conf"),
    log: path.join(root, "dovecot.log"),
    mail: path.join(standinDir, "mail", name),
  };
}

function common(name: string, dirs: InstanceDirs, port: number, owner: MailOwner): string {
  const unprivileged = owner.unprivileged
    ? `default_internal_user = ${owner.unprivileged}
default_login_user = ${owner.unprivileged}
service anvil {
  chroot =
}
service imap-login {
  chroot =
}
`
    : "";
  return `instance_name = ${name}
base_dir = ${dirs.baseDir}
state_dir = ${dirs.root}/state
log_path = ${dirs.log}
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_failure_delay = 0
auth_cache_size = 0
mail_location = maildir:${dirs.mail}/%u/Maildir
mail_uid = ${owner.uid}
mail_gid = ${owner.gid}
first_valid_uid = ${Math.min(owner.uid, 500)}
first_valid_gid = ${Math.min(owner.gid, 500)}
mail_max_userip_connections = 100
default_process_limit = 200
default_client_limit = 2000
${unprivileged}service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = ${port}
  }
  inet_listener imaps {
    port = 0
  }
}
# No brute-force penalty: tests fail logins on purpose (gotcha 1).
service anvil {
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
namespace inbox {
  inbox = yes
  separator = /
  prefix =
  mailbox "Sent Items" {
    special_use = \\Sent
  }
  mailbox Drafts {
    special_use = \\Drafts
  }
  mailbox "Deleted Items" {
    special_use = \\Trash
  }
  mailbox "Junk Email" {
    special_use = \\Junk
  }
}
`;
}

function introspection(url: string, delegate: boolean): string {
  return `introspection_mode = post
introspection_url = ${url}
username_attribute = upn
active_attribute = active
active_value = true
force_introspection = yes
timeout_msecs = 5000
${delegate ? "username_format = any-valid-token\npass_attrs = token_user=%{oauth2:upn}\n" : ""}`;
}

/**
 * The source: Office 365 advertises only PLAIN and XOAUTH2. A token opens its own mailbox, or one
 * listed as "<token user>/<mailbox>" in delegations.passwd (§3; re-read when it changes).
 */
export async function writeSourceConfig(
  dirs: InstanceDirs,
  o: { port: number; introspectionUrl: string; delegations: string; owner: MailOwner },
): Promise<void> {
  await mkdir(dirs.root, { recursive: true });
  await writeFile(
    path.join(dirs.root, "oauth2-self.conf.ext"),
    introspection(o.introspectionUrl, false),
  );
  await writeFile(
    path.join(dirs.root, "oauth2-delegate.conf.ext"),
    introspection(o.introspectionUrl, true),
  );
  await writeFile(
    dirs.conf,
    `${common("standin-source", dirs, o.port, o.owner)}auth_mechanisms = plain login xoauth2
passdb {
  driver = oauth2
  mechanisms = xoauth2
  args = ${dirs.root}/oauth2-self.conf.ext
  result_success = return-ok
  result_failure = continue
  result_internalfail = return-fail
}
passdb {
  driver = oauth2
  mechanisms = xoauth2
  args = ${dirs.root}/oauth2-delegate.conf.ext
  result_success = continue-ok
  result_failure = return-fail
  result_internalfail = return-fail
}
passdb {
  driver = passwd-file
  mechanisms = xoauth2
  skip = unauthenticated
  args = username_format=%{passdb:token_user}/%u ${o.delegations}
  result_success = return-ok
  result_failure = return-fail
}
userdb {
  driver = static
  args = uid=${o.owner.uid} gid=${o.owner.gid} home=${dirs.mail}/%u
}
`,
  );
}

/** The destination: passwords (passwd-file, per-user quota rules), plus a master user. */
export async function writeDestinationConfig(
  dirs: InstanceDirs,
  o: { port: number; users: string; masters: string; owner: MailOwner },
): Promise<void> {
  await mkdir(dirs.root, { recursive: true });
  await writeFile(
    dirs.conf,
    `${common("standin-destination", dirs, o.port, o.owner)}auth_mechanisms = plain login
auth_master_user_separator = *
mail_plugins = $mail_plugins quota
protocol imap {
  mail_plugins = $mail_plugins imap_quota
}
plugin {
  quota = count:User quota
  quota_vsizes = yes
  quota_rule = *:storage=0
}
passdb {
  driver = passwd-file
  master = yes
  args = scheme=PLAIN username_format=%u ${o.masters}
  result_success = continue
}
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u ${o.users}
}
userdb {
  driver = passwd-file
  args = username_format=%u ${o.users}
  default_fields = uid=${o.owner.uid} gid=${o.owner.gid} home=${dirs.mail}/%u
}
`,
  );
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Waits until every pid is gone; false when some survived `ms`. */
export async function waitGone(pids: number[], ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (pids.some(alive)) {
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
  return true;
}

/** Every process below `pid` (Linux /proc), so that stopping also ends running imap sessions. */
export async function descendants(pid: number): Promise<number[]> {
  const parents = new Map<number, number[]>();
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await readFile(`/proc/${entry}/stat`, "utf8");
      // Field 4 is the parent; field 2 (the name) may contain spaces, hence after the last ')'.
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      parents.set(ppid, [...(parents.get(ppid) ?? []), Number(entry)]);
    } catch {
      // The process ended while we looked.
    }
  }
  const found: number[] = [];
  const walk = (p: number) => {
    for (const child of parents.get(p) ?? []) {
      found.push(child);
      walk(child);
    }
  };
  walk(pid);
  return found;
}

export async function masterPid(dirs: InstanceDirs): Promise<number | undefined> {
  try {
    const pid = Number((await readFile(path.join(dirs.baseDir, "master.pid"), "utf8")).trim());
    return pid > 0 && alive(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Starts the instance (it forks; the master pid lands in base_dir/master.pid) and waits for it. */
export async function startDovecot(dirs: InstanceDirs): Promise<number> {
  // A stale penalty socket makes auth retry it for 5 s at start-up (gotcha 1).
  await rm(path.join(dirs.baseDir, "anvil-auth-penalty"), { force: true });
  // Ignored stdio: the daemon would keep pipes (and execa waiting) open as long as it runs.
  // Its complaints also go to log_path, which the error message quotes.
  const result = await execa(DOVECOT, ["-c", dirs.conf], { reject: false, stdio: "ignore" });
  if (result.exitCode !== 0) {
    const log = await readFile(dirs.log, "utf8").catch(() => "");
    const last = log.trim().split("\n").slice(-3).join("\n");
    throw new Error(
      `dovecot (${dirs.conf}) did not start (exit ${result.exitCode}): ${last || "no log"}`,
    );
  }
  for (let i = 0; i < 100; i++) {
    const pid = await masterPid(dirs);
    if (pid) return pid;
    await sleep(50);
  }
  throw new Error(`dovecot (${dirs.conf}) wrote no master.pid; see ${dirs.log}`);
}

/** TERMs the master and its children (sessions outlive a master that dies alone) and waits. */
export async function stopDovecot(dirs: InstanceDirs): Promise<void> {
  const pid = await masterPid(dirs);
  if (!pid) return;
  const pids = [pid, ...(await descendants(pid))];
  for (const p of pids) {
    try {
      process.kill(p, "SIGTERM");
    } catch {
      // Already gone.
    }
  }
  if (await waitGone(pids, 10_000)) return;
  for (const p of pids) {
    try {
      process.kill(p, "SIGKILL");
    } catch {
      // Already gone.
    }
  }
  await waitGone(pids, 5000);
}
