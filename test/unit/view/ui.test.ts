// The views: plain lines off a terminal (totals at an interval, one line per finished mailbox,
// progress rate-limited), JSON lines for scripts, and the terminal block at 10,000 mailboxes.
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { describe, it, mock } from "node:test";
import type { ReportEntry } from "../../../src/report/schema.js";
import { JsonlUi, PlainUi, TerminalUi } from "../../../src/view/ui.js";

function sink(tty = false): NodeJS.WriteStream & { text: () => string } {
  let text = "";
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      text += chunk.toString();
      done();
    },
  }) as unknown as NodeJS.WriteStream & { text: () => string };
  Object.assign(stream, { isTTY: tty, columns: 80, rows: 40, text: () => text });
  return stream;
}

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
