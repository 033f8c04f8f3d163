// CONCURRENCY=auto and MAX_CONCURRENCY, from flags and the environment.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { loadConfig } from "../../../src/config/load.js";
import { InputError } from "../../../src/errors.js";

const load = (flags: Record<string, unknown>, env: Record<string, string> = {}) =>
  loadConfig(flags, { env, envFile: false, cwd: "/", require: [] });

describe("--concurrency auto", () => {
  it("takes auto (any case) or a number; --max-concurrency bounds auto", () => {
    assert.equal(load({ concurrency: "auto" }).concurrency, "auto");
    assert.equal(load({}, { CONCURRENCY: " AUTO " }).concurrency, "auto");
    assert.equal(load({ concurrency: "8" }).concurrency, 8);
    assert.equal(load({}).maxConcurrency, 16);
    assert.equal(load({}, { MAX_CONCURRENCY: "32" }).maxConcurrency, 32);
  });

  it("refuses anything else, naming the setting", () => {
    assert.throws(
      () => load({ concurrency: "sometimes" }),
      (error) =>
        error instanceof InputError && /CONCURRENCY \(flag --concurrency\)/.test(error.message),
    );
    assert.throws(() => load({}, { MAX_CONCURRENCY: "auto" }), InputError);
  });
});
