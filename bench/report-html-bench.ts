// Size and load time of report.html at 10,000 mailboxes (BENCH_MAILBOXES), in headless Chromium.
// Not a test: `npm run bench:report-html` builds, then runs this; the figures go to bench/README.md.
import { mkdir, stat } from "node:fs/promises";
import { loadavg } from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { pathToFileURL } from "node:url";
import { writeHtmlReport } from "../src/report/write.js";
import { chromiumMissing, launchChromium } from "../test/helpers/chromium.js";
import { mixedReport } from "../test/helpers/mixed-report.js";

const count = Number(process.env.BENCH_MAILBOXES ?? 10_000);
const root = path.resolve(import.meta.dirname, "../..");
const outDir = path.join(root, "bench", "out");
const file = path.join(outDir, "report.html");

const missing = chromiumMissing();
if (missing) {
  console.error(`Cannot measure the load time: ${missing}.`);
  process.exit(1);
}
await mkdir(outDir, { recursive: true });
const report = mixedReport(count);
const written = performance.now();
await writeHtmlReport(report, file);
const writeMs = performance.now() - written;
const { size } = await stat(file);

const browser = await launchChromium();
try {
  const page = await browser.context.newPage();
  const runs: { loadMs: number; readyMs: number }[] = [];
  for (let i = 0; i < 3; i++) {
    const started = performance.now();
    await page.goto(pathToFileURL(file).href, { waitUntil: "load", timeout: 120_000 });
    const loadMs = performance.now() - started;
    // The script has run (filters shown, count written) once this text is there.
    await page.waitForFunction(() => document.getElementById("shown")?.textContent !== "");
    runs.push({ loadMs, readyMs: performance.now() - started });
  }
  const elements = await page.evaluate(() => document.getElementsByTagName("*").length);
  const filterStart = performance.now();
  await page.selectOption("#filters select[name=klass]", "throttled");
  await page.waitForFunction(() =>
    /^\d+ of/.test(document.getElementById("shown")?.textContent ?? ""),
  );
  const filterMs = performance.now() - filterStart;
  const sortStart = performance.now();
  await page.click("#mailboxes thead button[data-key=messages]");
  await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(resolve)));
  const sortMs = performance.now() - sortStart;
  const median = (values: number[]) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
  console.log(
    JSON.stringify(
      {
        mailboxes: count,
        bytes: size,
        megabytes: +(size / 1e6).toFixed(1),
        bytesPerMailbox: Math.round(size / count),
        writeMs: Math.round(writeMs),
        loadMs: Math.round(median(runs.map((r) => r.loadMs))),
        readyMs: Math.round(median(runs.map((r) => r.readyMs))),
        filterByClassMs: Math.round(filterMs),
        sortMs: Math.round(sortMs),
        elements,
        // The machine's load while measuring: on shared 2-core machines it dominates the times.
        loadAverage: loadavg().map((l) => +l.toFixed(1)),
      },
      null,
      2,
    ),
  );
} finally {
  await browser.close();
}
