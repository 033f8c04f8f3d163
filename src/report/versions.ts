// Every schemaVersion a report has been written in, and the one step that brings each to the
// current shape (schema.ts). A report and its journal are read through the step of the report's
// version: journal lines carry none, they belong to the report.json they follow.
import type { z } from "zod";
import { entrySchema, reportSchema, type Report, type ReportEntry } from "./schema.js";
import { live } from "./parts.js";

/** Each turns data of its version into the current shape, or says what is wrong (a string). */
interface VersionStep {
  report(data: unknown): Report | string;
  entry(data: unknown): ReportEntry | string;
}

/** The data in the schema's shape, or `what` with the first field that is not. */
function parseWith<S extends z.ZodType>(schema: S, what: string) {
  return (data: unknown): z.infer<S> | string => {
    const parsed = schema.safeParse(data);
    if (parsed.success) return parsed.data;
    const issue = parsed.error.issues[0];
    return `${what} (${issue?.path.join(".") || "top level"}: ${issue?.message})`;
  };
}

const parseReport = parseWith(reportSchema, "not a report of this tool");
const parseEntry = parseWith(entrySchema, "not a report entry");

/**
 * Version 1 is today's shape: its step is the current schema itself, each entry's own fields then
 * its mail's again (parts.ts; the same entry when it has no parts).
 */
const CURRENT: VersionStep = {
  report: (data) => {
    const report = parseReport(data);
    if (typeof report === "string") return report;
    return { ...report, mailboxes: report.mailboxes.map(live) };
  },
  entry: (data) => {
    const entry = parseEntry(data);
    return typeof entry === "string" ? entry : live(entry);
  },
};

/**
 * One step per version ever written. When the shape changes in a way an older report does not
 * satisfy, REPORT_SCHEMA_VERSION grows, the new version's step becomes CURRENT, and the older
 * version's step turns its data into the new shape (then parses it with the current schema).
 */
const STEPS: Readonly<Record<number, VersionStep>> = { 1: CURRENT };

/**
 * The step for the `schemaVersion` a report declares. A version no step knows (a newer tool's,
 * or none) is read as the current one, so that the problem is named field by field.
 */
export function versionStep(data: unknown): VersionStep {
  const version =
    typeof data === "object" && data !== null && "schemaVersion" in data
      ? data.schemaVersion
      : undefined;
  return (typeof version === "number" && STEPS[version]) || CURRENT;
}
