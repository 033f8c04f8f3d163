// The architecture check itself (`npm run arch`): on a small tree that breaks its rules, it names
// each broken rule and fails; on src/ as it is, it passes.
import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, it } from "node:test";
import { execa } from "execa";
import { ROOT, tempDir } from "../helpers/env.js";

const DEPCRUISE = path.join(ROOT, "node_modules/.bin/depcruise");
const CONFIG = path.join(ROOT, ".dependency-cruiser.json");

/** Each file of the broken tree and what it imports. */
const BROKEN: Record<string, string[]> = {
  "src/outcomes/classes.ts": ["./remedies.js"],
  "src/outcomes/remedies.ts": ["./classes.js"],
  "src/imapsync/args.ts": ["../engine/clock.js"],
  "src/engine/clock.ts": [],
  "src/commands/migrate.ts": ["./verify.js", "../token/keeper.js"],
  "src/commands/verify.ts": [],
  "src/token/keeper.ts": [],
  "src/report/summary.ts": ["node:child_process"],
};

async function cruise(cwd: string): Promise<{ exitCode?: number; rules: string[] }> {
  // The output `npm run arch` prints: one "error <rule>: <from> → <to>" line per violation.
  const result = await execa(DEPCRUISE, ["src", "--config", CONFIG], {
    cwd,
    reject: false,
    timeout: 120_000,
  });
  const named = [...result.stdout.matchAll(/^\s*error ([\w-]+):/gm)].map((m) => m[1]!);
  return { exitCode: result.exitCode, rules: [...new Set(named)].sort() };
}

describe("architecture check", { timeout: 300_000 }, () => {
  it("fails on a cycle, on the engine reached from imapsync/, on a command importing another, on the token wing's inside and on a spawn outside the programs' folders", async () => {
    const dir = await tempDir("m365-arch-");
    await writeFile(
      path.join(dir, "tsconfig.json"),
      JSON.stringify({ compilerOptions: { module: "NodeNext", moduleResolution: "NodeNext" } }),
    );
    for (const [file, imports] of Object.entries(BROKEN)) {
      await mkdir(path.dirname(path.join(dir, file)), { recursive: true });
      const text = imports.map((spec) => `import "${spec}";\n`).join("") + "export {};\n";
      await writeFile(path.join(dir, file), text);
    }
    const { exitCode, rules } = await cruise(dir);
    assert.notEqual(exitCode, 0);
    assert.deepEqual(rules, [
      "commands-do-not-import-each-other",
      "imapsync-below-the-engine",
      "no-cycles",
      "programs-run-in-their-folder",
      "token-wing-through-its-face",
    ]);
  });

  it("passes on src/ as it is", async () => {
    const { exitCode, rules } = await cruise(ROOT);
    assert.deepEqual(rules, []);
    assert.equal(exitCode, 0);
  });
});
