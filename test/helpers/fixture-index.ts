// The fixtures' own INDEX.md tables and `# expected:` headers, read as they are, so every test
// row comes from the documentation of the recorded run and none is written by hand.
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import type { ExitStatus } from "../../src/imapsync/classify.js";
import { RUN_CLASSES, type RunClass } from "../../src/outcomes/classes.js";

/** From dist/test/helpers/. */
import { FIXTURES } from "./env.js";

export { FIXTURES };

export interface RunRow {
  dir: string;
  file: string;
  exit: ExitStatus;
  expected: RunClass;
}

export interface Excerpt {
  file: string;
  expected: RunClass;
}

/** The cells of a table row; `\|` inside a cell is not a separator. */
function cells(row: string): string[] {
  return row
    .trim()
    .replace(/^\||\|$/g, "")
    .split(/(?<!\\)\|/)
    .map((cell) => cell.trim());
}

/** Every markdown table of a document, as rows keyed by the header's lower-cased column names. */
export function parseTables(markdown: string): Record<string, string>[][] {
  const tables: Record<string, string>[][] = [];
  let header: string[] | undefined;
  let rows: Record<string, string>[] = [];
  for (const line of markdown.split("\n")) {
    if (!line.startsWith("|")) {
      if (header) tables.push(rows);
      header = undefined;
      continue;
    }
    const row = cells(line);
    if (!header) {
      header = row.map((name) => name.toLowerCase());
      rows = [];
    } else if (!row.every((cell) => /^:?-+:?$/.test(cell))) {
      if (row.length !== header.length)
        throw new Error(
          `Table row with ${row.length} cells under a ${header.length}-column header: ${line}`,
        );
      rows.push(Object.fromEntries(header.map((name, i) => [name, row[i] ?? ""])));
    }
  }
  if (header) tables.push(rows);
  return tables;
}

function runClass(text: string, where: string): RunClass {
  const cls = text.replace(/\*/g, "").trim();
  if (!(RUN_CLASSES as readonly string[]).includes(cls))
    throw new Error(`${where}: unknown class "${cls}"`);
  return cls as RunClass;
}

/** "0", "117 (EXIT_ERR_SELECT)", "killed by SIGTERM (shell 143; ...)". */
export function parseExitStatus(text: string): ExitStatus {
  const signal = /^killed by (SIG[A-Z]+)/.exec(text);
  if (signal) return { code: null, signal: signal[1] ?? null };
  const code = /^(\d+)\b/.exec(text);
  if (code) return { code: Number(code[1]), signal: null };
  throw new Error(`Unreadable exit status "${text}"`);
}

/** The rows of the one table in `<dir>/INDEX.md` that has an "expected class" column. */
export function runRows(dir: string): RunRow[] {
  const index = readFileSync(path.join(FIXTURES, dir, "INDEX.md"), "utf8");
  const tables = parseTables(index).filter((rows) => rows[0] && "expected class" in rows[0]);
  if (tables.length !== 1)
    throw new Error(
      `${dir}/INDEX.md: expected one table with an "expected class" column, found ${tables.length}`,
    );
  return tables[0]!.map((row) => {
    const file = (row.file ?? "").replace(/`/g, "");
    return {
      dir,
      file,
      exit: parseExitStatus(row["exit status"] ?? row.exit ?? ""),
      expected: runClass(row["expected class"] ?? "", `${dir}/${file}`),
    };
  });
}

/** The excerpts of a corpus folder with the class named in their `# expected:` header. */
export function excerpts(corpus = "office365"): Excerpt[] {
  const dir = path.join(FIXTURES, corpus);
  return readdirSync(dir)
    .filter((file) => file.endsWith(".txt"))
    .sort()
    .map((file) => {
      const expected = /^# expected: (.*)$/m.exec(readFileSync(path.join(dir, file), "utf8"))?.[1];
      if (expected === undefined) throw new Error(`${corpus}/${file} has no "# expected:" header`);
      return { file, expected: runClass(expected, `${corpus}/${file}`) };
    });
}

/** A fixture's lines as imapsync printed them: UTF-8, LF-separated, trailing CR removed. */
export function fixtureLines(relative: string): string[] {
  const text = readFileSync(path.join(FIXTURES, relative), "utf8");
  const lines = text.split("\n").map((line) => line.replace(/\r$/, ""));
  if (text.endsWith("\n")) lines.pop();
  return lines;
}
