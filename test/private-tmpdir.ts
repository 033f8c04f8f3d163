// `npm test` runs the suite through this: the command given runs with TMPDIR set to a fresh
// directory of its own, so that whatever a test leaves behind is seen. After a passing run that
// directory must be empty (tempDir() in test/helpers/env.ts removes what its callers made; who
// starts Dovecot, Radicale or Chromium removes what they made): leftovers fail the run, named, and
// are removed. After a failing run it is kept and named: it holds what someone debugging needs.
import { spawn } from "node:child_process";
import { chmod, mkdtemp, readdir, rm } from "node:fs/promises";
import { constants, tmpdir } from "node:os";
import path from "node:path";

/** How many leftovers are named; the count says the rest. */
const SHOWN = 40;

const [command, ...args] = process.argv.slice(2);
if (command === undefined) {
  process.stderr.write("usage: node dist/test/private-tmpdir.js <command> [argument...]\n");
  process.exit(2);
}

const dir = await mkdtemp(path.join(tmpdir(), "m365-test-tmp-"));
// The stand-in's Dovecot runs its mail processes as another uid: they must walk through.
await chmod(dir, 0o711);

const child = spawn(command, args, { stdio: "inherit", env: { ...process.env, TMPDIR: dir } });
// Ctrl-C reaches the suite by itself (same process group); a signal sent to this process alone
// is passed on. Either way the suite ends before the directory is looked at.
process.on("SIGINT", () => {});
for (const signal of ["SIGTERM", "SIGHUP"] as const) {
  process.on(signal, () => child.kill(signal));
}
const code = await new Promise<number>((resolve, reject) => {
  child.on("error", reject);
  child.on("close", (exitCode, signal) =>
    resolve(exitCode ?? 128 + (signal ? constants.signals[signal] : 0)),
  );
});

if (code !== 0) {
  process.stderr.write(`# TMPDIR of this failed run, kept: ${dir}\n`);
  process.exit(code);
}
const left = await readdir(dir);
await rm(dir, { recursive: true, force: true });
if (left.length > 0) {
  process.stderr.write(
    `# the tests passed but left ${left.length} entries in TMPDIR (now removed); ` +
      `make what created them remove them (test/helpers/env.ts tempDir() does):\n` +
      left
        .sort()
        .slice(0, SHOWN)
        .map((name) => `#   ${name}\n`)
        .join("") +
      (left.length > SHOWN ? `#   and ${left.length - SHOWN} more\n` : ""),
  );
  process.exit(1);
}
