// --only / --exclude: which mailboxes of the users file this run is about. Patterns are shell
// globs matched by picomatch, with the meaning they always had here (see globMatcher).
import picomatch from "picomatch";
import { InputError } from "../errors.js";
import type { Mailbox } from "./types.js";

export interface Selection {
  only?: string[];
  exclude?: string[];
}

/**
 * Keeps the mailboxes whose source address matches an --only pattern (all when none is given),
 * minus those matching an --exclude pattern. Patterns are case-insensitive shell globs.
 */
export function selectMailboxes(mailboxes: Mailbox[], sel: Selection): Mailbox[] {
  const only = patterns(sel.only, "--only");
  const exclude = patterns(sel.exclude, "--exclude");
  for (const pattern of only) {
    if (!mailboxes.some((mailbox) => pattern.test(mailbox.source))) {
      throw new InputError(
        "--only",
        `the pattern "${pattern.text}" matches no source mailbox of the users file`,
        "Check its spelling; patterns are matched against the source column, like *@contoso.com or alice@*.",
      );
    }
  }
  const selected = mailboxes.filter(
    (mailbox) =>
      (only.length === 0 || only.some((pattern) => pattern.test(mailbox.source))) &&
      !exclude.some((pattern) => pattern.test(mailbox.source)),
  );
  if (selected.length === 0) {
    throw new InputError(
      "--only/--exclude",
      "no mailbox is left to migrate",
      "Loosen --exclude or widen --only.",
    );
  }
  return selected;
}

/** Accepts repeated flags as well as comma-separated lists ("--only a@x,b@x"). */
function patterns(
  texts: string[] | undefined,
  flag: string,
): { text: string; test: (address: string) => boolean }[] {
  return (texts ?? [])
    .flatMap((text) => text.split(","))
    .map((text) => text.trim())
    .filter((text) => text !== "")
    .map((text) => {
      const test = globMatcher(text);
      if (test === undefined) {
        throw new InputError(
          flag,
          `the pattern "${text}" has an invalid [...] range`,
          "Write ranges in order, like [a-f].",
        );
      }
      return { text, test };
    });
}

/**
 * picomatch matches paths: `/` separates segments and `\` escapes. Addresses are not paths, so
 * both are swapped for private-use characters, which no address may hold (isAddress refuses
 * \p{C}), in the pattern and in the address alike.
 */
const SLASH = "\uE000";
const BACKSLASH = "\uE001";
/** What picomatch would read as syntax; written escaped, so that only * ? [...] are globs. */
const SYNTAX = new Set([..."*?[](){}+|^$."]);
const OPTIONS: picomatch.PicomatchOptions = {
  // Case-insensitive with Unicode case folding, as before ("isu").
  flags: "isu",
  dot: true,
  nobrace: true,
  noextglob: true,
  nonegate: true,
  noglobstar: true,
  fastpaths: false,
};

function placeholders(text: string): string {
  return text.replaceAll("/", SLASH).replaceAll("\\", BACKSLASH);
}

/** A [...] class for picomatch: `!` negates; a class that holds `/` or `\` holds its stand-in. */
function bracketClass(body: string): string | undefined {
  const negated = body.startsWith("!");
  const members = (negated ? body.slice(1) : body).replace(/[\\\]^[]/g, "\\$&");
  let regex: RegExp;
  try {
    regex = new RegExp(`[${members}]`, "u");
  } catch {
    return undefined;
  }
  const extra = [regex.test("/") ? SLASH : "", regex.test("\\") ? BACKSLASH : ""].join("");
  return `[${negated ? "^" : ""}${members.replaceAll("\\\\", BACKSLASH)}${extra}]`;
}

/**
 * `*` any run, `?` one character, `[abc]` / `[a-f]` / `[!abc]` a class; everything else literal
 * (braces and extglobs too). Undefined when a class is not a valid range ([z-a]).
 */
export function globMatcher(glob: string): ((address: string) => boolean) | undefined {
  let pattern = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob.charAt(i);
    const close = c === "[" ? glob.indexOf("]", i + 2) : -1;
    if (close !== -1) {
      const cls = bracketClass(glob.slice(i + 1, close));
      if (cls === undefined) return undefined;
      pattern += cls;
      i = close;
    } else if (c === "*" || c === "?") {
      // One star per run: "a**b" would be a globstar, and backtrack twice as hard.
      if (!(c === "*" && pattern.endsWith("*"))) pattern += c;
    } else pattern += SYNTAX.has(c) ? `\\${c}` : placeholders(c);
  }
  const regex = picomatch.makeRe(pattern, OPTIONS);
  return (address) => regex.test(placeholders(address));
}
