// Mailbox addresses as the users file and LOGIN_HINT may hold them.

/**
 * Pragmatic, not RFC 5322: one `@`, a local part without spaces, control characters or
 * characters that betray a wrong delimiter, and a dotted domain of letters, digits, `-` and `_`.
 * Linear on any input (no nested quantifiers), so a megabyte field cannot hang it.
 */
const ADDRESS = /^[^\s@\p{C},;<>()[\]\\"]+@[\p{L}\p{N}_-]+(?:\.[\p{L}\p{N}_-]+)*$/u;

/** RFC 5321's limit on a path: a longer "address" is garbage, and could not pass through argv. */
const MAX_ADDRESS_LENGTH = 254;

export function isAddress(text: string): boolean {
  return text.length <= MAX_ADDRESS_LENGTH && ADDRESS.test(text);
}
