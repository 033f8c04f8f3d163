// --only/--exclude moved from a hand-written glob translator to picomatch: the matching must not
// change. The translator is kept here, as it was, as the oracle of a property test.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { globMatcher } from "../../../src/users/select.js";

/** The matcher --only/--exclude used before picomatch (src/users.ts at 41da567), unchanged. */
function globToRegExp(glob: string): RegExp | undefined {
  let source = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob.charAt(i);
    const close = c === "[" ? glob.indexOf("]", i + 2) : -1;
    if (c === "*") {
      if (!source.endsWith(".*")) source += ".*";
    } else if (c === "?") source += ".";
    else if (close !== -1) {
      const body = glob.slice(i + 1, close);
      const negated = body.startsWith("!");
      const members = (negated ? body.slice(1) : body).replace(/[\\\]^[]/g, "\\$&");
      source += `[${negated ? "^" : ""}${members}]`;
      i = close;
    } else source += c.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
  }
  try {
    return new RegExp(`^${source}$`, "isu");
  } catch {
    return undefined;
  }
}

/** Glob syntax, picomatch's syntax (braces, extglobs, negation, escapes), path separators, case. */
const CHARS = [..."aAbBzZ09.-_@/\\*?[]!^{}()|+$,éÉſK", "🙂", "\u212A", "ß"];
const text = (minLength: number) =>
  fc.array(fc.constantFrom(...CHARS), { minLength, maxLength: 12 }).map((a) => a.join(""));
/** What patterns are matched against: source addresses, which always hold an "@". */
const address = fc.tuple(text(0), text(0)).map(([local, domain]) => `${local}@${domain}`);
/** selectMailboxes splits patterns at commas and trims them: a pattern never holds either. */
const pattern = text(1)
  .map((p) => p.replaceAll(",", "").trim())
  .filter((p) => p !== "");

describe("globMatcher (picomatch) against the matcher it replaced", () => {
  it("accepts and refuses the same patterns, and matches the same addresses", () => {
    fc.assert(
      fc.property(pattern, fc.array(address, { minLength: 1, maxLength: 5 }), (glob, subjects) => {
        const before = globToRegExp(glob);
        const after = globMatcher(glob);
        assert.equal(after === undefined, before === undefined, `validity of ${glob}`);
        for (const subject of subjects) {
          assert.equal(after?.(subject), before?.test(subject), `${glob} on ${subject}`);
        }
      }),
      { numRuns: 5000 },
    );
  });

  it("cases the property might rarely draw", () => {
    for (const [glob, subject] of [
      ["{a,b}@x", "{a,b}@x"],
      ["+(a)@x", "+(a)@x"],
      ["!(a)@x", "!(a)@x"],
      ["!a@x", "!a@x"],
      ["a/b@x", "a/b@x"],
      ["*@x", "a/b@x"],
      ["[+-0]@x", "/@x"],
      ["[!a]@x", "/@x"],
      ["\\\\@x", "\\\\@x"],
      ["[\\]@x", "\\@x"],
      ["ſ*", "S@x"],
      ["K*", "\u212A@x"],
      ["?@x", "🙂@x"],
      ["a**b", "a/x/b"],
    ] as const) {
      assert.equal(globMatcher(glob)?.(subject), globToRegExp(glob)?.test(subject), glob);
    }
  });
});
