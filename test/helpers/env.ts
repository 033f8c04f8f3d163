import { rmSync } from "node:fs";
import { chmod, mkdtemp, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { execa } from "execa";
import { secretForms } from "../../src/secrets.js";

/** The repository root, from dist/test/helpers/. */
export const ROOT = path.resolve(import.meta.dirname, "../../..");
export const CLI = path.join(ROOT, "dist/src/cli.js");
export const DOUBLES = path.join(ROOT, "dist/test/doubles");
export const FIXTURES = path.join(ROOT, "fixtures");

const tempDirs: string[] = [];

/**
 * A fresh directory under TMPDIR, removed when this process ends well. `node --test` runs each
 * test file in a process of its own, which exits non-zero when a test failed: then the
 * directories are kept, for whoever debugs it, and named on stderr.
 */
export async function tempDir(prefix = "m365-imapsync-"): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  if (tempDirs.length === 0) process.on("exit", removeTempDirs);
  tempDirs.push(dir);
  return dir;
}

function removeTempDirs(code: number): void {
  if (code !== 0) {
    process.stderr.write(`kept for debugging (exit code ${code}):\n${tempDirs.join("\n")}\n`);
    return;
  }
  // A child that is still going (a killed CLI's double) may write while the tree goes.
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
}

export interface CliResult {
  exitCode: number | undefined;
  stdout: string;
  stderr: string;
}

/** Runs the built CLI as a user would, without a terminal. */
export async function runCli(
  args: string[],
  opts: { cwd: string; env: Record<string, string>; timeoutMs?: number },
): Promise<CliResult> {
  const result = await execa("node", [CLI, ...args], {
    cwd: opts.cwd,
    env: { NO_COLOR: "1", ...opts.env },
    extendEnv: true,
    reject: false,
    stdin: "ignore",
    timeout: opts.timeoutMs ?? 120_000,
  });
  return { exitCode: result.exitCode, stdout: result.stdout, stderr: result.stderr };
}

/**
 * A directory put first on PATH with an `xdg-open` that plays browser and Entra ID: it completes
 * every sign-in oauth2c asks for, as the fixtures' scripted opener did.
 */
export async function fakeBrowserPath(dir: string): Promise<string> {
  const opener = path.join(dir, "xdg-open");
  await writeFile(
    opener,
    `#!/bin/sh\nexec node ${JSON.stringify(path.join(DOUBLES, "fake-browser.js"))} "$@"\n`,
  );
  await chmod(opener, 0o755);
  return `${dir}:${process.env.PATH ?? ""}`;
}

/** Every regular file below `dir`, recursively. */
export async function filesBelow(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) out.push(path.join(entry.parentPath, entry.name));
  }
  return out;
}

export interface SecretHit {
  where: string;
  secret: string;
}

/** Looks for every form of every secret in every text; returns where each was found. */
export function scanForSecrets(texts: Record<string, string>, secrets: string[]): SecretHit[] {
  const hits: SecretHit[] = [];
  for (const [where, text] of Object.entries(texts)) {
    for (const secret of secrets) {
      if (secretForms(secret).some((form) => text.includes(form))) hits.push({ where, secret });
    }
  }
  return hits;
}

export async function readTexts(files: string[]): Promise<Record<string, string>> {
  const texts: Record<string, string> = {};
  for (const file of files) texts[file] = await readFile(file, "utf8");
  return texts;
}

export async function mode(file: string): Promise<number> {
  return (await stat(file)).mode & 0o777;
}

/** Polls `check` every 50 ms; throws, saying what was awaited, when `ms` pass first. */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  ms: number,
  what = "the awaited condition",
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what} not reached within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
