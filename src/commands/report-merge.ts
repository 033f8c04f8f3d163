import path from "node:path";
import { ExitCode, InputError, readNamedFile } from "../errors.js";
import { loadReport } from "../report/store.js";
import { formatSummary } from "../report/summary.js";
import { writeHtmlReport, writeReportCsv, writeReportJson } from "../report/write.js";
import { checkSchemaVersions, mergeReports, type ShardReport } from "../report/merge.js";

export interface ReportMergeFlags {
  reports: string[];
  out: string;
}

/** The bare schema version of a report file, before the whole report is checked against it. */
async function schemaVersionOf(file: string): Promise<unknown> {
  const text = await readNamedFile(file, "the report", "Give the report.json of every shard.");
  try {
    return (JSON.parse(text) as { schemaVersion?: unknown } | null)?.schemaVersion;
  } catch (error) {
    throw new InputError(
      file,
      `not valid JSON (${(error as Error).message})`,
      "Give the report.json of every shard.",
    );
  }
}

/**
 * `report merge`: the shards' reports into one (JSON, CSV and HTML next to each other), never
 * writing any shard's own report. Exit 0 once merged, whatever the mailboxes' statuses (the
 * summary shows them): a merge step should not fail because a mailbox did.
 */
export async function reportMergeCommand(
  flags: ReportMergeFlags,
  io: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream },
): Promise<number> {
  const out = path.resolve(flags.out);
  if (!out.endsWith(".json")) {
    throw new InputError(
      "--out",
      `${flags.out} does not end in .json`,
      "Name the merged report like merged.json (merged.csv and merged.html are written next to it).",
    );
  }
  const files = flags.reports.map((file) => path.resolve(file));
  if (files.includes(out)) {
    throw new InputError(
      "--out",
      `${flags.out} is one of the reports to merge`,
      "Write the merged report to a file of its own, like merged.json next to the shards' folders.",
    );
  }
  const headers = [];
  for (const file of flags.reports) {
    headers.push({ file, schemaVersion: await schemaVersionOf(file) });
  }
  checkSchemaVersions(headers);
  const inputs: ShardReport[] = [];
  for (const file of flags.reports) inputs.push({ file, report: await loadReport(file) });
  const { report, warnings } = mergeReports(inputs);
  for (const warning of warnings) io.stderr.write(`warning: ${warning}\n`);
  const stem = out.slice(0, -".json".length);
  const csv = `${stem}.csv`;
  const html = `${stem}.html`;
  await writeReportJson(report, out);
  await writeReportCsv(report, csv);
  await writeHtmlReport(report, html);
  for (const line of formatSummary(report)) io.stdout.write(`${line}\n`);
  io.stdout.write(`Merged ${inputs.length} reports: ${out}, ${csv} and ${html}\n`);
  return ExitCode.ok;
}
