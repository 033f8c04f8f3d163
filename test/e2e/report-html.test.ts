import assert from "node:assert/strict";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { before, describe, it } from "node:test";
import { escapeHtml, renderHtmlReport } from "../../src/report/html.js";
import { chromiumMissing, launchChromium } from "../helpers/chromium.js";
import { ROOT, runCli, tempDir } from "../helpers/env.js";
import { mixedReport, TEMPLATES } from "../helpers/mixed-report.js";

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
