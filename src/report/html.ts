// report.html: one self-contained file an admin opens from disk and shows to the people they answer
// to. No network at all (a Content-Security-Policy forbids every fetch; no CDN, no web font), every
// server-given text escaped, readable as a plain table without JavaScript (the script only adds
// sorting and filters). Written in pieces so that 10,000 mailboxes never build one giant string.
import type { Attempt, Report, ReportEntry, Verification, VerifiedFolder } from "./schema.js";
import { RUN_CLASSES, type RunClass } from "../outcomes/classes.js";
import { mailAttempts, partsOf, persisted } from "./parts.js";
import { formatBytes } from "../format.js";
import { sliceWhat } from "../plan/slicing.js";

const ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);
}

/** One colour per class, chosen to tell apart what an admin acts on differently. */
const CLASS_COLOURS: Record<RunClass, string> = {
  ok: "#2e7d32",
  not_delegated: "#6a1b9a",
  token_expired: "#f9a825",
  auth_failed_source: "#ad1457",
  auth_failed_destination: "#c2185b",
  connect_failed_source: "#1565c0",
  connect_failed_destination: "#0277bd",
  tls_failed: "#00838f",
  throttled: "#ef6c00",
  quota_exceeded: "#d84315",
  partial: "#8d6e63",
  interrupted: "#546e7a",
  other: "#424242",
  mailbox_not_enabled: "#4e342e",
};

const time = (iso: string | undefined) => (iso ? Date.parse(iso) : Number.NaN);

export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return "–";
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

const sum = (values: (number | undefined)[]) => values.reduce<number>((a, v) => a + (v ?? 0), 0);

interface MailboxFigures {
  messages: number;
  bytes: number;
  start: number;
  end: number;
}

function figures(entry: ReportEntry): MailboxFigures {
  const attempts = mailAttempts(entry);
  const starts = attempts.map((a) => time(a.start)).filter(Number.isFinite);
  const ends = attempts.map((a) => time(a.end ?? a.start)).filter(Number.isFinite);
  return {
    messages: sum(attempts.map((a) => a.messagesTransferred)),
    bytes: sum(attempts.map((a) => a.bytesTransferred)),
    start: starts.length ? Math.min(...starts) : Number.NaN,
    end: ends.length ? Math.max(...ends) : Number.NaN,
  };
}

/** `verified`, `missing`, `failed`, or `not verified` (no verification recorded). */
export function verdictOf(entry: ReportEntry): string {
  return entry.verification?.verdict ?? "not verified";
}

const TIMELINE_WIDTH = 120;
const TIMELINE_HEIGHT = 14;

/**
 * The attempts of one mailbox on its own time axis: a bar per attempt in its class's colour, the
 * thin line between bars being the waits (backoff, throttling, a new token).
 */
export function timelineSvg(attempts: Attempt[], now: number): string {
  const spans = attempts.map((a) => {
    const start = time(a.start);
    return { a, start, end: Number.isFinite(time(a.end)) ? time(a.end) : Math.max(start, now) };
  });
  const valid = spans.filter((s) => Number.isFinite(s.start));
  if (valid.length === 0) return "";
  const t0 = Math.min(...valid.map((s) => s.start));
  const t1 = Math.max(...valid.map((s) => s.end));
  const scale = (TIMELINE_WIDTH - 2) / Math.max(t1 - t0, 1);
  const mid = TIMELINE_HEIGHT / 2;
  const bars = valid.map(({ a, start, end }, i) => {
    const x = 1 + (start - t0) * scale;
    const width = Math.max(2, (end - start) * scale);
    const cls = a.class ?? "running";
    const title = `attempt ${i + 1}: ${cls}${a.reason ? ` (${a.reason})` : ""}, ${formatDuration(end - start)}, ${a.messagesTransferred ?? 0} messages`;
    return `<rect class="bar c-${cls}" x="${x.toFixed(1)}" y="2" width="${width.toFixed(1)}" height="${TIMELINE_HEIGHT - 4}"><title>${escapeHtml(title)}</title></rect>`;
  });
  return `<svg class="tl" width="${TIMELINE_WIDTH}" height="${TIMELINE_HEIGHT}" role="img" aria-label="${valid.length} attempts over ${formatDuration(t1 - t0)}"><line x1="1" y1="${mid}" x2="${TIMELINE_WIDTH - 1}" y2="${mid}"/>${bars.join("")}</svg>`;
}

function countBy<T>(items: T[], key: (item: T) => string): [string, number][] {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(key(item), (counts.get(key(item)) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1]);
}

const STYLE = `
:root{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1b1b1b;background:#fff}
[hidden]{display:none!important}
body{margin:1.5rem;max-width:1400px}
h1{font-size:1.4rem;margin:0 0 .3rem}
.meta{color:#555;margin:0 0 1rem;overflow-wrap:anywhere}
.totals{display:flex;flex-wrap:wrap;gap:.8rem;margin:0 0 1rem;padding:0;list-style:none}
.totals li{border:1px solid #ddd;border-radius:6px;padding:.5rem .8rem;min-width:9rem}
.totals b{display:block;font-size:1.3rem}
.counts{margin:.2rem 0 1rem}
.counts span{display:inline-block;margin:0 .8rem .3rem 0}
.sw{display:inline-block;width:.8em;height:.8em;border-radius:2px;margin-right:.3em;vertical-align:-.05em}
form{margin:0 0 .8rem;display:flex;gap:1rem;flex-wrap:wrap;align-items:end}
label{font-size:.9rem}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid #e5e5e5;vertical-align:top}
th{background:#f5f5f5;position:sticky;top:0;font-size:.9rem}
th button{font:inherit;font-weight:600;border:0;background:none;padding:0;cursor:pointer}
td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.mb{overflow-wrap:anywhere;min-width:11rem;max-width:22rem}
td.mb small{display:block;color:#555}
td.rem{max-width:28rem;font-size:.9rem}
.st-ok{color:#2e7d32}.st-failed{color:#b71c1c}.st-interrupted,.st-pending,.st-running{color:#8a6d00}
.v-missing,.v-failed{color:#b71c1c;font-weight:600}.v-verified{color:#2e7d32}
tr.fold td{border-bottom:2px solid #ccc;background:#fafafa}
tr.fold table{width:auto;margin:.2rem 0 .4rem 1rem}
tr.fold pre{margin:.2rem 0 .4rem 1rem;font-size:.85rem}
tr.fold td td,tr.fold td th{padding:.15rem .5rem;font-size:.9rem}
.f-missing{color:#b71c1c;font-weight:600}.f-extra{color:#8a6d00}.f-destination_only{color:#555}
svg.tl line{stroke:#9e9e9e;stroke-width:1}
${RUN_CLASSES.map((c) => `.c-${c}{fill:${CLASS_COLOURS[c]}}`).join("")}.c-running{fill:#90a4ae}
`;

/** Sorting and filtering, on the table the HTML already is; nothing is fetched. */
const SCRIPT = `
(()=>{const t=document.getElementById("mailboxes"),f=document.getElementById("filters"),n=document.getElementById("shown");
f.hidden=false;const rows=[...t.tBodies];
const apply=()=>{const s=f.status.value,c=f.klass.value,v=f.verdict.value,q=f.q.value.trim().toLowerCase();let k=0;
for(const b of rows){const d=b.dataset,on=(!s||d.status===s)&&(!c||d.class===c)&&(!v||d.verdict===v)&&(!q||d.mailbox.includes(q));if(b.hidden===on)b.hidden=!on;if(on)k++}
n.textContent=k+" of "+rows.length+" mailboxes shown"};
f.addEventListener("input",apply);f.addEventListener("submit",e=>e.preventDefault());
let by="",dir=1;for(const btn of t.tHead.querySelectorAll("button")){btn.addEventListener("click",()=>{const key=btn.dataset.key;dir=by===key?-dir:1;by=key;
const num=btn.dataset.num==="1",val=b=>num?Number(b.dataset[key]):b.dataset[key];
rows.sort((a,b)=>{const x=val(a),y=val(b);return (x<y?-1:x>y?1:0)*dir});t.append(...rows);
for(const o of t.tHead.querySelectorAll("th"))o.removeAttribute("aria-sort");btn.parentElement.setAttribute("aria-sort",dir>0?"ascending":"descending")})}
n.textContent=rows.length+" of "+rows.length+" mailboxes shown"})();
`;

const COLUMNS: { label: string; key: string; num?: boolean }[] = [
  { label: "Mailbox", key: "mailbox" },
  { label: "Status", key: "status" },
  { label: "Class", key: "class" },
  { label: "Verification", key: "verdict" },
  { label: "Attempts", key: "attempts", num: true },
  { label: "Messages", key: "messages", num: true },
  { label: "Bytes", key: "bytes", num: true },
  { label: "Duration", key: "duration", num: true },
  { label: "Timeline", key: "start", num: true },
  { label: "What to do", key: "remedy" },
];

function options(name: string, label: string, values: string[]): string {
  return `<label>${label}<br><select name="${name}"><option value="">all</option>${values
    .map((v) => `<option>${escapeHtml(v)}</option>`)
    .join("")}</select></label>`;
}

/** Which part of the migration this page shows: one shard, or the shards merged into it. */
function provenance(report: Report): string {
  if (report.mergedFrom) {
    const n = report.mergedFrom.length;
    return ` · <span id="merged-from" title="${escapeHtml(report.mergedFrom.join("\n"))}">merged from ${n} shard report${n === 1 ? "" : "s"}</span>`;
  }
  return report.shard ? ` · shard ${report.shard.index}/${report.shard.count}` : "";
}

function head(report: Report, now: number): string {
  const entries = report.mailboxes;
  const all = entries.map(figures);
  const messages = sum(all.map((f) => f.messages));
  const bytes = sum(all.map((f) => f.bytes));
  // A fold, not Math.max(...list): a spread of 100,000 arguments can overflow the stack.
  const lastEnd = all.reduce(
    (latest, f) => (Number.isFinite(f.end) ? Math.max(latest, f.end) : latest),
    time(report.startedAt),
  );
  const end = Number.isFinite(time(report.endedAt)) ? time(report.endedAt) : Math.max(lastEnd, now);
  const elapsedMs = end - time(report.startedAt);
  const seconds = Math.max(elapsedMs / 1000, 1e-3);
  const byStatus = countBy(entries, (e) => persisted(e).status);
  const byClass = countBy(entries, (e) => persisted(e).class ?? "none yet");
  const byVerdict = countBy(entries, verdictOf);
  const total = (label: string, value: string, id: string) =>
    `<li id="${id}"><b>${escapeHtml(value)}</b>${label}</li>`;
  const counts = (label: string, list: [string, number][], swatch: boolean) =>
    `<div class="counts" id="by-${label}"><strong>By ${label}:</strong> ${list
      .map(
        ([k, n]) =>
          `<span data-k="${escapeHtml(k)}">${swatch && k in CLASS_COLOURS ? `<i class="sw" style="background:${CLASS_COLOURS[k as RunClass]}"></i>` : ""}${escapeHtml(k)} <b>${n}</b></span>`,
      )
      .join("")}</div>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<meta name="referrer" content="no-referrer"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>m365-imapsync report — ${entries.length} mailboxes</title><style>${STYLE}</style></head><body>
<h1>Migration report</h1>
<p class="meta">Users file ${escapeHtml(report.usersFile)} · started ${escapeHtml(report.startedAt)}${report.endedAt ? ` · ended ${escapeHtml(report.endedAt)}` : " · not ended"}${provenance(report)}</p>
<ul class="totals">${total("mailboxes", String(entries.length), "t-mailboxes")}${total("ok", String(entries.filter((e) => persisted(e).status === "ok").length), "t-ok")}${total("messages copied", messages.toLocaleString("en-US"), "t-messages")}${total("copied", formatBytes(bytes), "t-bytes")}${total("elapsed", formatDuration(elapsedMs), "t-elapsed")}${total("throughput", `${(messages / seconds).toFixed(1)} msg/s · ${formatBytes(bytes / seconds)}/s`, "t-throughput")}</ul>
${counts("status", byStatus, false)}${counts("class", byClass, true)}${counts("verification", byVerdict, false)}
<form id="filters" hidden>${options(
    "status",
    "Status",
    byStatus.map(([k]) => k),
  )}${options(
    "klass",
    "Class",
    byClass.map(([k]) => k),
  )}${options(
    "verdict",
    "Verification",
    byVerdict.map(([k]) => k),
  )}<label>Mailbox contains<br><input name="q" type="search"></label><span id="shown" aria-live="polite"></span></form>
<table id="mailboxes"><thead><tr>${COLUMNS.map((c) => `<th scope="col"><button type="button" data-key="${c.key}"${c.num ? ' data-num="1"' : ""}>${c.label}</button></th>`).join("")}</tr></thead>
`;
}

/** `Sent Items  12 = 12  (Sent 7 + Éléments envoyés 5)`: one line per folder that matches. */
function matchLines(folders: VerifiedFolder[]): string {
  const width = Math.max(...folders.map((f) => f.destination.display.length));
  return folders
    .map((f) => {
      const sources =
        f.sources.length > 1 || f.sources[0]?.display !== f.destination.display
          ? `  (${f.sources.map((s) => `${s.display} ${s.messages}`).join(" + ")})`
          : "";
      const counts =
        f.verdict === "destination_only"
          ? "destination only"
          : `${f.verdict} ${f.sourceMessages} → ${f.destinationMessages ?? "–"}`;
      return escapeHtml(`${f.destination.display.padEnd(width)}  ${counts}${sources}`);
    })
    .join("\n");
}

function folderTable(folders: VerifiedFolder[]): string {
  const rows = folders.map((f) => {
    const sources = f.sources.map((s) => `${escapeHtml(s.display)} (${s.messages})`).join(" + ");
    return `<tr class="f-${f.verdict}"><td>${escapeHtml(f.destination.display)}<td>${f.verdict.replace("_", " ")}<td class="n">${f.sourceMessages}<td class="n">${f.destinationMessages ?? "–"}<td class="n">${formatBytes(f.sourceBytes)}<td class="n">${f.destinationBytes === undefined ? "–" : formatBytes(f.destinationBytes)}<td>${sources}</tr>`;
  });
  return `<table><thead><tr><th>Destination folder<th>Verdict<th>Source msgs<th>Dest. msgs<th>Source size<th>Dest. size<th>Source folders</tr></thead><tbody>${rows.join("")}</tbody></table>`;
}

/**
 * The folders of one verification. Where every folder matches, one line each in a <pre>: at
 * 10,000 mailboxes a table per mailbox would be most of the page's elements and of its load time.
 */
function folderRows(v: Verification): string {
  const missing = v.folders.filter((f) => f.verdict === "missing").length;
  const summary =
    v.verdict === "failed"
      ? `the verify run ended ${v.class}, so it proves nothing${v.remedy ? `: ${v.remedy}` : ""}`
      : `${v.folders.length} folders${missing ? `, ${missing} missing (${v.missingMessages} messages)` : ""}${v.extraMessages ? `, ${v.extraMessages} extra messages` : ""}`;
  const plain = v.folders.every((f) => f.verdict === "match" || f.verdict === "destination_only");
  const evidence = v.evidence.map((line) => `<li><code>${escapeHtml(line)}</code></li>`).join("");
  const body =
    v.folders.length === 0
      ? ""
      : plain
        ? `<pre>${matchLines(v.folders)}</pre>`
        : folderTable(v.folders);
  return `<tr class="fold"><td colspan="${COLUMNS.length}"><details${missing || v.verdict === "failed" ? " open" : ""}><summary>Verification ${escapeHtml(v.at)}: ${summary}</summary>${v.extraNote ? `<p>${escapeHtml(v.extraNote)}</p>` : ""}${evidence ? `<ul>${evidence}</ul>` : ""}${body}</details></td></tr>`;
}

/** The calendar and contacts parts of a mailbox, under its row: what each sent, skipped and lost. */
function partRows(entry: ReportEntry): string {
  const parts = partsOf(entry).filter((part) => part.kind !== "mail");
  if (parts.length === 0) return "";
  const rows = parts.map((part) => {
    const c = part.counts;
    const v = part.verification;
    const verdict =
      v?.verdict === "missing"
        ? `missing (${v.missingItems} items: ${v.collections.flatMap((col) => col.missing.map((m) => `${col.name}: ${m}`)).join("; ")})`
        : (v?.verdict ?? "not verified");
    const cells = [c?.collections, c?.sent, c?.updated, c?.removed, c?.unchanged]
      .map((n) => `<td class="n">${n ?? "–"}`)
      .join("");
    return `<tr><td>${part.kind}<td class="st-${part.status}">${part.status}<td>${escapeHtml(part.class ?? "–")}<td class="n">${part.attempts.length}${cells}<td class="v-${(v?.verdict ?? "not verified").replace(" ", "-")}">${escapeHtml(verdict)}<td class="rem">${escapeHtml(part.status === "ok" ? "" : (part.remedy ?? ""))}</tr>`;
  });
  const notes = parts.flatMap((part) => [
    ...(part.locations ?? []).map((where) => `${part.kind}: went to ${where}`),
    ...(part.skipped ?? []).map((s) => `${part.kind}: not moved, ${s.name} (${s.reason})`),
    ...(part.gone ?? []).map(
      (g) =>
        `${part.kind}: gone at the source since the last run, kept at the destination, ${g.name} (${g.location})`,
    ),
    ...(part.losses ?? []).map((loss) => `${part.kind}: lost in the conversion, ${loss}`),
  ]);
  const list = notes.length ? `<ul>${notes.map((n) => `<li>${escapeHtml(n)}`).join("")}</ul>` : "";
  const failed = parts.some((part) => part.status !== "ok");
  return `<tr class="fold"><td colspan="${COLUMNS.length}"><details${failed ? " open" : ""}><summary>Calendar and contacts</summary><table><thead><tr><th>Part<th>Status<th>Class<th>Attempts<th>Collections<th>Sent<th>Updated<th>Removed<th>Unchanged<th>Verification<th>Remedy</tr></thead><tbody>${rows.join("")}</tbody></table>${list}</details></td></tr>`;
}

/**
 * A big mailbox's slices, under its row: each one's folders or date range, status, class,
 * attempts (with their timeline) and remedy; open while one is not ok.
 */
function sliceRows(entry: ReportEntry, now: number): string {
  const slices = entry.slices ?? [];
  if (slices.length === 0) return "";
  const rows = slices.map((slice) => {
    const messages = sum(slice.attempts.map((a) => a.messagesTransferred));
    const remedy = slice.status === "ok" ? "" : (slice.remedy ?? "");
    return `<tr data-slice="${escapeHtml(slice.id)}"><td>${escapeHtml(slice.id)}<td>${escapeHtml(sliceWhat(slice))}<td class="st-${slice.status}">${slice.status}<td>${escapeHtml(slice.class ?? "–")}<td class="n">${slice.attempts.length}<td class="n">${messages}<td>${timelineSvg(slice.attempts, now)}<td class="rem">${escapeHtml(remedy)}</tr>`;
  });
  const notOk = slices.filter((slice) => slice.status !== "ok").length;
  const oneAtATime = entry.throttledWhileSliced
    ? `<p>Exchange Online throttled it while sliced (${escapeHtml(entry.throttledWhileSliced)}): from then on its slices run at once only while well under what it was allowed between two refusals, one alone near the end of that.</p>`
    : "";
  return `<tr class="fold"><td colspan="${COLUMNS.length}"><details class="slices"${notOk ? " open" : ""}><summary>${slices.length} slices, ${slices.length - notOk} ok</summary>${oneAtATime}<table><thead><tr><th>Slice<th>Folders or dates<th>Status<th>Class<th>Attempts<th>Messages<th>Timeline<th>Remedy</tr></thead><tbody>${rows.join("")}</tbody></table></details></td></tr>`;
}

function mailboxBody(entry: ReportEntry, now: number): string {
  // Status, class and remedy of the whole mailbox: the worst part's, when it has parts.
  const shown = persisted(entry);
  const f = figures(entry);
  const duration = f.end - f.start;
  const verdict = verdictOf(entry);
  const v = entry.verification;
  const verdictText =
    v?.verdict === "missing"
      ? `missing (${v.missingMessages} messages)`
      : v?.verdict === "failed"
        ? `failed (${v.class})`
        : verdict;
  const data = {
    mailbox: entry.source.toLowerCase(),
    status: shown.status,
    class: shown.class ?? "none yet",
    verdict,
    attempts: mailAttempts(entry).length,
    messages: f.messages,
    bytes: f.bytes,
    duration: Number.isFinite(duration) ? duration : 0,
    start: Number.isFinite(f.start) ? f.start : 0,
    remedy: shown.status === "ok" && verdict !== "missing" ? "" : (shown.remedy ?? ""),
  };
  const attrs = Object.entries(data)
    .map(([k, value]) => `data-${k}="${escapeHtml(String(value))}"`)
    .join(" ");
  const destination =
    entry.destination !== entry.source ? `<small>→ ${escapeHtml(entry.destination)}</small>` : "";
  return `<tbody ${attrs}><tr><td class="mb">${escapeHtml(entry.source)}${destination}<td class="st-${shown.status}">${shown.status}<td>${escapeHtml(shown.class ?? "–")}<td class="v-${verdict.replace(" ", "-")}">${escapeHtml(verdictText)}<td class="n">${data.attempts}<td class="n">${f.messages}<td class="n">${formatBytes(f.bytes)}<td class="n">${formatDuration(duration)}<td>${timelineSvg(mailAttempts(entry), now)}<td class="rem">${escapeHtml(data.remedy)}</tr>${v ? folderRows(v) : ""}${sliceRows(entry, now)}${partRows(entry)}</tbody>\n`;
}

function legend(): string {
  return `<p class="counts">Timeline colours: ${RUN_CLASSES.map((c) => `<span><i class="sw" style="background:${CLASS_COLOURS[c]}"></i>${c}</span>`).join("")}</p>`;
}

/** The pieces of report.html, in order; join them or write them one by one. */
export function* renderHtmlReport(report: Report, now = Date.now()): Generator<string> {
  yield head(report, now);
  for (const entry of report.mailboxes) yield mailboxBody(entry, now);
  yield `</table>${legend()}<script>${SCRIPT}</script></body></html>\n`;
}
