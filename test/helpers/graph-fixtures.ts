// Microsoft's documented Graph examples (fixtures/graph, see its INDEX.md): a `.http` file is the
// request, an empty line, then the response (status line, headers, JSON body).
import { readFileSync } from "node:fs";
import path from "node:path";
import { FIXTURES } from "./env.js";

export interface GraphExample {
  request: string;
  status: number;
  headers: Record<string, string>;
  /** The JSON body (undefined for a binary or empty one). */
  body: unknown;
}

export function graphExample(file: string): GraphExample {
  const text = readFileSync(path.join(FIXTURES, "graph", file), "utf8").replace(/\r\n/g, "\n");
  const at = text.search(/^HTTP\/1\.1 \d+/m);
  const request = text.slice(0, at).trim();
  const [head = "", ...rest] = text.slice(at).split("\n\n");
  const [statusLine = "", ...headerLines] = head.split("\n");
  const headers = Object.fromEntries(
    headerLines.map((l) => [
      l.slice(0, l.indexOf(":")).trim().toLowerCase(),
      l.slice(l.indexOf(":") + 1).trim(),
    ]),
  );
  const raw = rest.join("\n\n").trim();
  let body: unknown;
  try {
    body = raw ? JSON.parse(raw) : undefined;
  } catch {
    body = undefined;
  }
  return { request, status: Number(statusLine.split(" ")[1]), headers, body };
}

/** A `.json` fixture (a body or a fragment). */
export function graphJson(file: string): unknown {
  return JSON.parse(readFileSync(path.join(FIXTURES, "graph", file), "utf8"));
}
