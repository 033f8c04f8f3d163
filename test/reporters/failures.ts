// CI shows only the end of what `npm test` printed: this reporter repeats every failed test there,
// after TAP's summary, with its file and error, so a failure is never lost in the middle of the log.
import { relative } from "node:path";

interface FailedTest {
  name: string;
  file?: string;
  nesting: number;
  details: { error?: unknown; duration_ms?: number };
}

interface ReporterEvent {
  type: string;
  data: FailedTest;
}

function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  // The runner wraps a test's own error; its cause is the assertion that failed.
  const cause = (error as Error & { cause?: unknown }).cause;
  const shown = cause instanceof Error ? cause : error;
  return (shown.stack ?? shown.message).split("\n").slice(0, 12).join("\n");
}

export default async function* failures(
  source: AsyncIterable<ReporterEvent>,
): AsyncGenerator<string> {
  const failed: FailedTest[] = [];
  for await (const event of source) {
    // A suite fails when a test in it does; the test itself is the one worth naming.
    if (event.type === "test:fail" && !isSuiteOfFailures(event.data)) failed.push(event.data);
  }
  if (failed.length === 0) return;
  yield `\n# ${failed.length} failed test${failed.length === 1 ? "" : "s"}:\n`;
  for (const test of failed) {
    const where = test.file ? relative(process.cwd(), test.file) : "(unknown file)";
    yield `# ✖ ${where} › ${test.name}\n`;
    for (const line of describeError(test.details.error).split("\n")) yield `#     ${line}\n`;
  }
}

function isSuiteOfFailures(test: FailedTest): boolean {
  const error = test.details.error as { failureType?: string } | undefined;
  return error?.failureType === "subtestsFailed";
}
