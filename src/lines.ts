import { StringDecoder } from "node:string_decoder";
import type { Readable } from "node:stream";

/**
 * Longest line kept, in UTF-16 code units. imapsync's and oauth2c's lines are far shorter; a
 * longer one is garbage (a binary dump, a stream without newlines) and would otherwise be held in
 * memory whole. Its first MAX_LINE_LENGTH characters are kept, the rest is dropped.
 */
export const MAX_LINE_LENGTH = 64 * 1024;

/**
 * Splits a byte stream into lines without ever holding more than one line (at most maxLength
 * characters) plus one chunk in memory. The UTF-8 decoder keeps a multi-byte character cut by a
 * chunk boundary ("Éléments") whole; a trailing CR (raw server lines end in CR LF) is removed.
 * The lines come a chunk at a time: a run prints hundreds of lines per chunk, and awaiting each
 * line on its own was a measurable share of the tool's CPU at 10,000 mailboxes.
 */
export async function* readLineBatches(
  stream: Readable,
  maxLength = MAX_LINE_LENGTH,
): AsyncGenerator<string[]> {
  const decoder = new StringDecoder("utf8");
  let pending = "";
  /** The current line passed maxLength: what follows, up to the next newline, is dropped. */
  let cut = false;
  const add = (text: string) => {
    if (cut) return;
    pending += text;
    if (pending.length > maxLength) {
      pending = truncate(pending, maxLength);
      cut = true;
    }
  };
  for await (const chunk of stream) {
    const text = typeof chunk === "string" ? chunk : decoder.write(chunk as Buffer);
    const lines: string[] = [];
    let start = 0;
    let newline: number;
    while ((newline = text.indexOf("\n", start)) !== -1) {
      add(text.slice(start, newline));
      lines.push(stripCr(pending));
      pending = "";
      cut = false;
      start = newline + 1;
    }
    add(text.slice(start));
    if (lines.length > 0) yield lines;
  }
  add(decoder.end());
  if (pending.length > 0) yield [stripCr(pending)];
}

function truncate(line: string, maxLength: number): string {
  if (line.length <= maxLength) return line;
  // Never end on half of a surrogate pair: that would be invalid text downstream.
  const end = /[\uD800-\uDBFF]/.test(line.charAt(maxLength - 1)) ? maxLength - 1 : maxLength;
  return line.slice(0, end);
}

function stripCr(line: string): string {
  return line.endsWith("\r") ? line.slice(0, -1) : line;
}
