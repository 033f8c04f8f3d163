import { once } from "node:events";
import { createWriteStream } from "node:fs";
import { rename, rm } from "node:fs/promises";
import type { Report } from "../types.js";
import { renderHtmlReport } from "./html.js";

/**
 * Writes report.html piece by piece into a temporary file, then renames it over the old one: a
 * reader (or a crash) never sees half a page, and 10,000 mailboxes are never one string.
 */
export async function writeHtmlReport(report: Report, file: string): Promise<void> {
  const temporary = `${file}.${process.pid}.tmp`;
  const out = createWriteStream(temporary, { mode: 0o600 });
  try {
    for (const piece of renderHtmlReport(report)) {
      if (!out.write(piece)) await once(out, "drain");
    }
    out.end();
    await once(out, "finish");
    await rename(temporary, file);
  } catch (error) {
    out.destroy();
    await rm(temporary, { force: true });
    throw error;
  }
}
