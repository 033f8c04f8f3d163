// TLS: imapsync accepts any certificate unless told otherwise; the tool makes it verify both sides.
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, it } from "node:test";
import { loadConfig } from "../../../src/config/load.js";
import { InputError } from "../../../src/errors.js";
import { buildImapsyncArgs, certificateArgs, runPaths } from "../../../src/imapsync/args.js";
import type { Mailbox } from "../../../src/users/types.js";
import { tempDir } from "../../helpers/env.js";

const MAILBOX: Mailbox = {
  source: "a@contoso.com",
  destination: "a@example.org",
  extraArgs: [],
  line: 2,
};

async function argsFor(env: Record<string, string>): Promise<string[]> {
  const dir = await tempDir();
  await writeFile(path.join(dir, "ca.pem"), "-----BEGIN CERTIFICATE-----\n");
  const config = loadConfig(
    {},
    { env: { HOST2: "imap.example.org", ...env }, envFile: false, cwd: dir, require: [] },
  );
  return buildImapsyncArgs({
    mailbox: MAILBOX,
    config,
    tokenFile: "/w/token",
    files: runPaths("/w", MAILBOX.source, 1),
  });
}

/** Every `--sslargsN VALUE` pair, as "N VALUE". */
function sslargs(args: string[]): string[] {
  return args.flatMap((word, i) =>
    /^--sslargs[12]$/.test(word) ? [`${word.slice(-1)} ${args[i + 1]}`] : [],
  );
}

describe("certificate verification", () => {
  it("verifies both sides by default (Office 365 source, SSL destination)", async () => {
    assert.deepEqual(sslargs(await argsFor({})), ["1 SSL_verify_mode=1", "2 SSL_verify_mode=1"]);
  });

  it("uses the CA file given for each side, as an absolute path", async () => {
    const args = await argsFor({
      CA1_FILE: "ca.pem",
      CA2_FILE: "ca.pem",
      TLS1: "starttls",
      HOST1: "h",
    });
    const [one, two] = [
      sslargs(args).filter((a) => a.startsWith("1")),
      sslargs(args).filter((a) => a.startsWith("2")),
    ];
    assert.equal(one.length, 2);
    assert.match(one[1]!, /^1 SSL_ca_file=\/.*\/ca\.pem$/);
    assert.match(two[1]!, /^2 SSL_ca_file=\/.*\/ca\.pem$/);
  });

  it("turns verification off only when asked, per side", async () => {
    assert.deepEqual(sslargs(await argsFor({ TLS2_VERIFY: "off" })), [
      "1 SSL_verify_mode=1",
      "2 SSL_verify_mode=0",
    ]);
    assert.deepEqual(sslargs(await argsFor({ TLS1_VERIFY: "false" })), [
      "1 SSL_verify_mode=0",
      "2 SSL_verify_mode=1",
    ]);
  });

  it("adds nothing for a side without TLS", async () => {
    assert.deepEqual(sslargs(await argsFor({ TLS1: "none", HOST1: "h", TLS2: "none" })), []);
    assert.deepEqual(certificateArgs(2, "none", { verify: true, caFile: "/ca.pem" }), []);
    assert.deepEqual(certificateArgs(2, "starttls"), ["--sslargs2", "SSL_verify_mode=1"]);
  });

  it("refuses a CA file that cannot be read, before anything runs", async () => {
    await assert.rejects(argsFor({ CA2_FILE: "missing.pem" }), (error: Error) => {
      assert.ok(error instanceof InputError);
      assert.match(
        error.message,
        /CA2_FILE \(flag --ca2-file\) names .*missing\.pem, which does not exist; point it at a readable PEM file/,
      );
      return true;
    });
  });
});
