// The views: plain lines off a terminal (totals at an interval, one line per finished mailbox,
// progress rate-limited), JSON lines for scripts, and the terminal block at 10,000 mailboxes.
import assert from "node:assert/strict";
import { describe, it, mock } from "node:test";
import type { ReportEntry } from "../../../src/report/schema.js";
import { JsonlUi, PlainUi, TerminalUi } from "../../../src/view/ui.js";
import { sink } from "../../helpers/sink.js";

const ok = (source: string): ReportEntry => ({
  source,
  destination: source,
  status: "ok",
  class: "ok",
  attempts: [
    { start: "", exitCode: 0, logFile: "", messagesTransferred: 3, bytesTransferred: 3000 },
  ],
});

describe("PlainUi", () => {
  it("a totals line at the interval, a line per finished mailbox, progress at most once a minute", () => {
    mock.timers.enable({ apis: ["setInterval", "Date"], now: 0 });
    try {
      const stream = sink();
      const ui = new PlainUi(["a@x", "b@x"], { stream, env: {}, totalsEveryMs: 30_000 });
      ui.attemptStarted("a@x", 1);
      for (let done = 1; done <= 100; done++) ui.progress("a@x", { done, total: 1000 });
      assert.equal(
        stream.text(),
        "",
        "no line for a first attempt nor for progress within a minute",
      );
      mock.timers.tick(30_000);
      assert.match(
        stream.text(),
        /^1970-01-01T00:00:30\.000Z totals: 0\/2 done \(0 ok, 0 failed\), 1 running, 0 waiting, 1 pending; 100 messages, 0 B; [\d.]+ msg\/s, 0 B\/s; ETA \S+, elapsed 30s\n$/,
      );
      mock.timers.tick(31_000);
      ui.progress("a@x", { done: 200, total: 1000 });
      assert.match(stream.text(), /a@x: 200\/1000 messages \(20%\)\n$/);
      ui.finished(ok("a@x"));
      assert.match(stream.text(), /Z a@x: ok\n$/);
      ui.attemptStarted("b@x", 2);
      assert.match(stream.text(), /Z b@x: attempt 2 started\n$/);
    } finally {
      mock.timers.reset();
    }
  });
});

describe("JsonlUi", () => {
  it("every event a JSON object on its stream, nothing on the view's", async () => {
    const stream = sink();
    const events = sink();
    const ui = new JsonlUi(["a@x"], { stream, env: {}, events });
    ui.attemptStarted("a@x", 1);
    ui.concurrency({ from: 4, to: 6, reason: "the rate still grows" });
    ui.finished(ok("a@x"));
    await ui.close();
    const lines = events
      .text()
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(
      lines.map((l) => l.event),
      ["attempt", "concurrency", "finished", "totals"],
    );
    assert.equal(lines[2]!.status, "ok");
    assert.equal(lines[2]!.messages, 3);
    assert.equal(lines[3]!.ok, 1);
    assert.equal(stream.text(), "");
  });
});

describe("TerminalUi", () => {
  it("at 10,000 mailboxes: totals and the running ones in a block that fits the terminal", async () => {
    const stream = sink(true);
    const sources = Array.from({ length: 10_000 }, (_, i) => `user${i}@contoso.com`);
    const ui = new TerminalUi(sources, { stream, env: { NO_COLOR: "1" } });
    for (const source of sources.slice(0, 20)) ui.attemptStarted(source, 1);
    for (const source of sources.slice(0, 5)) ui.finished(ok(source));
    ui.progress("user10@contoso.com", { done: 50, total: 200 });
    const block = ui.block();
    await ui.close();
    assert.match(
      block[0]!,
      /10,000 mailboxes {2}5 ok {2}0 failed {2}15 running {2}0 waiting {2}9,980 pending/,
    );
    assert.match(block[1]!, /65 messages, 14\.6 KiB copied/);
    assert.ok(block.some((l) => /user10@contoso\.com +50\/200 messages \(25%\)/.test(l)));
    assert.match(block.at(-1)!, /… and 3 more/);
    assert.ok(block.length <= 16, `${block.length} lines`);
    assert.doesNotMatch(stream.text(), /user9999/, "never a line per mailbox of the list");
  });
});

describe("a mailbox that waits", () => {
  const throttled = (source: string, nextAttemptAt: string): ReportEntry => ({
    source,
    destination: source,
    status: "pending",
    class: "throttled",
    nextAttemptAt,
    attempts: [{ start: "", exitCode: 115, logFile: "", messagesTransferred: 90 }],
  });

  it("every view says why it waits and until when; the terminal lists the soonest", async () => {
    const now = () => new Date(60_000);
    const plain = sink();
    const plainUi = new PlainUi(["a@x"], { stream: plain, env: {}, now });
    plainUi.attemptStarted("a@x", 1);
    plainUi.waiting(
      throttled("a@x", "1970-01-01T00:06:00.000Z"),
      "Office 365 throttled the mailbox",
      300_000,
    );
    assert.equal(
      plain.text(),
      "1970-01-01T00:01:00.000Z a@x: throttled, next try at 1970-01-01T00:06:00Z (in 5m00s): Office 365 throttled the mailbox\n",
    );
    await plainUi.close();

    const events = sink();
    const jsonl = new JsonlUi(["a@x"], { stream: sink(), env: {}, events, now });
    jsonl.waiting(
      throttled("a@x", "1970-01-01T00:06:00.000Z"),
      "Office 365 throttled the mailbox",
      300_000,
    );
    const event = JSON.parse(events.text().split("\n")[0]!) as Record<string, unknown>;
    assert.deepEqual(event, {
      at: "1970-01-01T00:01:00.000Z",
      event: "waiting",
      source: "a@x",
      class: "throttled",
      reason: "Office 365 throttled the mailbox",
      delayMs: 300_000,
      nextAttemptAt: "1970-01-01T00:06:00.000Z",
    });
    await jsonl.close();

    const terminal = sink(true);
    const sources = ["a@x", "b@x", "c@x", "d@x", "e@x"];
    const ui = new TerminalUi(sources, { stream: terminal, env: { NO_COLOR: "1" }, now });
    for (const [i, source] of sources.entries()) {
      ui.attemptStarted(source, 1);
      ui.waiting(throttled(source, new Date(120_000 + (4 - i) * 60_000).toISOString()), "", 0);
    }
    const block = ui.block();
    await ui.close();
    assert.deepEqual(block.slice(block.indexOf("waiting:")), [
      "waiting:",
      "  e@x  throttled, next try at 1970-01-01T00:02:00Z (in 1m00s)",
      "  d@x  throttled, next try at 1970-01-01T00:03:00Z (in 2m00s)",
      "  c@x  throttled, next try at 1970-01-01T00:04:00Z (in 3m00s)",
      "  … and 2 more",
    ]);
  });
});
