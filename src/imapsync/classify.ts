import { remedyFor } from "../engine/remedies.js";
import type { Classification, FolderPair, Progress, RunClass, RunStats } from "../types.js";

/** How the imapsync process ended; unknown (`undefined`) for a log file or an excerpt. */
export interface ExitStatus {
  code: number | null;
  signal: string | null;
}

interface Rule {
  /** The class this text proves; none for lines that only show a lost connection. */
  class?: RunClass;
  re: RegExp;
  /** The text shows that a connection went away (the scheduler reruns such runs). */
  lost?: boolean;
  /** A --dry run copies nothing on purpose and still prints these lines (c_dry). */
  notInDry?: boolean;
}

/**
 * When several classes have evidence, the first one in this list wins. Office 365 texts come
 * before imapsync's own error classes because the exit code cannot tell them apart (all 115 in
 * token_expired_midrun and throttled_fetch; 117 in not_delegated_select), and every cause beats
 * `partial`, which is only the symptom "messages are missing".
 */
const PRIORITY: readonly RunClass[] = [
  "interrupted",
  "token_expired",
  "not_delegated",
  "throttled",
  "auth_failed_source",
  "auth_failed_destination",
  "tls_failed",
  "connect_failed_source",
  "connect_failed_destination",
  "quota_exceeded",
  "partial",
];

/**
 * Text rules, matched against every line except progress lines, after leading blanks are removed.
 * Fixture names: imapsync-2.229/<letter>, m365/<name>, office365/<number>.
 */
const RULES: readonly Rule[] = [
  // imapsync-2.229/k1, k3, k4, k5: statistics, then imapsync kills itself with the signal.
  { class: "interrupted", re: /^Killing myself with signal / },
  // imapsync-2.229/k3: the second INT within 2 s stops the run (a single INT only reconnects, k2).
  { class: "interrupted", re: /^Got two signals INT within/ },
  // imapsync-2.229/v1: the abort file.
  { class: "interrupted", re: /^Asked to terminate by file / },
  // imapsync-2.229/t1, m365/token_expired_midrun, office365/03.
  { class: "token_expired", re: /AccessTokenExpired/ },
  // imapsync-2.229/r2: no AccessTokenExpired, but re-authentication refused inside per-message and
  // per-folder errors, which only happen after a successful login.
  {
    class: "token_expired",
    re: /(?:could not be fetched|Could not select|could not append).*(?:AUTHENTICATE failed|AUTHENTICATIONFAILED)/,
  },
  // m365/not_delegated_select, office365/06, office365/08.
  { class: "not_delegated", re: /User is authenticated but not connected/ },
  // m365/throttled_fetch, office365/11.
  { class: "throttled", re: /Request is throttled/ },
  // imapsync-2.229/f, f2 (both sides refused: the source is reported), n3, p3; office365/05 (XOAUTH2).
  { class: "auth_failed_source", re: /Host1 failure: Error login on/ },
  // imapsync-2.229/g, m365/auth_failed_destination, office365/09.
  { class: "auth_failed_destination", re: /Host2 failure: Error login on/ },
  // imapsync-2.229/u3, office365/19.
  { class: "tls_failed", re: /Can not go to tls encryption/ },
  // imapsync-2.229/u2: exit 101 like a refused connection, but the text names the TLS mismatch.
  { class: "tls_failed", re: /SSL connect attempt failed/, lost: true },
  // office365/21.
  { class: "tls_failed", re: /SSL read error/, lost: true },
  // imapsync-2.229/h, h2, u4, office365/17.
  { class: "connect_failed_source", re: /can not open imap connection on host1/, lost: true },
  // imapsync-2.229/i, office365/18.
  { class: "connect_failed_destination", re: /can not open imap connection on host2/, lost: true },
  // imapsync-2.229/l, n1, m365/quota_exceeded, office365/22.
  { class: "quota_exceeded", re: /OVERQUOTA|Quota limit will be exceeded/ },
  // imapsync-2.229/l2, n2, office365/13.
  { class: "partial", re: /could not append/ },
  // imapsync-2.229/m1, m2, office365/26.
  { class: "partial", re: /could not be fetched/ },
  // imapsync-2.229/m1, m2.
  { class: "partial", re: /^Failure: lost connection/, lost: true },
  // office365/15; imapsync-2.229/c_dry prints it on a successful --dry run.
  { class: "partial", re: /^The sync is not finished/, notInDry: true },
  // imapsync-2.229/l2 (and c_dry, exempt).
  { class: "partial", re: /^Messages found in host1 not in host2\s+: [1-9]/, notInDry: true },
  // imapsync-2.229/y1 (exit 64, the whole log).
  { class: "other", re: /^Unknown option: / },
  // imapsync-2.229/j3 (exit 66).
  { class: "other", re: /^Failure: file from parameter / },
  // office365/25: a folder that cannot be selected is not fixed by a rerun.
  { class: "other", re: /Could not select:/ },
  // office365/23, office365/29 (Exchange Online answering other clients).
  { class: "other", re: /Server Unavailable\./ },
  // imapsync-2.229/a and every good run; office365/01.
  { class: "ok", re: /^The sync looks good/ },
  // imapsync-2.229/m1, m2: Perl stack traces once the source went away.
  { re: /Trying command when NOT connected/, lost: true },
  // m365/throttled_fetch: Office 365 closes the connection after repeated errors.
  { re: /BYE Connection closed/, lost: true },
  // imapsync-2.229/m1, m2 (server stopped), r2 (BYE before the refused re-login).
  { re: /BYE Server shutting down|Connection reset by peer/, lost: true },
];

/** One cheap test per line decides whether the rule table is worth running at all. */
const ANY_RULE = new RegExp(RULES.map((rule) => `(?:${rule.re.source})`).join("|"));
const BACKOFF = /Suggested Backoff Time: (\d+) milliseconds/g;
const EXITING = /^Exiting with return value (\d+) /;
const FOLDER = /^Folder\s+\d+\/\d+ \[(.*?)\]\s+-> \[(.*?)\]\s*$/;
const ETA_TAIL = /(-?\d+) s\s+(-?\d+)\/(\d+) msgs left$/;
const COPIED = /([\d.]+ [KMGTPE]?i?B) copied/;
/** `Host1 Total size:   89177 bytes (87.087 KiB)`: the byte count after the colon. */
function totalSize(line: string): number | undefined {
  const m = /:\s+(\d+) bytes/.exec(line);
  return m ? Number(m[1]) : undefined;
}

/** `Host2: Quota current storage is 0 bytes. Limit is 61440 bytes. So 0.00 % full` (standin). */
const QUOTA = /^Host2: Quota current storage is (\d+) bytes\. Limit is (\d+) bytes/;
/** imapsync's EXIT_BY_SIGNAL: printed before it kills itself, so never the real status. */
const EXIT_BY_SIGNAL = 6;
/** A line kept as evidence is cut here: a log line can be arbitrarily long. */
const MAX_EVIDENCE_CHARS = 1000;
const MAX_CLASS_EVIDENCE = 4;

/** The class imapsync's own exit code stands for, when the text named no cause. */
function classOfCode(code: number): RunClass {
  switch (code) {
    case 0:
      return "ok";
    case 10: // EXIT_CONNECTION_FAILURE (older releases, office365/17)
    case 101:
      return "connect_failed_source";
    case 102:
      return "connect_failed_destination";
    case 12:
      return "tls_failed";
    case 16:
    case 161:
      return "auth_failed_source";
    case 162:
      return "auth_failed_destination";
    case 113:
      return "quota_exceeded";
    case 111: // EXIT_WITH_ERRORS (office365/26)
    case 114: // EXIT_ERR_APPEND
    case 115: // EXIT_ERR_FETCH
    case 119: // EXIT_ERR_APPEND_VIRUS
    case 120: // EXIT_ERR_FLAGS
      return "partial";
    default:
      return "other";
  }
}

interface Hit {
  lineNo: number;
  text: string;
}

/**
 * A copy that owns its characters. V8 represents a substring as a view into its parent, so a kept
 * line or folder name would otherwise pin the whole chunk the line reader sliced it from.
 */
function detach(text: string): string {
  return Buffer.from(text, "utf8").toString("utf8");
}

function hit(lineNo: number, text: string): Hit {
  const kept = text.length > MAX_EVIDENCE_CHARS ? `${text.slice(0, MAX_EVIDENCE_CHARS)}…` : text;
  return { lineNo, text: detach(kept) };
}

/** The integer that starts a statistics value ("300 ", "0 (could be 205 without dry mode)"). */
function statValue(line: string): number | undefined {
  const value = Number.parseInt(line.slice(line.indexOf(": ") + 2), 10);
  return Number.isNaN(value) ? undefined : value;
}

/** The IMAP name of a folder as printed: `X] = [utf-8 form` keeps only X, what --f1f2 takes. */
function imapName(printed: string): string {
  const utf8 = printed.indexOf("] = [");
  return utf8 === -1 ? printed : printed.slice(0, utf8);
}

function isBlank(charCode: number): boolean {
  return charCode === 32 || charCode === 9;
}

/**
 * Classifies one imapsync run from its output, line by line. Memory stays bounded whatever the
 * log size: it keeps counters, the first hit of each rule, the last progress lines and the
 * folder pairs (one per source folder).
 */
export class RunClassifier {
  private lineNo = 0;
  /** The first line each rule matched (index = rule index). */
  private readonly firstHits: (Hit | undefined)[] = new Array<Hit | undefined>(RULES.length);
  private lost = false;
  private dry = false;
  private backoffMs: number | undefined;
  private readonly stats: RunStats = {};
  private readonly folders = new Map<string, string>();
  private exitingLine: Hit | undefined;
  private loggedCode: number | undefined;
  private frequentError: Hit | undefined;
  /** Latest line carrying overall counts (`... N/M msgs left`) and latest copy line. */
  private lastEta: string | undefined;
  private lastCopy: string | undefined;
  private cached: { eta: string; copy: string | undefined; progress: Progress } | undefined;
  private copyLines = 0;

  push(raw: string): void {
    this.lineNo++;
    // Copy lines are nearly every line of a big log and never carry an error: keep them cheap.
    if (raw.startsWith("msg ")) {
      // Dry runs print "copying to ... (not really ...)": only real copies count.
      if (raw.includes(" copied to ")) this.copyLines++;
      this.lastCopy = raw;
      if (raw.endsWith(" msgs left")) this.lastEta = raw;
      return;
    }
    const line = isBlank(raw.charCodeAt(0)) ? raw.trimStart() : raw;
    this.readStructured(line, raw);
    if (ANY_RULE.test(line)) this.applyRules(line, raw);
  }

  /** Overall progress from the latest ETA figures; undefined before the first one. */
  get progress(): Progress | undefined {
    const eta = this.lastEta;
    if (eta === undefined) return undefined;
    if (this.cached?.eta === eta && this.cached.copy === this.lastCopy) return this.cached.progress;
    const m = ETA_TAIL.exec(eta.slice(eta.lastIndexOf("ETA: ")));
    if (!m) return undefined;
    const left = Number(m[2]);
    const total = Number(m[3]);
    const progress: Progress = {
      done: Math.max(0, total - left),
      total,
      etaSeconds: Number(m[1]),
    };
    const copied = this.lastCopy === undefined ? undefined : COPIED.exec(this.lastCopy)?.[1];
    if (copied !== undefined) progress.copied = copied;
    this.cached = { eta, copy: this.lastCopy, progress };
    return progress;
  }

  /** The code of the last `Exiting with return value N` line; undefined if none or EXIT_BY_SIGNAL. */
  get loggedExitCode(): number | undefined {
    return this.loggedCode;
  }

  /** Decides the class: the process's own stop signal, then the text, then the exit code. */
  finish(exit?: ExitStatus): Classification {
    const cls = this.decide(exit);
    const classification: Classification = {
      class: cls,
      remedy: remedyFor(cls, { backoffMs: this.backoffMs }),
      evidence: this.evidenceFor(cls),
      stats: { ...this.stats, messagesCopied: this.copyLines },
      folders: [...this.folders].map(([source, destination]): FolderPair => ({
        source,
        destination,
      })),
      lostConnection: this.lost,
    };
    const progress = this.progress;
    if (progress) classification.progress = progress;
    if (this.backoffMs !== undefined) classification.backoffMs = this.backoffMs;
    return classification;
  }

  private decide(exit: ExitStatus | undefined): RunClass {
    const code = exit ? (exit.code ?? undefined) : this.loggedCode;
    // Stopped on purpose (signal or abort file): whatever else the log shows is not the cause.
    if (exit?.signal === "SIGTERM" || exit?.signal === "SIGINT" || code === 7) return "interrupted";
    // Exit 0 means imapsync counted no error, and "looks good" that it found every message on
    // host2: a stray transient line (an SSL read error that was retried) does not undo that.
    if (code === 0 && this.hitsOf("ok").length > 0) return "ok";
    const cause = PRIORITY.find((c) => this.hitsOf(c).length > 0);
    if (cause) return cause;
    if (code !== undefined) return classOfCode(code);
    // An excerpt without any exit status is ok only on imapsync's own "looks good" sentence.
    return this.hitsOf("ok").length > 0 && this.hitsOf("other").length === 0 ? "ok" : "other";
  }

  /** --dry: said by the statistics, or by the copy lines when the excerpt has no statistics. */
  private get isDry(): boolean {
    return this.dry || (this.lastCopy?.includes("(not really since --dry mode)") ?? false);
  }

  /** `line` is `raw` without leading blanks; evidence keeps the line as printed. */
  private readStructured(line: string, raw: string): void {
    switch (line.charCodeAt(0)) {
      case 69: // E
        if (line.startsWith("ETA: ")) {
          this.lastEta = line;
        } else if (line.startsWith("Exiting with return value ")) {
          const code = Number(EXITING.exec(line)?.[1]);
          this.exitingLine = hit(this.lineNo, raw);
          this.loggedCode = code === EXIT_BY_SIGNAL || Number.isNaN(code) ? undefined : code;
        }
        return;
      case 70: // F
        if (line.startsWith("Folder ")) this.readFolder(line);
        return;
      case 72: // H
        if (line.startsWith("Host1 Total size:")) {
          this.stats.sourceBytes = totalSize(line);
        } else if (line.startsWith("Host2 Total size:")) {
          this.stats.destinationBytes = totalSize(line);
        } else if (line.startsWith("Host2: Quota current storage is ")) {
          const m = QUOTA.exec(line);
          if (m)
            this.stats.destinationQuota = { usedBytes: Number(m[1]), limitBytes: Number(m[2]) };
        }
        return;
      case 77: // M
        if (line.startsWith("Messages transferred ")) {
          this.stats.messagesTransferred = statValue(line);
          if (line.includes("without dry mode")) this.dry = true;
        } else if (line.startsWith("Messages skipped ")) {
          this.stats.messagesSkipped = statValue(line);
        } else if (line.startsWith("Messages found in host1 not in host2 ")) {
          this.stats.missingOnDestination = statValue(line);
        }
        return;
      case 84: // T
        if (line.startsWith("Total bytes transferred ")) {
          this.stats.bytesTransferred = statValue(line);
        } else if (line.startsWith("The most frequent error is ")) {
          this.frequentError = hit(this.lineNo, raw);
        }
        return;
    }
  }

  private readFolder(line: string): void {
    const m = FOLDER.exec(line);
    if (!m) return;
    const source = imapName(m[1] ?? "");
    if (!this.folders.has(source)) this.folders.set(detach(source), detach(imapName(m[2] ?? "")));
  }

  private applyRules(line: string, raw: string): void {
    for (let i = 0; i < RULES.length; i++) {
      const rule = RULES[i]!;
      if (!rule.re.test(line)) continue;
      if (rule.lost) this.lost = true;
      this.firstHits[i] ??= hit(this.lineNo, raw);
      if (rule.class === "throttled") this.readBackoff(line);
    }
  }

  private readBackoff(line: string): void {
    for (const m of line.matchAll(BACKOFF)) {
      this.backoffMs = Math.max(this.backoffMs ?? 0, Number(m[1]));
    }
  }

  private hitsOf(cls: RunClass): Hit[] {
    const hits: Hit[] = [];
    RULES.forEach((rule, i) => {
      const first = this.firstHits[i];
      if (rule.class === cls && first && !(rule.notInDry && this.isDry)) hits.push(first);
    });
    return hits;
  }

  /** The first line of each rule that proves `cls`, the code's own explanation, the Exiting line. */
  private evidenceFor(cls: RunClass): string[] {
    const hits = this.hitsOf(cls);
    if (hits.length === 0 && this.frequentError) hits.push(this.frequentError);
    const byLine = new Map<number, Hit>();
    for (const h of hits.sort((a, b) => a.lineNo - b.lineNo).slice(0, MAX_CLASS_EVIDENCE)) {
      byLine.set(h.lineNo, h);
    }
    if (this.exitingLine) byLine.set(this.exitingLine.lineNo, this.exitingLine);
    return [...byLine.values()].sort((a, b) => a.lineNo - b.lineNo).map((h) => h.text);
  }
}

/** Classifies a whole sequence of lines (CR already stripped). */
export function classifyLines(lines: Iterable<string>, exit?: ExitStatus): Classification {
  const classifier = new RunClassifier();
  for (const line of lines) classifier.push(line);
  return classifier.finish(exit);
}
