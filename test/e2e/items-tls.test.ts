// Calendars into a CalDAV server behind TLS through the built CLI: a real Radicale speaking HTTPS
// with a throwaway self-signed certificate, judged by the destination's TLS2_VERIFY and CA2_FILE
// as the mail's destination is.
import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { runCli, tempDir } from "../helpers/env.js";
import { graphEnv, startGraphWorld, type GraphWorld } from "../helpers/graph-standin.js";
import { selfSignedCertificate, startRadicale, type Radicale } from "../helpers/radicale.js";

const PASSWORD = "carol-dav-pw";

let world: GraphWorld;
let radicale: Radicale;
let certificate = "";
let dir = "";
before(async () => {
  dir = await tempDir("items-tls-");
  const tls = await selfSignedCertificate(dir);
  certificate = tls.certificate;
  world = await startGraphWorld();
  radicale = await startRadicale({ "carol@example.net": PASSWORD }, { tls });
  await writeFile(
    path.join(dir, "users.csv"),
    `source,destination,password\ncarol@contoso.test,carol@example.net,${PASSWORD}\n`,
  );
});
after(async () => {
  await radicale?.stop();
  await world?.stop();
});

const run = (command: string, env: Record<string, string>) =>
  runCli([command, "--users", "users.csv"], {
    cwd: dir,
    env: {
      ITEMS: "calendar",
      ...graphEnv(world),
      DAV_URL: radicale.url,
      WORK_DIR: path.join(dir, `work-${command}-${Object.keys(env).join("-") || "none"}`),
      ...env,
    },
  });

describe("DAV_URL over https: TLS2_VERIFY and CA2_FILE", () => {
  it("check refuses the self-signed certificate without CA2_FILE: tls_failed, naming both settings", async () => {
    const checked = await run("check", {});
    assert.equal(checked.exitCode, 1, checked.stderr);
    assert.match(
      checked.stdout,
      /carol@contoso\.test +calendar +tls_failed +The TLS handshake with the CalDAV\/CardDAV server at https:\/\/127\.0\.0\.1:\d+ failed \(.+\): .*CA2_FILE.*TLS2_VERIFY=false/,
    );
  });

  it("migrate with CA2_FILE stores the calendar over TLS", async () => {
    const migrated = await run("migrate", { CA2_FILE: certificate });
    assert.equal(migrated.exitCode, 0, migrated.stderr);
    const report = JSON.parse(
      await readFile(path.join(dir, "work-migrate-CA2_FILE", "report.json"), "utf8"),
    );
    const part = report.mailboxes[0].parts[0];
    assert.equal(part.status, "ok");
    assert.equal(part.counts.sent, 1);
    assert.match(part.locations[0], /^https:\/\/127\.0\.0\.1:\d+\/carol@example\.net\//);
  });

  it("check with TLS2_VERIFY=off accepts it", async () => {
    const checked = await run("check", { TLS2_VERIFY: "off" });
    assert.equal(checked.exitCode, 0, checked.stderr);
    assert.match(checked.stdout, /carol@contoso\.test +calendar +ok +1 calendars to move/);
  });
});
