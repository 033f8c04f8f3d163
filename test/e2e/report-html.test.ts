import assert from "node:assert/strict";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { before, describe, it } from "node:test";
import { escapeHtml, renderHtmlReport } from "../../src/report/html.js";
import { chromiumMissing, launchChromium } from "../helpers/chromium.js";
import { ROOT, runCli, tempDir } from "../helpers/env.js";
import { mixedReport, SLICE_REMEDY, slicedMailbox, TEMPLATES } from "../helpers/mixed-report.js";
import { reportCsvPieces } from "../../src/report/csv.js";
import { formatRemedies, formatSummary } from "../../src/report/summary.js";

/** Git-ignored: the screenshot an admin (and a reviewer) looks at. */
const SCREENSHOT = path.join(ROOT, "test-output", "report-html.png");
const INJECTION = `<img src=x onerror="document.title='owned'">`;

/** The mixed report, plus a folder whose server-given name is HTML. */
function reportWithInjection() {
  const report = mixedReport();
  const alice = report.mailboxes[0]!;
  const v = structuredClone(alice.verification!);
  v.folders[0]!.destination.display = INJECTION;
  alice.verification = v;
  return report;
}

describe("report.html in headless Chromium", () => {
  const missing = chromiumMissing();
  let dir: string;
  let file: string;
  before(async () => {
    dir = await tempDir("report-html-");
    file = path.join(dir, "report.html");
    // Written as an admin would: `report html` on a report.json.
    const json = path.join(dir, "report.json");
    await writeFile(json, JSON.stringify(reportWithInjection()));
    const result = await runCli(["report", "html", "--report", json], { cwd: dir, env: {} });
    assert.equal(result.exitCode, 0, result.stderr);
  });

  it("shows the totals, every mailbox, filters by class, one bar per attempt, and fetches nothing", async (t) => {
    if (missing) return t.skip(missing);
    const browser = await launchChromium();
    try {
      const page = await browser.context.newPage();
      const requests: string[] = [];
      page.on("request", (request) => requests.push(request.url()));
      const url = pathToFileURL(file).href;
      await page.goto(url);

      const report = mixedReport();
      assert.equal(await page.textContent("#t-mailboxes b"), String(report.mailboxes.length));
      const messages = report.mailboxes
        .flatMap((e) => e.attempts)
        .reduce((s, a) => s + (a.messagesTransferred ?? 0), 0);
      assert.equal(await page.textContent("#t-messages b"), messages.toLocaleString("en-US"));
      assert.equal(
        await page.textContent("#t-ok b"),
        String(report.mailboxes.filter((e) => e.status === "ok").length),
      );

      const rows = page.locator("#mailboxes > tbody");
      assert.equal(await rows.count(), TEMPLATES.length);
      const long = report.mailboxes[7]!.source;
      assert.equal(await rows.nth(7).locator("td.mb").first().innerText(), long);
      // A long address wraps inside its cell instead of pushing the table wider than the page.
      const box = await rows.nth(7).locator("td.mb").first().boundingBox();
      assert.ok(box && box.width < 400, `mailbox cell ${box?.width}px wide`);

      // One bar per attempt, per mailbox.
      for (let i = 0; i < report.mailboxes.length; i++) {
        const bars = await rows.nth(i).locator("svg.tl rect.bar").count();
        assert.equal(bars, report.mailboxes[i]!.attempts.length, report.mailboxes[i]!.source);
      }
      assert.equal(await rows.nth(4).locator("svg.tl rect.c-throttled").count(), 3);

      // Filtering by class leaves only that class's mailboxes.
      await page.selectOption("#filters select[name=klass]", "throttled");
      const visible = page.locator("#mailboxes > tbody:visible");
      assert.equal(await visible.count(), 1);
      assert.match(await visible.first().innerText(), /^frank@contoso\.com/);
      assert.match((await page.textContent("#shown")) ?? "", /^1 of 9 mailboxes shown/);
      await page.selectOption("#filters select[name=klass]", "");
      await page.selectOption("#filters select[name=verdict]", "missing");
      assert.equal(await visible.count(), 1);
      assert.match(
        await visible.first().innerText(),
        /carol@contoso\.com[\s\S]*missing \(15 messages\)/,
      );
      await page.selectOption("#filters select[name=verdict]", "");

      // Sorting by messages, descending on the second click.
      await page.click("#mailboxes thead button[data-key=messages]");
      await page.click("#mailboxes thead button[data-key=messages]");
      assert.match(await rows.first().innerText(), /^alice@contoso\.com/);

      // Accents survive, the folder rows are there, the injected name is text.
      const text = (await page.textContent("body")) ?? "";
      assert.ok(text.includes("Projets/Été/Équipe Zoë"));
      assert.ok(text.includes("Sent Items"));
      assert.ok(text.includes(INJECTION), "the folder name shown as text");
      assert.equal(await page.locator("#mailboxes img").count(), 0);
      assert.notEqual(await page.title(), "owned");

      await mkdir(path.dirname(SCREENSHOT), { recursive: true });
      await page.screenshot({ path: SCREENSHOT, fullPage: true });
      t.diagnostic(`screenshot: ${SCREENSHOT}`);
      console.log(`report.html screenshot: ${SCREENSHOT}`);

      assert.deepEqual(requests, [url], "the page itself is the only request");
    } finally {
      await browser.close();
    }
  });

  it("reads as a plain table without JavaScript", async (t) => {
    if (missing) return t.skip(missing);
    const browser = await launchChromium({ javaScriptEnabled: false });
    try {
      const page = await browser.context.newPage();
      await page.goto(pathToFileURL(file).href);
      assert.equal(await page.locator("#mailboxes > tbody:visible").count(), TEMPLATES.length);
      assert.equal(await page.locator("#filters").isVisible(), false, "no dead controls");
      assert.match(await page.innerText("#by-class"), /not_delegated 1/);
    } finally {
      await browser.close();
    }
  });
});

describe("report.html: a big mailbox's slices, in headless Chromium", () => {
  it("lists each slice under its mailbox: id, folders or dates, status, class, attempts, remedy", async (t) => {
    const missing = chromiumMissing();
    if (missing) return t.skip(missing);
    const dir = await tempDir("report-html-sliced-");
    const json = path.join(dir, "report.json");
    const report = mixedReport();
    report.mailboxes.push(slicedMailbox());
    await writeFile(json, JSON.stringify(report));
    const result = await runCli(["report", "html", "--report", json], { cwd: dir, env: {} });
    assert.equal(result.exitCode, 0, result.stderr);
    const browser = await launchChromium();
    try {
      const page = await browser.context.newPage();
      await page.goto(pathToFileURL(path.join(dir, "report.html")).href);
      const big = page.locator("#mailboxes > tbody").nth(TEMPLATES.length);
      // The mailbox's own row counts every attempt: its folder-creating run and its slices' 4.
      const cells = big.locator("tr").first().locator("td");
      assert.equal(await cells.nth(4).innerText(), "5");
      assert.equal(await cells.nth(5).innerText(), String(867 + 300 + 120 + 640));
      // A slice is not ok: the slices are open, one row each.
      const details = big.locator("details.slices");
      assert.equal(await details.getAttribute("open"), "");
      assert.equal(await details.locator("summary").innerText(), "3 slices, 2 ok");
      assert.match(
        await details.innerText(),
        /throttled it while sliced \(2026-12-01T08:01:10\.000Z\): from then on its slices run at once only while well under what it was allowed between two refusals/,
      );
      const rows = details.locator("tbody tr");
      assert.equal(await rows.count(), 3);
      const row = async (i: number) =>
        (await rows.nth(i).locator("td").allInnerTexts()).filter((_, j) => j !== 6);
      assert.deepEqual(await row(0), [
        "s1",
        "INBOX (BEFORE 6-Feb-2023)",
        "ok",
        "ok",
        "1",
        "867",
        "",
      ]);
      assert.deepEqual(await row(1), [
        "s2",
        "INBOX (SINCE 6-Feb-2023)",
        "failed",
        "quota_exceeded",
        "2",
        "420",
        SLICE_REMEDY,
      ]);
      assert.deepEqual(await row(2), ["s3", "Projets Été, Sent Items", "ok", "ok", "1", "640", ""]);
      // Each slice's attempts on its own timeline, a bar each in its class's colour.
      assert.equal(await rows.nth(1).locator("svg.tl rect.bar").count(), 2);
      assert.equal(await rows.nth(1).locator("svg.tl rect.c-throttled").count(), 1);
      // Filtering by the mailbox's class still finds it (the slices' tables are not mailboxes).
      await page.selectOption("#filters select[name=klass]", "quota_exceeded");
      assert.match((await page.textContent("#shown")) ?? "", /of 10 mailboxes shown/);
    } finally {
      await browser.close();
    }
  });
});

describe("report.csv and the summary: a big mailbox's slices", () => {
  it("a row per slice after its mailbox's, and a line per slice in the summary", () => {
    const report = mixedReport(1);
    report.mailboxes.push(slicedMailbox());
    const csv = [...reportCsvPieces(report)].join("");
    assert.deepEqual(csv.trim().split("\n"), [
      "source,destination,status,class,attempts,exit_code,messages_transferred,bytes_transferred,log_file,remedy,verification,missing_messages,slice,slice_folders_or_dates",
      "alice@contoso.com,alice@contoso.com,ok,ok,1,0,194,388000,/work/logs/alice@contoso.com/attempt-1.log,,verified,,,",
      `big@contoso.com,big@contoso.com,failed,quota_exceeded,5,0,0,0,/work/logs/big@contoso.com/attempt-1.log,"slice s2: ${SLICE_REMEDY}",,,,`,
      "big@contoso.com,big@contoso.com,ok,ok,1,0,867,1734000,/work/logs/big@contoso.com/slice-s1/attempt-1.log,,,,s1,INBOX (BEFORE 6-Feb-2023)",
      `big@contoso.com,big@contoso.com,failed,quota_exceeded,2,115,120,240000,/work/logs/big@contoso.com/slice-s2/attempt-2.log,"${SLICE_REMEDY}",,,s2,INBOX (SINCE 6-Feb-2023)`,
      'big@contoso.com,big@contoso.com,ok,ok,1,0,640,1280000,/work/logs/big@contoso.com/slice-s3/attempt-1.log,,,,s3,"Projets Été, Sent Items"',
    ]);
    const summary = formatSummary(report);
    assert.deepEqual(summary.slice(2), [
      "big@contoso.com    failed       quota_exceeded                     5      1927  -",
      "2 mailboxes: 1 ok, 1 failed",
      "MAILBOX          SLICE  STATUS       CLASS                       ATTEMPTS  MESSAGES  FOLDERS OR DATES",
      "big@contoso.com  s1     ok           ok                                 1       867  INBOX (BEFORE 6-Feb-2023)",
      `big@contoso.com  s2     failed       quota_exceeded                     2       420  INBOX (SINCE 6-Feb-2023) — ${SLICE_REMEDY}`,
      "big@contoso.com  s3     ok           ok                                 1       640  Projets Été, Sent Items",
      "3 slices of big mailboxes: 2 ok, 1 failed",
    ]);
  });

  it("an unsliced report's html, csv and summary are byte for byte what they were before slices were shown", async () => {
    // Written by main's code at e878c27, before this change, from the same mixed report.
    const golden = JSON.parse(
      await readFile(path.join(ROOT, "test/e2e/golden/unsliced-report-outputs.json"), "utf8"),
    ) as { html: string; csv: string; summary: string };
    const report = mixedReport();
    const now = Date.parse("2026-12-02T00:00:00Z");
    assert.equal([...renderHtmlReport(report, now)].join(""), golden.html);
    assert.equal([...reportCsvPieces(report)].join(""), golden.csv);
    assert.equal(
      [...formatSummary(report), ...formatRemedies(report)].join("\n") + "\n",
      golden.summary,
    );
  });
});

describe("report.html markup", () => {
  it("escapes every text and carries a policy that forbids any fetch", () => {
    const html = [...renderHtmlReport(reportWithInjection())].join("");
    assert.ok(!html.includes(INJECTION));
    assert.ok(html.includes(escapeHtml(INJECTION)));
    assert.match(html, /Content-Security-Policy" content="default-src 'none';/);
    assert.doesNotMatch(html, /(?:src|href)=["']?(?:https?:)?\/\//i, "no remote resource");
  });
});

describe("report html (built CLI)", () => {
  it("rewrites report.html and report.csv next to any report.json", async () => {
    const dir = await tempDir("report-cmd-");
    const json = path.join(dir, "copied-report.json");
    await writeFile(json, JSON.stringify(mixedReport()));
    const result = await runCli(["report", "html", "--report", json], { cwd: dir, env: {} });
    assert.equal(result.exitCode, 0, result.stderr);
    assert.match(result.stdout, /report\.html .*report\.csv \(9 mailboxes\)/);
    const html = await readFile(path.join(dir, "report.html"), "utf8");
    assert.equal(html.match(/<tbody /g)?.length, 9);
    assert.ok(html.includes("très.long.prénom-composé"));
    const csv = await readFile(path.join(dir, "report.csv"), "utf8");
    assert.equal(csv.trim().split("\n").length, 10);
  });

  it("names the report it cannot read, exit 2", async () => {
    const dir = await tempDir("report-cmd-");
    const result = await runCli(["report", "html"], { cwd: dir, env: { WORK_DIR: dir } });
    assert.equal(result.exitCode, 2);
    assert.match(result.stderr, new RegExp(`${path.join(dir, "report.json")}`));
  });

  it("asks for a subcommand", async () => {
    const result = await runCli(["report"], { cwd: ROOT, env: {} });
    assert.equal(result.exitCode, 2);
    assert.match(result.stderr, /Name a report subcommand: html/);
  });
});
