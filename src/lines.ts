import { StringDecoder } from "node:string_decoder";
import type { Readable } from "node:stream";

/**
 * Splits a byte stream into lines without ever holding more than one line (plus one chunk) in
 * memory. The UTF-8 decoder keeps a multi-byte character cut by a chunk boundary ("Éléments")
 * whole; a trailing CR (raw server lines end in CR LF) is removed.
 */
export async function* readLines(stream: Readable): AsyncGenerator<string> {
  const decoder = new StringDecoder("utf8");
  let pending = "";
  for await (const chunk of stream) {
    pending += typeof chunk === "string" ? chunk : decoder.write(chunk as Buffer);
    let start = 0;
    let newline: number;
    while ((newline = pending.indexOf("\n", start)) !== -1) {
      yield stripCr(pending.slice(start, newline));
      start = newline + 1;
    }
    pending = pending.slice(start);
  }
  pending += decoder.end();
  if (pending.length > 0) yield stripCr(pending);
}

function stripCr(line: string): string {
  return line.endsWith("\r") ? line.slice(0, -1) : line;
}
