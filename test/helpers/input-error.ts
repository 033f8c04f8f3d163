import assert from "node:assert/strict";
import { InputError } from "../../src/errors.js";

/** `fn` throws an InputError (exit 2) whose message starts with `where:` and says `problem`. */
export function assertInputError(fn: () => unknown, where: string, problem: RegExp): void {
  assert.throws(fn, (error) => {
    assert.ok(error instanceof InputError, String(error));
    assert.equal(error.exitCode, 2);
    assert.ok(error.message.startsWith(`${where}: `), error.message);
    assert.match(error.message, problem);
    return true;
  });
}
