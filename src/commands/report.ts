// `report html`: rewrites report.html and report.csv from any report.json, e.g. one copied from
// the migration machine, or one written before report.html existed.
import path from "node:path";
import { loadConfig } from "../config/load.js";
import { ExitCode } from "../errors.js";
import { loadReport, reportPaths } from "../report/store.js";
import { writeHtmlReport, writeReportCsv } from "../report/write.js";

export interface ReportHtmlFlags extends Record<string, unknown> {
  report?: string;
}

export async function reportHtmlCommand(
  flags: ReportHtmlFlags,
  io: { stdout: NodeJS.WritableStream; env: NodeJS.ProcessEnv },
): Promise<number> {
  const json = path.resolve(
    flags.report ?? reportPaths(loadConfig(flags, { env: io.env, require: [] }).workDir).json,
  );
  const report = await loadReport(json);
  const dir = path.dirname(json);
  const html = path.join(dir, "report.html");
  const csv = path.join(dir, "report.csv");
  await writeHtmlReport(report, html);
  await writeReportCsv(report, csv);
  io.stdout.write(`Wrote ${html} and ${csv} (${report.mailboxes.length} mailboxes).\n`);
  return ExitCode.ok;
}
