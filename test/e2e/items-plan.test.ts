// `migrate --plan` with calendars and contacts selected, through the built CLI: a line per part of
// every mailbox, after its mail's; without mail, neither HOST2 nor imapsync is needed.
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, it } from "node:test";
import { runCli, tempDir } from "../helpers/env.js";

const USERS =
  "source,destination\nalice@contoso.test,alice@example.net\nÉlodie@contoso.test,elodie@example.net\n";

async function folder() {
  const dir = await tempDir("items-plan-");
  await writeFile(path.join(dir, "users.csv"), USERS);
  return dir;
}

describe("migrate --plan with ITEMS", () => {
  it("--json: each mailbox's mail line (part mail), then its calendar and contacts lines", async () => {
    const dir = await folder();
    const env = { HOST2: "imap.example.net", WORK_DIR: path.join(dir, "work") };
    const args = [
      "migrate",
      "--users",
      "users.csv",
      "--plan",
      "--json",
      "--items",
      "mail,calendar,contacts",
    ];
    const run = await runCli(args, { cwd: dir, env });
    assert.equal(run.exitCode, 0, run.stderr);
    const lines = run.stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    assert.deepEqual(
      lines.map(
        (l) => `${String(l.source)} ${String(l.part)} ${String(l.mode)} ${String(l.attempt)}`,
      ),
      [
        "alice@contoso.test mail sync 1",
        "alice@contoso.test calendar sync 1",
        "alice@contoso.test contacts sync 1",
        "Élodie@contoso.test mail sync 1",
        "Élodie@contoso.test calendar sync 1",
        "Élodie@contoso.test contacts sync 1",
      ],
    );
    assert.equal(
      lines[1]!.stateFile,
      path.join(dir, "work", "items", "alice@contoso.test.calendar.json"),
    );
    assert.ok(Array.isArray(lines[0]!.argv), "the mail line is the mail's plan as before");
  });

  it("without mail: no HOST2, no imapsync; text lines name each part", async () => {
    const dir = await folder();
    const env = {
      WORK_DIR: path.join(dir, "work"),
      IMAPSYNC_BIN: "/nonexistent/imapsync",
      ITEMS: "contacts",
    };
    const run = await runCli(["migrate", "--users", "users.csv", "--plan"], { cwd: dir, env });
    assert.equal(run.exitCode, 0, run.stderr);
    assert.doesNotMatch(run.stderr, /imapsync/);
    assert.deepEqual(
      run.stdout
        .trim()
        .split("\n")
        .map((line) => line.replace(/ \(Microsoft Graph.*$/, "")),
      [
        "# alice@contoso.test -> alice@example.net: contacts, attempt 1",
        "# Élodie@contoso.test -> elodie@example.net: contacts, attempt 1",
      ],
    );
  });
});
