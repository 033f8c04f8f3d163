import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { Readable } from "node:stream";
import { describe, test } from "node:test";
import { classifyLines, RunClassifier, type ExitStatus } from "../../../src/imapsync/classify.js";
import { readLineBatches } from "../../../src/lines.js";
import { remedyFor } from "../../../src/outcomes/remedies.js";
import { IMAPSYNC_CLASSES, type RunClass } from "../../../src/outcomes/classes.js";
import type { Classification } from "../../../src/imapsync/classification.js";
import {
  excerpts,
  FIXTURES,
  fixtureLines,
  runRows,
  type RunRow,
} from "../../helpers/fixture-index.js";

const LOG_DIRS = [
  "imapsync-2.229",
  "imapsync-2.229-m365",
  "imapsync-2.229-standin",
  "imapsync-2.229-throttle",
];
const rows: RunRow[] = LOG_DIRS.flatMap((dir) => runRows(dir));

/** INDEX: w1 is not a raw log, each line starts with an arrival timestamp to strip before parsing. */
function runLines(row: RunRow): string[] {
  const lines = fixtureLines(path.join(row.dir, row.file));
  return row.file.startsWith("w1_") ? lines.map((line) => line.replace(/^\d+\.\d+ /, "")) : lines;
}

/** An excerpt without its two header lines, as its corpus's INDEX says to feed it. */
function excerptLines(file: string, corpus = "office365"): string[] {
  const lines = fixtureLines(path.join(corpus, file));
  assert.match(lines[0] ?? "", /^# source: /);
  assert.match(lines[1] ?? "", /^# expected: /);
  return lines.slice(2);
}

function classify(relative: string, exit?: ExitStatus): Classification {
  return classifyLines(fixtureLines(relative), exit);
}

/** Evidence is at most five lines of the log itself, in log order. */
function assertEvidenceFrom(c: Classification, lines: string[]): void {
  assert.ok(c.evidence.length <= 5, `${c.evidence.length} evidence lines`);
  let from = 0;
  for (const line of c.evidence) {
    const at = lines.indexOf(line, from);
    assert.ok(at >= from, `evidence line not found in log order: ${line}`);
    from = at + 1;
  }
}

describe("classification of every recorded run (INDEX.md tables)", () => {
  test("the INDEX tables were read", () => {
    assert.ok(rows.filter((r) => r.dir === "imapsync-2.229").length >= 59);
    assert.equal(rows.filter((r) => r.dir === "imapsync-2.229-m365").length, 7);
  });

  for (const row of rows) {
    const status = row.exit.signal ?? `exit ${row.exit.code}`;
    test(`${row.dir}/${row.file} (${status}) is ${row.expected}`, () => {
      const lines = runLines(row);
      const c = classifyLines(lines, row.exit);
      assert.equal(c.class, row.expected);
      assertEvidenceFrom(c, lines);
      if (c.class !== "ok") assert.ok(c.evidence.length > 0, "a failure names its evidence");
    });

    test(`${row.dir}/${row.file} read as a log file (no exit status) is still ${row.expected}`, () => {
      assert.equal(classifyLines(runLines(row)).class, row.expected);
    });
  }
});

describe("classification of the Office 365 excerpts (# expected: headers)", () => {
  for (const excerpt of excerpts()) {
    test(`office365/${excerpt.file} is ${excerpt.expected}`, () => {
      const lines = excerptLines(excerpt.file);
      const c = classifyLines(lines);
      assert.equal(c.class, excerpt.expected);
      assertEvidenceFrom(c, lines);
      assert.ok(c.evidence.length > 0, "an excerpt's class is backed by one of its lines");
    });
  }
});

describe("classification of the public corpus (# expected: headers)", () => {
  const corpus = excerpts("public-corpus");

  test("the corpus holds at least 40 excerpts, each with a source URL", () => {
    assert.ok(corpus.length >= 40, `${corpus.length} excerpts`);
    for (const { file } of corpus) {
      assert.match(
        fixtureLines(path.join("public-corpus", file))[0] ?? "",
        /^# source: https:\/\//,
      );
    }
  });

  for (const excerpt of corpus) {
    test(`public-corpus/${excerpt.file} is ${excerpt.expected}`, () => {
      const lines = excerptLines(excerpt.file, "public-corpus");
      const c = classifyLines(lines);
      assert.equal(c.class, excerpt.expected);
      assertEvidenceFrom(c, lines);
      assert.ok(c.evidence.length > 0, "an excerpt's class is backed by one of its lines");
    });
  }
});

test("every imapsync class is produced by at least one real fixture", () => {
  const produced = new Set([...rows.map((r) => r.expected), ...excerpts().map((e) => e.expected)]);
  assert.deepEqual([...produced].sort(), [...IMAPSYNC_CLASSES].sort());
});

describe("statistics", () => {
  test("t2: the incremental resume after token expiry", () => {
    const c = classify("imapsync-2.229/t2_resume_after_expiry.log", { code: 0, signal: null });
    assert.deepEqual(c.stats, {
      messagesTransferred: 3516,
      messagesSkipped: 684,
      missingOnDestination: 0,
      bytesTransferred: 4721494,
      // Counted from the copy lines, it agrees with imapsync's own statistics.
      messagesCopied: 3516,
      // The folder-size listings: host2 is read again at the end, equal to host1 then.
      sourceBytes: 5622822,
      destinationBytes: 5622822,
      destinationQuota: { usedBytes: 0, limitBytes: 0 },
    });
  });

  test("c_dry: the dry form counts what was transferred (0), and the run is ok", () => {
    const c = classify("imapsync-2.229/c_dry.log", { code: 0, signal: null });
    assert.equal(c.stats.messagesTransferred, 0);
    assert.equal(c.stats.messagesCopied, 0, "a dry run's 'copying to' lines copy nothing");
    assert.equal(c.stats.missingOnDestination, 90);
    assert.equal(c.class, "ok");
  });

  test("no statistics block (errorsmax reached): only the copy lines tell what was copied", () => {
    const log = "imapsync-2.229-m365/token_expired_midrun.log";
    const copyLines = readFileSync(path.join(FIXTURES, log), "utf8")
      .split("\n")
      .filter((line) => /^msg .* copied to /.test(line)).length;
    assert.ok(copyLines > 0);
    assert.deepEqual(classify(log).stats, {
      messagesCopied: copyLines,
      sourceBytes: 6006087,
      destinationBytes: 0,
      destinationQuota: { usedBytes: 0, limitBytes: 0 },
    });
  });
});

describe("throttling", () => {
  test("the suggested backoff of the throttled run", () => {
    const c = classify("imapsync-2.229-m365/throttled_fetch.log", { code: 115, signal: null });
    assert.equal(c.backoffMs, 299609);
    assert.ok(c.lostConnection, "BYE Connection closed");
    assert.match(remedyFor(c.class, c), /5 minutes/);
  });

  test("the largest backoff when several are suggested (299609 and 299187)", () => {
    assert.equal(classifyLines(excerptLines("11-throttled-append-no.txt")).backoffMs, 299609);
  });

  test("no backoff without throttling", () => {
    assert.equal(classify("imapsync-2.229-m365/token_expired_midrun.log").backoffMs, undefined);
  });

  test("a run stopped on purpose after a refusal is interrupted, and says it was refused", () => {
    // The same log ended by the abort file (exit 7): a slice paused just after its own refusal.
    const c = classify("imapsync-2.229-m365/throttled_fetch.log", { code: 7, signal: null });
    assert.equal(c.class, "interrupted");
    assert.equal(c.refused, true);
    assert.equal(classify("imapsync-2.229/k1_sigterm.log").refused, undefined);
    assert.equal(classify("imapsync-2.229-m365/token_expired_midrun.log").refused, undefined);
  });
});

describe("folders", () => {
  const accented = "&AMk-l&AOk-ments envoy&AOk-s";

  test("a_first_sync: one pair per folder, IMAP (modified UTF-7) names", () => {
    const { folders } = classify("imapsync-2.229/a_first_sync.log");
    assert.equal(folders.length, 7);
    assert.deepEqual(folders[0], { source: accented, destination: accented });
    assert.deepEqual(
      folders.find((f) => f.source === "Archive/2023"),
      { source: "Archive/2023", destination: "Archive/2023" },
    );
  });

  test("b_incremental: automap sent the accented folder into Sent", () => {
    const { folders } = classify("imapsync-2.229/b_incremental.log");
    assert.deepEqual(
      folders.find((f) => f.source === accented),
      { source: accented, destination: "Sent" },
    );
  });
});

describe("progress", () => {
  test("live progress from the copy line INBOX/1 of a_first_sync", () => {
    const classifier = new RunClassifier();
    assert.equal(classifier.progress, undefined);
    for (const line of fixtureLines("imapsync-2.229/a_first_sync.log")) {
      classifier.push(line);
      if (line.startsWith("msg INBOX/1 {390} ")) break;
    }
    // The line ends "116.783 KiB copied ETA: ... 0 s  194/300 msgs left"; the 106th copy line.
    assert.deepEqual(classifier.progress, {
      done: 106,
      total: 300,
      copiedMessages: 106,
      copied: "116.783 KiB",
      etaSeconds: 0,
    });
  });

  test("a rerun's copies are its own copy lines, not the messages handled from the top", () => {
    // Attempt 5 of fixtures/imapsync-2.229-throttle (INDEX.md): 180 there before it, 88 copied,
    // then refused messages counted too, "-32/300 msgs left" at the end: 332 handled.
    const c = classify("imapsync-2.229-throttle/throttled_rerun_below_zero_left.log");
    assert.equal(c.progress?.copiedMessages, 88);
    assert.equal(c.progress?.done, 332);
  });

  test("a finished run ends at total/total", () => {
    const row = rows.find((r) => r.file.startsWith("w1_"))!;
    const c = classifyLines(runLines(row), row.exit);
    assert.equal(c.progress?.done, 4200);
    assert.equal(c.progress?.total, 4200);
  });

  test("an interrupted run stops part way (k1)", () => {
    const p = classify("imapsync-2.229/k1_sigterm.log").progress;
    assert.ok(p && p.done > 0 && p.done < p.total, JSON.stringify(p));
  });
});

describe("evidence and lost connections", () => {
  test("m1: the fetch error, the lost connection and the Exiting line", () => {
    const c = classify("imapsync-2.229/m1_stop_source.log", { code: 115, signal: null });
    assert.equal(c.class, "partial");
    assert.ok(c.lostConnection);
    assert.ok(c.evidence.some((l) => l.startsWith("Failure: lost connection for host1")));
    assert.match(c.evidence.at(-1) ?? "", /^Exiting with return value 115 /);
  });

  test("r2: re-authentication refused after a BYE is the deciding line", () => {
    const c = classify("imapsync-2.229/r2_token_rotated_bye.log", { code: 115, signal: null });
    assert.match(c.evidence[0] ?? "", /could not be fetched: .*AUTHENTICATIONFAILED/);
  });

  test("u2: the SSL text decides over the connection-failure exit code", () => {
    const c = classify("imapsync-2.229/u2_ssl1_on_plain_port.log", { code: 101, signal: null });
    assert.equal(c.class, "tls_failed");
    assert.ok(c.evidence.some((l) => l.includes("SSL connect attempt failed")));
  });

  test("a clean run lost no connection", () => {
    assert.equal(classify("imapsync-2.229/a_first_sync.log").lostConnection, false);
  });

  test("the exit code alone does not separate token expiry from throttling (both 115)", () => {
    const exit = { code: 115, signal: null };
    assert.equal(
      classify("imapsync-2.229-m365/token_expired_midrun.log", exit).class,
      "token_expired",
    );
    assert.equal(classify("imapsync-2.229-m365/throttled_fetch.log", exit).class, "throttled");
  });

  test("a retried SSL read error inside a run that exits 0 and looks good stays ok", () => {
    const run = fixtureLines("imapsync-2.229/a_first_sync.log");
    const middle = Math.floor(run.length / 2);
    const sslNoise = excerptLines("21-tls-error-ssl-read-faq.txt");
    assert.equal(classifyLines(sslNoise).class, "tls_failed");
    const mixed = [...run.slice(0, middle), ...sslNoise, ...run.slice(middle)];
    assert.equal(classifyLines(mixed, { code: 0, signal: null }).class, "ok");
  });

  test("a signal decides over the text (k1 killed by SIGTERM)", () => {
    const lines = fixtureLines("imapsync-2.229/k1_sigterm.log");
    const withoutSignalLines = lines.filter(
      (l) => !/killing myself|Asked to terminate|Ended by a signal/i.test(l),
    );
    assert.equal(classifyLines(withoutSignalLines).class, "partial");
    assert.equal(
      classifyLines(withoutSignalLines, { code: null, signal: "SIGTERM" }).class,
      "interrupted",
    );
  });
});

test("a UTF-8 character split across chunks survives the line reader", async () => {
  const bytes = readFileSync(path.join(FIXTURES, "imapsync-2.229/a_first_sync.log"));
  const oneBytePerChunk = Readable.from(
    (function* () {
      for (let i = 0; i < bytes.length; i++) yield bytes.subarray(i, i + 1);
    })(),
  );
  const classifier = new RunClassifier();
  const lines: string[] = [];
  for await (const batch of readLineBatches(oneBytePerChunk)) {
    for (const line of batch) {
      lines.push(line);
      classifier.push(line);
    }
  }
  const whole = fixtureLines("imapsync-2.229/a_first_sync.log");
  assert.equal(
    lines.filter((l) => l.includes("[Éléments envoyés]")).length,
    whole.filter((l) => l.includes("[Éléments envoyés]")).length,
  );
  assert.ok(lines.some((l) => l.includes("[Éléments envoyés]")));
  assert.ok(!lines.some((l) => l.includes("\uFFFD")), "no replacement character");
  assert.deepEqual(classifier.finish(), classifyLines(whole));
});

describe("wordings no fixture has, of the kinds the public corpus was missing", () => {
  const LOGINS = [
    "Host1: success login on [outlook.office365.com] with user [ann@contoso.com] auth [XOAUTH2 accesstoken] or [LOGIN]",
    "Host2: success login on [mx.example.net] with user [ann@example.net] auth [PLAIN] or [LOGIN]",
  ];
  /** Written by hand from each program's documented message format; made-up hosts and users. */
  const CASES: { name: string; lines: string[]; expected: RunClass; fromOutside?: boolean }[] = [
    // A provider's rate limit under the OVERQUOTA code is throttling, not a full mailbox.
    {
      name: "Gmail's limit as an untagged BYE",
      lines: ["* BYE [OVERQUOTA] Account exceeded command or bandwidth limits."],
      expected: "throttled",
    },
    {
      name: "Python's imaplib quoting it",
      lines: [
        "imaplib.IMAP4.abort: command: EXAMINE => [OVERQUOTA] Account exceeded command or bandwidth limits.",
      ],
      expected: "throttled",
    },
    {
      name: "the admin console's sentence",
      lines: ["Account has exceeded the Gmail bandwidth limit for downloads via IMAP"],
      expected: "throttled",
    },
    {
      name: "a full mailbox under the same code stays a full mailbox",
      lines: [
        "- msg INBOX/7 {1093} could not append ( Subject:[x], Size:[1093], Flags:[] ) to folder INBOX: Error sending '97 APPEND INBOX () {1093}': 97 NO [OVERQUOTA] Mailbox is full",
      ],
      expected: "quota_exceeded",
    },
    // The source host does not resolve.
    {
      name: "glibc's EAI_NODATA, quoted",
      lines: [
        "> Unable to connect to imap.example.org: getaddrinfo(imap.example.org) failed: No address associated with hostname",
      ],
      expected: "connect_failed_source",
    },
    {
      name: "Windows' resolver",
      lines: ["Unable to connect to outlook.office365.com: No such host is known."],
      expected: "connect_failed_source",
    },
    {
      name: "IO::Socket::INET",
      lines: ["IO::Socket::INET: Bad hostname 'imap.example.org'"],
      expected: "connect_failed_source",
    },
    {
      name: "imapsync's own resolver line",
      lines: ["Cannot getaddrinfo of imap.example.org: Name or service not known"],
      expected: "connect_failed_source",
    },
    {
      name: "the destination's name, the side taken from the line before",
      lines: [
        "Host2: connecting and login on host2 [mx.example.invalid] port [993] with user [ann]",
        "Unable to connect to mx.example.invalid: Temporary failure in name resolution",
      ],
      expected: "connect_failed_destination",
    },
    {
      name: "a reconnection failing after a successful login: messages are missing",
      lines: [LOGINS[0]!, "Unable to connect to outlook.office365.com: Name or service not known"],
      expected: "partial",
    },
    {
      name: "inside a message's error: the message's line decides",
      lines: [
        "- msg INBOX/9 {0} S[2054] F[] I[23-Feb-2011 20:04:38 +0100] could not be fetched: Unable to connect to imap.example.org: Name or service not known",
      ],
      expected: "partial",
    },
    // No answer to the connection.
    {
      name: "Node's ETIMEDOUT",
      lines: ["Error: connect ETIMEDOUT 40.101.83.18:993"],
      expected: "connect_failed_source",
    },
    {
      name: "Python's errno 110",
      lines: ["TimeoutError: [Errno 110] Connection timed out"],
      expected: "connect_failed_source",
    },
    {
      name: "no route",
      lines: ["Unable to connect to 203.0.113.7: No route to host"],
      expected: "connect_failed_source",
    },
    {
      name: "the destination, side from context",
      lines: [
        "Host2: connecting on host2 [mx.example.net] port [993]",
        "connect to mx.example.net port 993 failed: Network is unreachable",
      ],
      expected: "connect_failed_destination",
    },
    {
      name: "imapsync's timeout setting is no timeout",
      lines: [
        "Host1: imap connection timeout is 120 seconds",
        ...LOGINS,
        "Exiting because of --justlogin",
      ],
      expected: "ok",
    },
    // A --justlogin run that ends, and one whose excerpt is cut.
    {
      name: "--justlogin ending quoted in backticks",
      lines: [...LOGINS, "`Exiting because of --justlogin`"],
      expected: "ok",
    },
    {
      name: "--justlogin ending with its exit line",
      lines: [
        ...LOGINS,
        "Exiting because of --justlogin ",
        "Exiting with return value 0 (EX_OK: successful termination) 0/50 nb_errors/max_errors PID 4242",
      ],
      expected: "ok",
    },
    {
      name: "--justlogin of 1.727: only the exit line",
      lines: [
        "$RCSfile: imapsync,v $ $Revision: 1.727 $",
        ...LOGINS,
        "Exiting with return value 0",
      ],
      expected: "ok",
    },
    {
      name: "--justlogin cut after the logins",
      lines: [...LOGINS, "Host1: state Authenticated", "Host2: state Authenticated"],
      expected: "other",
    },
    // Killed from outside, as shells and Perl say it.
    {
      name: "bash job control",
      lines: ["[1]+  Killed                  imapsync --host1 imap.example.org --user1 ann"],
      expected: "interrupted",
      fromOutside: true,
    },
    {
      name: "zsh job control",
      lines: ["[1]  + 4242 killed     imapsync --host1 imap.example.org --user1 ann"],
      expected: "interrupted",
      fromOutside: true,
    },
    {
      name: "a script's shell, PID padded",
      lines: ["./migrate.sh: line 12:  4242 Killed                  imapsync --host1 h"],
      expected: "interrupted",
      fromOutside: true,
    },
    {
      name: "a script's shell, SIGTERM",
      lines: ["bash: line 1:  4242 Terminated              imapsync --host1 h"],
      expected: "interrupted",
      fromOutside: true,
    },
    {
      name: "a prompt, then Killed",
      lines: ["sync> Killed"],
      expected: "interrupted",
      fromOutside: true,
    },
    {
      name: "Perl's large-request form",
      lines: [
        'Out of memory during "large" request for 134221824 bytes, total sbrk() is 402784256 bytes',
      ],
      expected: "interrupted",
      fromOutside: true,
    },
    // TLS protocol mismatches, in other layers' words.
    {
      name: "Python's ssl module",
      lines: ["ssl.SSLError: [SSL: UNSUPPORTED_PROTOCOL] unsupported protocol (_ssl.c:1000)"],
      expected: "tls_failed",
    },
    {
      name: "OpenSSL 3 through Node",
      lines: [
        "Error: C0D7B1E8F67F0000:error:0A000102:SSL routines:ssl_choose_client_version:unsupported protocol",
      ],
      expected: "tls_failed",
    },
    {
      name: "Go's crypto/tls",
      lines: ["tls: server selected unsupported protocol version 301"],
      expected: "tls_failed",
    },
    {
      name: "Java",
      lines: [
        "javax.net.ssl.SSLHandshakeException: No appropriate protocol (protocol is disabled or cipher suites are inappropriate)",
      ],
      expected: "tls_failed",
    },
    {
      name: "an old server's alert",
      lines: [
        "SSL_connect: error:1409442E:SSL routines:ssl3_read_bytes:tlsv1 alert protocol version",
      ],
      expected: "tls_failed",
    },
  ];

  for (const { name, lines, expected, fromOutside } of CASES) {
    test(`${name}: ${expected}`, () => {
      const c = classifyLines(lines);
      assert.equal(c.class, expected);
      assertEvidenceFrom(c, lines);
      if (expected !== "ok") assert.ok(c.evidence.length > 0, "backed by one of its lines");
      if (fromOutside !== undefined) assert.equal(c.killedFromOutside ?? false, fromOutside);
      if (expected === "other")
        assert.equal(c.logEndsEarly, true, "the log ends before the run did");
    });
  }
});
