import type { Classification, Progress, RunStats } from "./classification.js";
import type { FolderPair } from "../report/schema.js";
import type { RunClass } from "../outcomes/classes.js";
import { appliesTo, CATALOGUE, VERSION_BANNERS, type CatalogueEntry } from "./catalogue.js";

/** How the imapsync process ended; unknown (`undefined`) for a log file or an excerpt. */
export interface ExitStatus {
  code: number | null;
  signal: string | null;
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

/** The rule table is the catalogue: every entry is tried, in its order, on every non-copy line. */
const RULES: readonly CatalogueEntry[] = CATALOGUE;

/** One cheap test per line decides whether the rule table is worth running at all. */
const ANY_RULE = new RegExp(RULES.map((rule) => `(?:${rule.re.source})`).join("|"));
const BACKOFF = /Suggested Backoff Time: (\d+) milliseconds/g;
/** Every release's exit line starts so (catalogue exit-line-*); the code ends at a blank or the line end. */
const EXITING = /^Exiting with return value (\d+)\b/;
const DETECTED = /^Detected (\d+) errors$/;
const ERR_PREFIX = /^Err \d+\/\d+: /;
/** The error count of an exit line (2.140 and later, 1.977): `... 1/50 nb_errors/max_errors`. */
const EXIT_ERRORS = / (\d+)\/\d+ nb_errors\/max_errors/;
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
/** 128 + SIGKILL, as a shell or a container runtime reports a process killed from outside. */
const KILLED_STATUS = 137;
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

/** The first line a catalogue entry matched, with the class it proved there (the side can decide it). */
interface RuleHit extends Hit {
  cls: RunClass | undefined;
}

/** Side 1 (source) or 2 (destination), as the log last named it; 1 until then (host1 logs in first). */
type Side = 1 | 2;

/**
 * Classifies one imapsync run from its output, line by line. Memory stays bounded whatever the
 * log size: it keeps counters, the first hit of each catalogue entry, the last progress lines and
 * the folder pairs (one per source folder).
 */
export class RunClassifier {
  private lineNo = 0;
  /** The first line each rule matched (index = rule index). */
  private readonly firstHits: (RuleHit | undefined)[] = new Array<RuleHit | undefined>(
    RULES.length,
  );
  private lost = false;
  private dry = false;
  private side: Side = 1;
  private readonly loggedIn: Record<Side, boolean> = { 1: false, 2: false };
  private release: string | undefined;
  /** A line only printed at the end of a run was seen (statistics, exit line, a --just* ending). */
  private ended = false;
  /** The first such line from the catalogue: what shows a clean excerpt really ended. */
  private endHit: Hit | undefined;
  /** imapsync counted errors (Detected N > 0, Err lines): the run was not clean. */
  private sawErrors = false;
  private backoffMs: number | undefined;
  private readonly stats: RunStats = {};
  private readonly folders = new Map<string, string>();
  private exitingLine: Hit | undefined;
  private loggedCode: number | undefined;
  private frequentError: Hit | undefined;
  /** The last line read, kept as is: the evidence of a log that ends before the run did. */
  private lastLine: string | undefined;
  /** Latest line carrying overall counts (`... N/M msgs left`) and latest copy line. */
  private lastEta: string | undefined;
  private lastCopy: string | undefined;
  private cached:
    { eta: string; copy: string | undefined; copies: number; progress: Progress } | undefined;
  private copyLines = 0;

  push(raw: string): void {
    this.lineNo++;
    this.lastLine = raw;
    // Copy lines are nearly every line of a big log and never carry an error: keep them cheap.
    if (raw.startsWith("msg ")) {
      // Dry runs print "copying to ... (not really ...)": only real copies count.
      if (raw.includes(" copied to ")) this.copyLines++;
      this.lastCopy = raw;
      if (raw.endsWith(" msgs left")) this.lastEta = raw;
      return;
    }
    let line = isBlank(raw.charCodeAt(0)) ? raw.trimStart() : raw;
    // The error listing prints every counted error again after "Err i/n: ".
    if (line.startsWith("Err ")) {
      this.sawErrors = true;
      const listed = ERR_PREFIX.exec(line);
      if (listed) line = line.slice(listed[0].length);
    }
    this.readStructured(line, raw);
    if (ANY_RULE.test(line)) this.applyRules(line, raw);
  }

  /** Overall progress from the latest ETA figures; undefined before the first one. */
  get progress(): Progress | undefined {
    const eta = this.lastEta;
    if (eta === undefined) return undefined;
    const cached = this.cached;
    if (cached?.eta === eta && cached.copy === this.lastCopy && cached.copies === this.copyLines)
      return cached.progress;
    const m = ETA_TAIL.exec(eta.slice(eta.lastIndexOf("ETA: ")));
    if (!m) return undefined;
    const left = Number(m[2]);
    const total = Number(m[3]);
    const progress: Progress = {
      done: Math.max(0, total - left),
      total,
      etaSeconds: Number(m[1]),
      copiedMessages: this.copyLines,
    };
    const copied = this.lastCopy === undefined ? undefined : COPIED.exec(this.lastCopy)?.[1];
    if (copied !== undefined) progress.copied = copied;
    this.cached = { eta, copy: this.lastCopy, copies: this.copyLines, progress };
    return progress;
  }

  /** The code of the last `Exiting with return value N` line; undefined if none or EXIT_BY_SIGNAL. */
  get loggedExitCode(): number | undefined {
    return this.loggedCode;
  }

  /** The imapsync release named by the log's banner, if it had one. */
  get imapsyncRelease(): string | undefined {
    return this.release;
  }

  /** Decides the class: the process's own stop signal, then the text, then the exit code. */
  finish(exit?: ExitStatus): Classification {
    const { cls, killedFromOutside, logEndsEarly } = this.decide(exit);
    const classification: Classification = {
      class: cls,
      evidence: this.evidenceFor(cls, logEndsEarly),
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
    if (this.hitsOf("throttled").length > 0) classification.refused = true;
    if (killedFromOutside) classification.killedFromOutside = true;
    if (logEndsEarly) classification.logEndsEarly = true;
    return classification;
  }

  private decide(exit: ExitStatus | undefined): {
    cls: RunClass;
    killedFromOutside: boolean;
    logEndsEarly: boolean;
  } {
    const code = exit ? (exit.code ?? undefined) : this.loggedCode;
    const result = (cls: RunClass, killedFromOutside = false, logEndsEarly = false) => ({
      cls,
      killedFromOutside,
      logEndsEarly,
    });
    const external = this.hitsOf("interrupted", true).length > 0;
    // Stopped on purpose (signal or abort file): whatever else the log shows is not the cause.
    if (exit?.signal === "SIGTERM" || exit?.signal === "SIGINT" || code === 7) {
      return result("interrupted", external);
    }
    // Any other signal (SIGKILL: the kernel's OOM killer, a container limit) or its shell status.
    if (exit?.signal || code === KILLED_STATUS) return result("interrupted", true);
    // Exit 0 with no error counted, and "looks good" (or a --just* ending): a stray transient
    // line (an SSL read error that was retried) does not undo that. Exit 0 does not mean no
    // error: --justfoldersizes exits 0 after a refused SELECT (standin/not_delegated_*).
    if (code === 0 && !this.sawErrors && this.hitsOf("ok").length > 0) return result("ok");
    const cause = PRIORITY.find((c) => this.hitsOf(c).length > 0);
    if (cause) return result(cause, cause === "interrupted" && external);
    if (code !== undefined) return result(classOfCode(code));
    // An excerpt without any exit status: ok only when it shows the run ending cleanly.
    if (this.hitsOf("other").length > 0) return result("other");
    if (this.hitsOf("ok").length > 0 || (this.ended && !this.sawErrors)) return result("ok");
    return result("other", false, !this.ended);
  }

  /** --dry: said by the statistics, or by the copy lines when the excerpt has no statistics. */
  private get isDry(): boolean {
    return this.dry || (this.lastCopy?.includes("(not really since --dry mode)") ?? false);
  }

  /** `line` is `raw` without leading blanks; evidence keeps the line as printed. */
  private readStructured(line: string, raw: string): void {
    switch (line.charCodeAt(0)) {
      case 36: // $
        if (line.startsWith("$RCSfile: ")) this.readRelease(line);
        return;
      case 68: // D
        if (line.startsWith("Detected ")) {
          const m = DETECTED.exec(line);
          if (m && m[1] !== "0") this.sawErrors = true;
        }
        return;
      case 69: // E
        if (line.startsWith("ETA: ")) {
          this.lastEta = line;
        } else if (line.startsWith("Exiting with return value ")) {
          const code = Number(EXITING.exec(line)?.[1]);
          this.exitingLine = hit(this.lineNo, raw);
          this.ended = true;
          const errors = EXIT_ERRORS.exec(line)?.[1];
          if (errors !== undefined && errors !== "0") this.sawErrors = true;
          this.loggedCode = code === EXIT_BY_SIGNAL || Number.isNaN(code) ? undefined : code;
        }
        return;
      case 70: // F
        if (line.startsWith("Folder ")) this.readFolder(line);
        return;
      case 72: // H
        this.readHostLine(line);
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

  /** `Host1...` / `Host2...`: the side later side-less lines belong to, and the folder sizes. */
  private readHostLine(line: string): void {
    if (line.startsWith("Here is imapsync ")) {
      this.readRelease(line);
      return;
    }
    if (!line.startsWith("Host")) return;
    const digit = line.charCodeAt(4);
    if (digit === 49 || digit === 50) this.side = digit === 49 ? 1 : 2;
    if (line.startsWith("Host1 Total size:")) {
      this.stats.sourceBytes = totalSize(line);
    } else if (line.startsWith("Host2 Total size:")) {
      this.stats.destinationBytes = totalSize(line);
    } else if (line.startsWith("Host2: Quota current storage is ")) {
      const m = QUOTA.exec(line);
      if (m) this.stats.destinationQuota = { usedBytes: Number(m[1]), limitBytes: Number(m[2]) };
    }
  }

  private readRelease(line: string): void {
    if (this.release !== undefined) return;
    for (const banner of VERSION_BANNERS) {
      const m = banner.re.exec(line);
      if (m?.[1]) {
        this.release = detach(m[1]);
        return;
      }
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
      const m = rule.re.exec(line);
      if (!m || rule.unless?.test(line) || !appliesTo(rule.releases, this.release)) continue;
      // A side named in the line itself ("Host2 failure: ...") beats the side in context.
      const side: Side = m[1] === "2" ? 2 : m[1] === "1" ? 1 : this.side;
      if (rule.lost) this.lost = true;
      if (rule.ended) {
        this.ended = true;
        this.endHit ??= hit(this.lineNo, raw);
      }
      if (rule.errors) this.sawErrors = true;
      if (rule.loginOk) this.loggedIn[side] = true;
      if (rule.class === "throttled") this.readBackoff(line);
      if (this.firstHits[i] !== undefined) continue;
      let cls = side === 2 && rule.host2 ? rule.host2 : rule.class;
      if (rule.afterLogin && this.loggedIn[side]) cls = rule.afterLogin;
      this.firstHits[i] = { ...hit(this.lineNo, raw), cls };
    }
  }

  private readBackoff(line: string): void {
    for (const m of line.matchAll(BACKOFF)) {
      this.backoffMs = Math.max(this.backoffMs ?? 0, Number(m[1]));
    }
  }

  /** The first line of each entry that proved `cls` and applies to the log's release. */
  private hitsOf(cls: RunClass, externalOnly = false): Hit[] {
    const hits: Hit[] = [];
    RULES.forEach((rule, i) => {
      const first = this.firstHits[i];
      if (!first || first.cls !== cls || (externalOnly && !rule.external)) return;
      if (rule.notInDry && this.isDry) return;
      if (appliesTo(rule.releases, this.release)) hits.push(first);
    });
    return hits;
  }

  /**
   * The first line of each entry that proves `cls`, the code's own explanation, the Exiting line;
   * for a log that ends before the run did, its last line.
   */
  private evidenceFor(cls: RunClass, logEndsEarly: boolean): string[] {
    const hits = this.hitsOf(cls);
    if (hits.length === 0 && this.frequentError) hits.push(this.frequentError);
    if (hits.length === 0 && cls === "ok" && this.endHit) hits.push(this.endHit);
    if (logEndsEarly && this.lastLine !== undefined) hits.push(hit(this.lineNo, this.lastLine));
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
