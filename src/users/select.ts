// --only / --exclude: which mailboxes of the users file this run is about.
import { InputError } from "../errors.js";
import type { Mailbox } from "../types.js";

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
    if (!mailboxes.some((mailbox) => pattern.regex.test(mailbox.source))) {
      throw new InputError(
        "--only",
        `the pattern "${pattern.text}" matches no source mailbox of the users file`,
        "Check its spelling; patterns are matched against the source column, like *@contoso.com or alice@*.",
      );
    }
  }
  const selected = mailboxes.filter(
    (mailbox) =>
      (only.length === 0 || only.some((pattern) => pattern.regex.test(mailbox.source))) &&
      !exclude.some((pattern) => pattern.regex.test(mailbox.source)),
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
function patterns(texts: string[] | undefined, flag: string): { text: string; regex: RegExp }[] {
  return (texts ?? [])
    .flatMap((text) => text.split(","))
    .map((text) => text.trim())
    .filter((text) => text !== "")
    .map((text) => {
      const regex = globToRegExp(text);
      if (regex === undefined) {
        throw new InputError(
          flag,
          `the pattern "${text}" has an invalid [...] range`,
          "Write ranges in order, like [a-f].",
        );
      }
      return { text, regex };
    });
}

/**
 * `*` any run, `?` one character, `[abc]` / `[a-f]` / `[!abc]` a class; everything else literal.
 * Undefined when a class is not a valid range ([z-a]).
 */
export function globToRegExp(glob: string): RegExp | undefined {
  let source = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob.charAt(i);
    const close = c === "[" ? glob.indexOf("]", i + 2) : -1;
    if (c === "*") {
      // One ".*" per run of stars: "a**b" must not backtrack twice as hard.
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
