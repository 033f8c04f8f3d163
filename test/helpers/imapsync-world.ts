import { mkdir, readFile, writeFile } from "node:fs/promises";
import { unsignedJwt } from "./jwt.js";
import path from "node:path";
import type { Command } from "../../src/config/types.js";
import { DOUBLES, FIXTURES } from "./env.js";

/** The imapsync test double as a Command, as config.imapsync would hold it. */
export const IMAPSYNC_DOUBLE: Command = {
  file: process.execPath,
  args: [path.join(DOUBLES, "imapsync.js")],
};

/** What the double's servers know (see test/doubles/imapsync.ts). */
export interface World {
  delegations: Record<string, string[]>;
  passwords: Record<string, string>;
  quota?: string[];
  throttle?: Record<string, number>;
  /**
   * Throttled like Exchange Online, per mailbox: a run that copied is followed by a refusal, for
   * `windowMs` or for the next `refusedRuns` runs, in which runs copy nothing; `productive` runs
   * copy before the one that ends ok; `fromStart`: refused from the first run on.
   */
  throttleWindow?: Record<
    string,
    { productive: number; windowMs?: number; refusedRuns?: number; fromStart?: boolean }
  >;
  stall?: Record<string, number>;
  /** Runs that must have begun before any replay goes on: proves they ran at once, at any speed. */
  together?: number;
  /** Replay pace (default 20000 lines a second). */
  linesPerSecond?: number;
  /**
   * A big mailbox: any replay for it takes this many seconds, whatever the fixture's length (a
   * modelled mailbox's `--justfolders` and `--justfoldersizes` runs excepted: they only list).
   */
  seconds?: Record<string, number>;
  /** What a folder-size listing of the mailbox shows: a file of fixtures/imapsync-2.229-verify. */
  verify?: Record<string, string>;
  /** The destination password is tried by a real IMAP LOGIN at --host2 instead (plain TCP). */
  destinationLogin?: boolean;
  /**
   * Mailboxes whose folders and messages the double models instead of replaying a recorded copy
   * (see test/doubles/mailbox-model.ts): `--folder`, `--f1f2`, `--search1`, `--justfolders` and
   * `--justfoldersizes` then act on them as on a server; what reached the destination is kept.
   */
  mailboxes?: Record<string, ModelFolder[]>;
  /** A modelled mailbox's run that copies this folder ends quota_exceeded (the recorded one). */
  brokenFolder?: Record<string, string>;
}

/**
 * A source folder of a modelled mailbox: `messages` of `size` bytes (default 100,000), their
 * INTERNALDATEs spread evenly over `days` days from `firstDay` (default one day: a PST import).
 */
export interface ModelFolder {
  name: string;
  messages: number;
  size?: number;
  firstDay?: string;
  days?: number;
}

export interface WorldFiles {
  worldFile: string;
  stateDir: string;
  /** Environment for the double. */
  env: Record<string, string>;
  /** Rewrites the world between runs (the double reads it at each start). */
  update(world: World): Promise<void>;
}

export async function makeWorld(dir: string, world: World): Promise<WorldFiles> {
  const stateDir = path.join(dir, "double-state");
  await mkdir(stateDir, { recursive: true });
  const worldFile = path.join(dir, "world.json");
  const update = (w: World) =>
    writeFile(worldFile, JSON.stringify({ ...w, fixturesDir: FIXTURES, stateDir }));
  await update(world);
  return { worldFile, stateDir, env: { IMAPSYNC_DOUBLE_WORLD: worldFile }, update };
}

/** An unsigned JWT with the claims the double reads, as the fake Entra ID would mint it. */
export function mintToken(claims: { upn: string; exp: number }): string {
  return unsignedJwt({ ...claims, scp: "IMAP.AccessAsUser.All" });
}

export const inSeconds = (seconds: number): number => Math.floor(Date.now() / 1000) + seconds;

/** One invocation of the double, as it recorded it. */
export interface DoubleCall {
  argv: string[];
  cmdline: string[];
  env: Record<string, string>;
  cwd: string;
  pid: number;
  user1: string;
  mode: string;
  outcome: string;
  fixture?: string;
  exitCode: number | null;
  signal: string | null;
  passfiles: { passfile1: string | null; passfile2: string | null };
  pidfileExisted: boolean;
  stdin: string;
  start: string;
  end: string;
}

export async function doubleCalls(stateDir: string): Promise<DoubleCall[]> {
  const text = await readFile(path.join(stateDir, "calls.jsonl"), "utf8").catch(() => "");
  return text
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as DoubleCall);
}
