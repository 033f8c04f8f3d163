// A work directory, a users file and the doubles' world for driving the built CLI as an admin
// would: runs to completion, or started in the background to be signalled or killed.
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { readFileSync } from "node:fs";
import { after } from "node:test";
import { execa, type ResultPromise } from "execa";
import { loadReport } from "../../src/report/store.js";
import type { Report } from "../../src/report/schema.js";
import { CLI, DOUBLES, fakeBrowserPath, runCli, tempDir, type CliResult } from "./env.js";
import { mintAccessToken } from "../doubles/entra.js";
import { doubleCalls, makeWorld, type World } from "./imapsync-world.js";
import { freePort } from "../../scripts/standin/ports.js";

import { ADMIN, ENTRA_APP, TENANT } from "./constants.js";

export { ADMIN, ENTRA_APP };

/**
 * The settings that point the CLI at the doubles (imapsync, oauth2c, the fake browser for
 * sign-ins), for a work directory below `dir`; `worldEnv` names the imapsync double's world.
 */
export async function doublesEnv(
  dir: string,
  workDir: string,
  worldEnv: Record<string, string>,
): Promise<Record<string, string>> {
  return {
    LOGIN_HINT: ADMIN,
    HOST2: "127.0.0.1",
    PORT2: "13003",
    TLS2: "none",
    OAUTH2C_BIN: `node ${path.join(DOUBLES, "oauth2c.js")}`,
    IMAPSYNC_BIN: `node ${path.join(DOUBLES, "imapsync.js")}`,
    WORK_DIR: workDir,
    CALLBACK_PORT: String(await freePort()),
    PATH: await fakeBrowserPath(dir),
    FAKE_BROWSER_LOG: path.join(dir, "minted.jsonl"),
    ...worldEnv,
  };
}

/** Mailboxes `name@contoso.test` with their destination passwords, delegated to ADMIN. */
export function usersAndWorld(
  passwords: Record<string, string>,
  world: Partial<World> = {},
): { users: string; world: World } {
  const rows = Object.entries(passwords).map(
    ([name, password]) => `${name}@contoso.test,,"${password.replace(/"/g, '""')}",`,
  );
  return {
    users: ["source,destination,password,password_file", ...rows, ""].join("\n"),
    world: {
      delegations: { [ADMIN]: Object.keys(passwords).map((name) => `${name}@contoso.test`) },
      passwords: Object.fromEntries(
        Object.entries(passwords).map(([name, password]) => [`${name}@contoso.test`, password]),
      ),
      ...world,
    },
  };
}

export interface Background {
  child: ResultPromise<{ reject: false; stdin: "ignore"; detached: true }>;
  /** stderr so far. */
  stderr(): string;
}

export interface Scene {
  dir: string;
  workDir: string;
  usersFile: string;
  stateDir: string;
  env: Record<string, string>;
  /** stdout and stderr of every run, for the secret scan. */
  outputs: Record<string, string>;
  run(args: string[], extraEnv?: Record<string, string>): Promise<CliResult>;
  /** The CLI in its own process group (as a shell runs a foreground job), not awaited. */
  start(args: string[], extraEnv?: Record<string, string>): Background;
  report(): Promise<Report>;
  setWorld(world: World): Promise<void>;
}

/** Every CLI started in the background, and where its imapsync doubles record their pids. */
const backgrounds: { pid: number | undefined; stateDir: string }[] = [];

// A test that fails half-way must not leave a migration running: the file would never end, and
// CI must leave nothing behind. The CLI's process group goes, then every imapsync double it
// started (they run in process groups of their own; a stalled one would live forever).
after(async () => {
  for (const { pid, stateDir } of backgrounds) {
    if (pid !== undefined) killQuietly(-pid);
    for (const span of await runSpans(stateDir)) {
      // Only a double that never recorded its end, and only if that pid is still a double.
      if (span.end === undefined && isImapsyncDouble(span.pid)) killQuietly(span.pid);
    }
  }
});

function isImapsyncDouble(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("doubles/imapsync.js");
  } catch {
    return false;
  }
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    // Already gone.
  }
}

/**
 * `signIn: "token"` puts a valid token in the work directory (no oauth2c run); "oauth2c" signs in
 * through the oauth2c double and the fake browser, as an admin would.
 */
export async function makeScene(p: {
  users: string;
  world: World;
  env?: Record<string, string>;
  signIn?: "token" | "oauth2c";
}): Promise<Scene> {
  const dir = await tempDir("m365-scene-");
  const workDir = path.join(dir, "work");
  const usersFile = path.join(dir, "users.csv");
  await writeFile(usersFile, p.users);
  const doubles = await makeWorld(dir, p.world);
  if (p.signIn !== "oauth2c") {
    await mkdir(workDir, { recursive: true, mode: 0o700 });
    await writeFile(
      path.join(workDir, "token"),
      `${mintAccessToken({ upn: ADMIN, ttlSec: 3600, appId: "app-ok", tid: TENANT })}\n`,
      { mode: 0o600 },
    );
  }
  const env: Record<string, string> = {
    ...(await doublesEnv(dir, workDir, doubles.env)),
    ...ENTRA_APP,
    TOKEN_MARGIN: "0",
    MAX_BACKOFF: "1s",
    ...p.env,
  };
  const outputs: Record<string, string> = {};
  let runs = 0;
  const keep = (stdout: string, stderr: string) => {
    runs++;
    outputs[`run ${runs} stdout`] = stdout;
    outputs[`run ${runs} stderr`] = stderr;
  };
  return {
    dir,
    workDir,
    usersFile,
    stateDir: doubles.stateDir,
    env,
    outputs,
    setWorld: doubles.update,
    async run(args, extraEnv = {}) {
      const result = await runCli(args, { cwd: dir, env: { ...env, ...extraEnv } });
      keep(result.stdout, result.stderr);
      return result;
    },
    start(args, extraEnv = {}) {
      let stderr = "";
      let stdout = "";
      const child = execa("node", [CLI, ...args], {
        cwd: dir,
        env: { NO_COLOR: "1", ...env, ...extraEnv },
        reject: false,
        stdin: "ignore",
        detached: true,
      });
      child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
      child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
      void child.finally(() => keep(stdout, stderr));
      backgrounds.push({ pid: child.pid, stateDir: doubles.stateDir });
      return { child, stderr: () => stderr };
    },
    /** The report as the tool reads it: report.json brought up to date from its journal. */
    report() {
      return loadReport(path.join(workDir, "report.json"));
    },
  };
}

/** One imapsync double run: from its start record to its end record (undefined: never ended). */
export interface RunSpan {
  pid: number;
  user1: string;
  argv: string[];
  start: number;
  end?: number;
  outcome?: string;
}

export async function runSpans(stateDir: string): Promise<RunSpan[]> {
  const text = await readFile(path.join(stateDir, "starts.jsonl"), "utf8").catch(() => "");
  const ends = new Map((await doubleCalls(stateDir)).map((call) => [call.pid, call]));
  return text
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { pid: number; argv: string[]; start: string })
    .map((start) => {
      const end = ends.get(start.pid);
      const user1 = start.argv[start.argv.indexOf("--user1") + 1] ?? "";
      return {
        pid: start.pid,
        user1: user1.toLowerCase(),
        argv: start.argv,
        start: Date.parse(start.start),
        end: end ? Date.parse(end.end) : undefined,
        outcome: end?.outcome,
      };
    });
}

/** Pairs of runs of one mailbox whose [start, end] overlap (a run without an end never ends). */
export function overlaps(spans: RunSpan[]): [RunSpan, RunSpan][] {
  const found: [RunSpan, RunSpan][] = [];
  const sorted = [...spans].sort((a, b) => a.start - b.start);
  for (const [i, a] of sorted.entries()) {
    for (const b of sorted.slice(i + 1)) {
      if (a.user1 === b.user1 && b.start < (a.end ?? Infinity)) found.push([a, b]);
    }
  }
  return found;
}
