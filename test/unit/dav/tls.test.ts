// The DAV destination's TLS settings (the mail destination's TLS2_VERIFY and CA2_FILE) against a
// real Radicale speaking HTTPS with a throwaway self-signed certificate: refused by default,
// trusted through the CA file, accepted unchecked only when verification is turned off.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { after, before, describe, it } from "node:test";
import { DavDestination } from "../../../src/dav/destination.js";
import { classifyDavFailure, DavError } from "../../../src/dav/failure.js";
import { davTlsOf } from "../../../src/dav/open.js";
import { tempDir } from "../../helpers/env.js";
import { selfSignedCertificate, startRadicale, type Radicale } from "../../helpers/radicale.js";

const ALICE = { user: "alice@contoso.test", password: "alice-secret" };

let dir = "";
let radicale: Radicale;
let certificate = "";
before(async () => {
  dir = await tempDir("dav-tls-");
  const tls = await selfSignedCertificate(dir);
  certificate = tls.certificate;
  radicale = await startRadicale({ [ALICE.user]: ALICE.password }, { tls });
});
after(() => radicale?.stop());

describe("DAV over TLS: the destination's certificate settings", () => {
  it("refuses a certificate no CA vouches for: tls_failed, the remedy naming CA2_FILE and TLS2_VERIFY", async () => {
    assert.match(radicale.url, /^https:\/\/127\.0\.0\.1:\d+\/$/);
    for (const tls of [undefined, { verify: true }]) {
      const dav = new DavDestination({ url: radicale.url }, ALICE, { tls });
      const error = await dav.home("calendar").then(
        () => assert.fail("a self-signed certificate was accepted"),
        (e: unknown) => e,
      );
      assert.ok(error instanceof DavError, String(error));
      assert.equal(error.fault.kind, "tls");
      const verdict = classifyDavFailure(error);
      assert.equal(verdict.class, "tls_failed");
      assert.equal(verdict.lostConnection, false);
      assert.match(verdict.remedy, /CA2_FILE/);
      assert.match(verdict.remedy, /TLS2_VERIFY=false/);
    }
  });

  it("trusts the CA file's certificate (read as CA2_FILE is), and accepts any with verification off", async () => {
    const trusted = await davTlsOf({ verify: true, caFile: certificate });
    assert.equal(trusted?.ca, await readFile(certificate, "utf8"));
    const home = `${radicale.url}${encodeURIComponent(ALICE.user)}/`;
    const viaCa = new DavDestination({ url: radicale.url }, ALICE, { tls: trusted });
    assert.equal(await viaCa.home("calendar"), home);
    const unchecked = new DavDestination({ url: radicale.url }, ALICE, {
      tls: await davTlsOf({ verify: false }),
    });
    assert.equal(await unchecked.home("contacts"), home);
  });
});
