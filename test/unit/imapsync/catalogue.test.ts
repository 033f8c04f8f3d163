// Every catalogue entry is tried on a line of the form it documents (written here from the
// format the source reference prints, with made-up hosts and users), alone and, for a form that
// belongs to some releases only, under the banner of a release that does not print it.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  appliesTo,
  CATALOGUE,
  compareReleases,
  VERSION_BANNERS,
  type CatalogueEntry,
} from "../../../src/imapsync/catalogue.js";
import { classifyLines, RunClassifier } from "../../../src/imapsync/classify.js";
import { remedyFor } from "../../../src/outcomes/remedies.js";
import type { RunClass } from "../../../src/outcomes/classes.js";
import type { Classification } from "../../../src/imapsync/classification.js";

/** The remedy of a classified run, computed as diagnose computes it (the classifier has none). */
const remedyOf = (c: Classification): string => remedyFor(c.class, c);

interface Example {
  line: string;
  /** The class the line alone gives, when the entry's own class is not the whole story. */
  expected?: RunClass;
  /** Lines before it (a side in context, an earlier login). */
  before?: string[];
}

const EXAMPLES: Record<string, Example> = {
  "signal-asked-to-terminate": {
    line: "Got a signal TERM (my PID is 4242 my PPID is 4240). Asked to terminate",
  },
  "signal-plain-1727": { line: "Got a signal TERM" },
  "signal-ended-by": {
    line: "Ended by a signal TERM (my PID is 4242 my PPID is 4240). I am asked to terminate immediately.",
  },
  "signal-ended-by-2024-log": {
    line: "imapsync Ended by a signal TERM (my PID is 7 my PPID is 1). I am asked to terminate immediately.",
  },
  "signal-killing-myself": { line: "Killing myself with signal INT" },
  "signal-still-there": { line: "Still there after killing myself with signal TERM..." },
  "signal-catch-exit-no-signal": { line: "Exiting in catch_exit with no signal..." },
  "signal-two-int": { line: "Got two signals INT within 2 seconds. Exiting..." },
  "abort-file": { line: "Asked to terminate by file /jobs/7/imapsync.pidabort4242" },
  "exitwhenover-reached": {
    line: "Maximum bytes transferred reached, 5000123 >= 5000000, ending sync",
  },
  "shell-killed": { line: "./run.sh: line 3: 4242 Killed                  imapsync --host1 h" },
  "zsh-killed": { line: "zsh: killed     imapsync --host1 imap.example.org --user1 a" },
  "shell-terminated": { line: "Terminated" },
  "kernel-oom-kill": {
    line: "Out of memory: Killed process 4242 (imapsync) total-vm:2334360kB, anon-rss:1945800kB",
  },
  "container-oomkilled": { line: "      Reason:       OOMKilled" },
  "exo-access-token-expired": { line: "* BYE Session invalidated - AccessTokenExpired" },
  "reauth-refused-inside-run": {
    line: "Host1 Folder Sent: Could not select: * BYE Connection closed. 14; 31 NO AUTHENTICATE failed.",
  },
  "exo-not-connected": { line: "Read:   4 BAD User is authenticated but not connected." },
  "exo-throttled": {
    line: "Read:   19 NO Request is throttled. Suggested Backoff Time: 120000 milliseconds",
  },
  "exo-authenticate-failed": { line: "Read:   2 NO AUTHENTICATE failed." },
  "imap-authenticationfailed": {
    line: "Read:   2 NO [AUTHENTICATIONFAILED] Authentication failed.",
    before: ["Host2: imap.example.org says it has CAPABILITY for AUTHENTICATE LOGIN"],
    expected: "auth_failed_destination",
  },
  "exo-login-failed": { line: "S: A00000002 NO LOGIN failed." },
  "exo-server-unavailable": { line: "3 NO Server Unavailable. 15" },
  "exo-bye-connection-closed": { line: "Read:   * BYE Connection closed. 14", expected: "other" },
  "imap-bye-shutdown-or-reset": {
    line: "Read:   * BYE Server shutting down.",
    expected: "other",
  },
  "exo-logon-denied": {
    line: 'Read:   2 NO AUTHENTICATE failed. Error="AuthFailed:LogonDenied-None-OAuthLog:AuthExc_Auth Failed."',
  },
  "exo-command-argument-error": { line: "Read:   42 BAD Command Argument Error. 11" },
  "sigint-reconnect": {
    line: "Info: reconnecting to host1 imap server imap.example.org",
    expected: "other",
  },
  "foldersizes-failure": {
    line: "Failure getting foldersizes, ETA and final diff will not be displayed",
    before: ["++++ Statistics"],
    expected: "other",
  },
  "login-failure-host1": {
    line: "Host1 failure: Error login on [imap.example.org] with user [ann] auth [LOGIN]: 2 NO [AUTHENTICATIONFAILED] Authentication failed.",
  },
  "login-failure-host2": {
    line: "Host2 failure: Error login on [mx.example.net] with user [ann] auth [PLAIN]: 3 NO [AUTHENTICATIONFAILED] Authentication failed.",
  },
  "login-failure-proxyauth": {
    line: "Host2 failure: Error login on [mx.example.net] with user [ann] auth [PLAIN] using proxy-login as [admin]: 3 NO denied",
    expected: "auth_failed_destination",
  },
  "login-failure-authmech": {
    line: "Host1 failure: Error login on [outlook.office365.com] with user [ann@contoso.com] auth [XOAUTH2 accesstoken]: 2 NO AUTHENTICATE failed.",
  },
  "login-failure-preauth": {
    line: "Host2 failure: error login on host2 [mx.example.net] with user [ann] auth [PREAUTH]",
    expected: "auth_failed_destination",
  },
  "login-failure-1498": {
    line: "Failure: error login on [mx.example.net] with user [ann] auth [LOGIN]: 3 NO Login failed",
    before: ["Host2: connecting on host2 [mx.example.net] port [143]"],
    expected: "auth_failed_destination",
  },
  "login-failure-1446": {
    line: "Failure: error login [imap.example.org] with user [ann] auth [CRAM-MD5]: 2 NO bad",
  },
  "login-failure-1077": {
    line: "Error login : [imap.example.org] with user [ann] : 2 NO Login failed",
  },
  "login-failure-xmasterauth": {
    line: "Failure authenticate with X-MASTERAUTH: 2 NO refused",
  },
  "login-failure-xoauth2-json": {
    line: "error [./serviceaccount.json]: No such file or directory",
  },
  "login-ok": {
    line: "Host1: success login on [outlook.office365.com] with user [ann@contoso.com] auth [XOAUTH2 accesstoken] or [LOGIN]",
    expected: "other",
  },
  "raw-authenticate-ok": {
    line: "S: A00000001 OK AUTHENTICATE completed.",
    expected: "other",
  },
  "connect-failure-host1": {
    line: "Host1 failure: can not open imap connection on host1 [imap.example.org] with user [ann]: Unable to connect to imap.example.org:  Connection refused",
  },
  "connect-failure-host2": {
    line: "Host2 failure: can not open imap connection on host2 [mx.example.net] with user [ann]: Unable to connect to mx.example.net:  Connection refused",
  },
  "connect-imap-host1": {
    line: "Host1: Can not open imap connection on [imap.example.org]: Unable to connect to imap.example.org: Name or service not known",
  },
  "connect-imap-host2": {
    line: "Host2: Can not open imap connection on [mx.example.net]: Unable to connect to mx.example.net: Connection timed out",
  },
  "connect-failure-1607": {
    line: "Failure: can not open imap connection on host2 [mx.example.net] with user [ann]: Connection refused",
    expected: "connect_failed_destination",
  },
  "connect-imap-1607": {
    line: "Can not open imap connection on [imap.example.org]: IO::Socket::INET: connect: Connection refused",
  },
  "connect-failure-1200": {
    line: "Error connecting to imap.example.org:993: IO::Socket::SSL: connect: Connection refused",
  },
  "tls-starttls-failure": {
    line: "Host1 failure: Can not go to tls encryption on host1 [imap.example.org]: 2 BAD TLS support isn't enabled.",
  },
  "tls-unable-to-start": {
    line: "Host2: Can not go to tls encryption on host2 [mx.example.net]:Unable to start TLS: SSL connect attempt failed",
  },
  "tls-ssl-connect-failed": {
    line: "DEBUG: .../IO/Socket/SSL.pm:850: local error: SSL connect attempt failed error:0A00010B:SSL routines::wrong version number",
  },
  "tls-ssl-read-error": { line: "DEBUG: IO/Socket/SSL.pm:1043: local error: SSL read error" },
  "lost-connection": {
    line: "Failure: lost connection for host1 [imap.example.org]: (len=42) Error sending '466 NOOP': NO not connected",
  },
  "not-connected-trace": {
    line: "Trying command when NOT connected! at /usr/share/perl5/Mail/IMAPClient.pm line 121.",
    expected: "other",
  },
  "socket-closed": {
    line: "Read: socket closed while reading data from server",
    expected: "other",
  },
  "read-timeout": {
    line: "ERROR: timeout waiting 120s for data from server",
    expected: "other",
  },
  "quota-server-overquota": {
    line: "- msg INBOX/7 {1093} could not append ( Subject:[x], Date:[\"14-Feb-2025 12:13:09 +0000\"], Size:[1093], Flags:[] ) to folder INBOX: Error sending '97 APPEND INBOX () {1093}': 97 NO [OVERQUOTA] Quota exceeded (mailbox for user is full)",
  },
  "quota-limit-will-be-exceeded": {
    line: "Host2: Quota limit will be exceeded! Over 143.3 % ( 89177 bytes / 61440 bytes )",
  },
  "quota-find-a-bigger-place": {
    line: "Host2: 99.5 % full: it is time to find a bigger place! ( 61133 bytes / 61440 bytes )",
  },
  "append-failure": {
    line: '- msg INBOX/3 {3342} could not append ( Subject:[x], Date:["23-Nov-2017 11:35:01 +0100"], Size:[3342], Flags:[] ) to folder INBOX: 35 NO [SERVERBUG] Internal error',
  },
  "append-failure-1350": {
    line: "- msg INBOX/3 {3342} couldn't append  (Subject:[hello]) to folder INBOX: 35 NO refused",
  },
  "append-failure-1200": {
    line: "Couldn't append msg #3 (Subject:[hello]) to folder INBOX: NO refused",
  },
  "fetch-failure": {
    line: "- msg INBOX/9 {0} S[2054] F[\\Seen] I[23-Feb-2011 20:04:38 +0100] could not be fetched: socket closed while reading data from server",
  },
  "fetch-hash-failure": {
    line: "Host1: folder INBOX : Could not fetch_hash 300 msgs: NO not connected",
  },
  "flags-failure": {
    line: "Host2: flags msg INBOX/957910 could not add flags [\\Seen $Junk]: 33 NO Error in IMAP command",
  },
  "delete-failure": {
    line: "Host1 folder, could not delete 12 messages: 40 NO [READ-ONLY] Mailbox is read-only",
  },
  "not-finished": {
    line: "The sync is not finished, there are 272 among 700 identified messages in host1 that are not on host2.",
  },
  "stats-missing-on-host2": { line: "Messages found in host1 not in host2    : 12 messages" },
  "select-failure": {
    line: "Host1 folder INBOX: Could not select: 10 NO INBOX doesn't exist.",
  },
  "select-failure-1200": {
    line: "From Folder INBOX.old : Could not select NO Mailbox does not exist",
  },
  "examine-failure": { line: "Host1 folder Archive: Could not examine: 12 NO no such folder" },
  "create-failure": {
    line: "Could not create folder [Files] from [Files]: 21 NO Folder name is reserved.",
  },
  "unknown-option": { line: "Unknown option: foo" },
  "passfile-missing": {
    line: "Failure: file from parameter --passfile2 /secrets/nope does not exist or is not readable",
  },
  "pidfile-locked": {
    line: "/tmp/imapsync.pid already exists, another imapsync may be curently running. Aborting imapsync.",
  },
  "subfolder1-missing": { line: "subfolder1 Old does not exist" },
  "option-mandatory": {
    line: "--host1 option is mandatory, for help run ./imapsync --help",
  },
  "option-check-failed": { line: "Error: one of --regexmess option is bad, check it" },
  "regextrans2-eval": {
    line: "error: eval regextrans2 's/(/x/': Unmatched ( in regex",
  },
  "delete1-delete2": {
    line: "Warning: using --delete1 and --delete2 together is almost always a bad idea. You should probably launch two runs",
  },
  "uidexpunge-unsupported": {
    line: "Failure: uidexpunge not supported (IMAPClient release < 3.17), use nothing or --expunge2 instead",
  },
  "cgi-heavy-load": { line: "Server is on heavy load. Be back later. Load is 12.0" },
  "automap-needs-newer-module": {
    line: "Host1: To have automagic rfc6154 folder mapping, upgrade Mail::IMAPClient >= 3.34",
  },
  "looks-good": {
    line: "The sync looks good, all 300 identified messages in host1 are on host2.",
  },
  "just-mode-ending": { line: "Exiting because of --justlogin" },
  "justconnect-ending": { line: "Exiting after a justconnect on host(s): imap.example.org" },
  "tail-ending": { line: "Tail -f finished. Now finishing myself processus 4242" },
  statistics: { line: "++++ Statistics", expected: "ok" },
  "detected-errors": { line: "Detected 3 errors", expected: "other" },
  "errorsmax-reached": {
    line: "Maximum number of errors 50 reached ( you can change 50 to any value, for example 100 with --errorsmax 100 ). Exiting.",
    expected: "other",
  },
  "exit-line-2140": {
    line: "Exiting with return value 113 (EXIT_OVERQUOTA) 2/50 nb_errors/max_errors PID 4242",
    expected: "quota_exceeded",
  },
  "exit-line-1977": {
    line: "Exiting with return value 162 (EXIT_AUTHENTICATION_FAILURE_USER2) 1/50 nb_errors/max_errors",
    expected: "auth_failed_destination",
  },
  "exit-line-1945": {
    line: "Exiting with return value 10 (EXIT_CONNECTION_FAILURE)",
    expected: "connect_failed_source",
  },
  "exit-line-1727": { line: "Exiting with return value 0", expected: "ok" },
};

/** A banner line of each release, as VERSION_BANNERS read it. */
const BANNERS: Record<string, { line: string; release: string }> = {
  "banner-here-is": {
    line: "Here is imapsync 2.229 on host vm, a linux system with 22.0/23.5 free GiB of RAM",
    release: "2.229",
  },
  "banner-here-is-with-path": {
    line: "Here is imapsync 2.303 ./imapsync on host imapsync, a linux system with 2.1/3.8 free GiB of RAM",
    release: "2.303",
  },
  "banner-rcs-revision": {
    line: "$RCSfile: imapsync,v $ $Revision: 1.727 $ $Date: 2016/08/19 10:30:36 $",
    release: "1.727",
  },
};

function expectedOf(entry: CatalogueEntry, example: Example): RunClass {
  return example.expected ?? entry.class ?? "other";
}

/** A banner of a release the entry's form does not apply to, if there is one. */
function releaseOutside(entry: CatalogueEntry): string | undefined {
  if (entry.releases.to !== undefined) return "2.229";
  if (entry.releases.from !== undefined && compareReleases(entry.releases.from, "1.100") > 0) {
    return "1.100";
  }
  return undefined;
}

describe("the message catalogue", () => {
  test("every entry has a unique id and one example here, and every example an entry", () => {
    const ids = CATALOGUE.map((e) => e.id);
    assert.equal(new Set(ids).size, ids.length, "duplicate ids");
    assert.deepEqual([...ids].sort(), Object.keys(EXAMPLES).sort());
    assert.deepEqual(VERSION_BANNERS.map((b) => b.id).sort(), Object.keys(BANNERS).sort());
  });

  test("every source names a sub and line of a release, a module line, or a dated URL", () => {
    for (const { id, source, releases } of [...CATALOGUE, ...VERSION_BANNERS]) {
      switch (source.kind) {
        case "imapsync":
          assert.match(source.release, /^\d\.\d+$/, id);
          assert.match(source.sub, /^\w+$/, id);
          assert.ok(source.line > 0, id);
          assert.ok(appliesTo(releases, source.release), `${id}: its source release is in range`);
          break;
        case "module":
          assert.ok(source.module && source.version && source.line > 0, id);
          break;
        default:
          assert.match(source.url, /^https:\/\//, id);
          assert.match(source.date, /^\d{4}-\d{2}-\d{2}$/, id);
      }
    }
  });

  test("the source kinds cover imapsync's code of several releases and Exchange Online", () => {
    const releases = new Set(
      CATALOGUE.flatMap((e) => (e.source.kind === "imapsync" ? [e.source.release] : [])),
    );
    assert.ok(releases.has("2.229"));
    assert.ok(releases.size >= 6, [...releases].join(" "));
    assert.ok(CATALOGUE.some((e) => e.source.kind === "exchange"));
    assert.ok(CATALOGUE.some((e) => e.source.kind === "system"));
  });

  for (const entry of CATALOGUE) {
    const example = EXAMPLES[entry.id];
    if (!example) continue; // the first test names it
    const expected = expectedOf(entry, example);
    test(`${entry.id}: its line gives ${expected}`, () => {
      assert.match(example.line, entry.re);
      const c = classifyLines([...(example.before ?? []), example.line]);
      assert.equal(c.class, expected);
      if (entry.lost) assert.ok(c.lostConnection, "shows a lost connection");
      if (entry.class && expected === entry.class && expected !== "ok") {
        assert.ok(c.evidence.includes(example.line), "the line is the evidence");
      }
    });

    const outside = releaseOutside(entry);
    if (outside !== undefined && entry.class !== undefined) {
      test(`${entry.id}: not counted in a log of imapsync ${outside}`, () => {
        const banner = `Here is imapsync ${outside} on host vm, a linux system`;
        const lines = [banner, ...(example.before ?? []), example.line];
        const c = classifyLines(lines);
        // Uncounted, an `other` line leaves a log that ends early: same class, another remedy.
        assert.ok(c.class !== expected || remedyOf(c) !== remedyFor(expected), remedyOf(c));
      });
    }
  }
});

describe("releases", () => {
  test("order number by number, not as decimals", () => {
    const sorted = ["2.303", "1.98", "2.229", "1.977", "1.727", "1.200"].sort(compareReleases);
    assert.deepEqual(sorted, ["1.98", "1.200", "1.727", "1.977", "2.229", "2.303"]);
  });

  test("appliesTo: open ends, inclusive bounds, unknown release", () => {
    assert.ok(appliesTo({ from: "1.727", to: "1.921" }, "1.727"));
    assert.ok(appliesTo({ from: "1.727", to: "1.921" }, "1.921"));
    assert.ok(!appliesTo({ from: "1.727", to: "1.921" }, "1.945"));
    assert.ok(!appliesTo({ from: "2.140" }, "1.977"));
    assert.ok(appliesTo({ from: "2.140" }, "2.314"));
    assert.ok(appliesTo({ from: "2.140" }, undefined));
  });

  for (const banner of VERSION_BANNERS) {
    const example = BANNERS[banner.id];
    if (!example) continue;
    test(`${banner.id} gives the release ${example.release}`, () => {
      const classifier = new RunClassifier();
      classifier.push(example.line);
      assert.equal(classifier.imapsyncRelease, example.release);
    });
  }

  test("the same text is decided by each release's own form (append errors)", () => {
    const old = "- msg INBOX/3 {3342} couldn't append  (Subject:[hello]) to folder INBOX: 35 NO x";
    assert.equal(
      classifyLines(["$RCSfile: imapsync,v $ $Revision: 1.607 $", old]).class,
      "partial",
    );
    assert.equal(classifyLines(["Here is imapsync 2.229 on host h", old]).class, "other");
  });
});

describe("fragments", () => {
  test("a cause line wins in a fragment without exit line or statistics", () => {
    const c = classifyLines([
      "msg INBOX/1 {390}             copied to INBOX/1          4.0 msgs/s  5.0 KiB/s 1.0 KiB copied",
      EXAMPLES["exo-throttled"]!.line,
      "msg INBOX/2 {390}             copied to INBOX/2          4.0 msgs/s  5.0 KiB/s 2.0 KiB copied",
    ]);
    assert.equal(c.class, "throttled");
  });

  test("copy lines only: other, the log ends before the run did, its last line as evidence", () => {
    const last =
      "msg INBOX/2 {390}             copied to INBOX/2          4.0 msgs/s  5.0 KiB/s 2.0 KiB copied";
    const c = classifyLines(["Folder     1/1 [INBOX]      -> [INBOX]", last]);
    assert.equal(c.class, "other");
    assert.equal(remedyOf(c), remedyFor("other", { logEndsEarly: true }));
    assert.match(remedyOf(c), /log ends before the run did/);
    assert.deepEqual(c.evidence, [last]);
  });

  test("copy lines and a visible clean end: ok", () => {
    const c = classifyLines([
      "msg INBOX/2 {390}             copied to INBOX/2          4.0 msgs/s  5.0 KiB/s 2.0 KiB copied",
      "++++ Statistics",
      "Detected 0 errors",
    ]);
    assert.equal(c.class, "ok");
  });

  test("a visible end with errors counted is not ok", () => {
    assert.equal(classifyLines(["++++ Statistics", "Detected 2 errors"]).class, "other");
    const other = classifyLines(["++++ Statistics", "Detected 2 errors"]);
    assert.doesNotMatch(remedyOf(other), /log ends before/);
  });
});

describe("killed from outside", () => {
  const copying = [
    "Here is imapsync 2.229 on host vm, a linux system",
    "msg INBOX/2 {390}             copied to INBOX/2          4.0 msgs/s  5.0 KiB/s 2.0 KiB copied",
  ];

  test("SIGKILL as the exit status: interrupted, and the remedy says this tool did not stop it", () => {
    const c = classifyLines(copying, { code: null, signal: "SIGKILL" });
    assert.equal(c.class, "interrupted");
    assert.equal(remedyOf(c), remedyFor("interrupted", { killedFromOutside: true }));
    assert.match(remedyOf(c), /not stopped by this tool/);
    assert.match(remedyOf(c), /memory/);
    assert.match(remedyOf(c), /container/);
    assert.match(remedyOf(c), /a person/);
  });

  test("137 from a shell or container runtime is the same", () => {
    assert.match(
      remedyOf(classifyLines(copying, { code: 137, signal: null })),
      /killed from outside/,
    );
  });

  test("a shell's Killed line in the log: interrupted from outside", () => {
    const c = classifyLines([...copying, "Killed"]);
    assert.equal(c.class, "interrupted");
    assert.match(remedyOf(c), /not stopped by this tool/);
  });

  test("the tool's own SIGTERM keeps the stopped-on-purpose remedy", () => {
    const c = classifyLines(copying, { code: null, signal: "SIGTERM" });
    assert.equal(c.class, "interrupted");
    assert.equal(remedyOf(c), remedyFor("interrupted"));
  });
});
