/**
 * The imapsync double's model of a mailbox (world.mailboxes): source folders of messages with
 * INTERNALDATEs, and what reached the destination (appended to `<stateDir>/dest-<user2>.jsonl`
 * as it is copied, so that concurrent runs and interrupted ones leave what they did). It writes
 * the lines imapsync 2.229 prints, in the formats of the recorded runs (fixtures/imapsync-2.229-m365
 * ok_xoauth2_delegated.log, fixtures/imapsync-2.229/e_justfolders.log,
 * fixtures/imapsync-2.229-standin/ok_justfoldersizes.log): the folder-size listing, `Folder i/n`,
 * `Created folder`, one `msg ... copied to ...` line per message, and the statistics.
 */
import { appendFileSync, existsSync, readFileSync } from "node:fs";
import path from "node:path";
import type { ModelFolder } from "../helpers/imapsync-world.js";

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const DAY_MS = 86_400_000;
/** A message's size unless the world says: big enough that a modelled big mailbox is sliced. */
const MESSAGE_BYTES = 100_000;

/** IMAP modified UTF-7 (RFC 3501 §5.1.3), as imapsync names folders. */
export function imapName(name: string): string {
  return name.replace(/&|[^\x20-\x7e]+/g, (run) => {
    if (run === "&") return "&-";
    const utf16be = Buffer.from(run, "utf16le").swap16();
    return `&${utf16be.toString("base64").replace(/=+$/, "").replace(/\//g, ",")}-`;
  });
}

/** `[X]`, or `[X] = [Y]` when the IMAP name differs from its UTF-8 form (jux_utf8). */
function shown(name: string): string {
  const imap = imapName(name);
  return imap === name ? `[${imap}]` : `[${imap}] = [${name}]`;
}

/** A message's INTERNALDATE day (ms since epoch, midnight UTC). */
function dayOf(folder: ModelFolder, index: number): number {
  const first = Date.parse(`${folder.firstDay ?? "2024-01-01"}T00:00:00Z`);
  const days = folder.days ?? 1;
  return first + Math.floor((index * days) / Math.max(1, folder.messages)) * DAY_MS;
}

/** IMAP date-text (`1-Mar-2024`) to midnight UTC. */
function parseImapDate(text: string): number {
  const [day = "", month = "", year = ""] = text.split("-");
  return Date.UTC(Number(year), MONTHS.indexOf(month), Number(day));
}

/** The messages `--search1` selects: SINCE (on or after) and BEFORE (strictly before) a day. */
export function searchFilter(search: string | undefined): (day: number) => boolean {
  const since = /SINCE (\S+)/i.exec(search ?? "")?.[1];
  const before = /BEFORE (\S+)/i.exec(search ?? "")?.[1];
  return (day) =>
    (since === undefined || day >= parseImapDate(since)) &&
    (before === undefined || day < parseImapDate(before));
}

interface Destination {
  created: Set<string>;
  /** Destination folder → indexes (in its source folder) of the messages it holds. */
  held: Map<string, Set<string>>;
}

function destinationFile(stateDir: string, user2: string): string {
  return path.join(stateDir, `dest-${user2.toLowerCase()}.jsonl`);
}

export function readDestination(stateDir: string, user2: string): Destination {
  const file = destinationFile(stateDir, user2);
  const destination: Destination = { created: new Set(), held: new Map() };
  if (!existsSync(file)) return destination;
  for (const line of readFileSync(file, "utf8").split("\n").filter(Boolean)) {
    const event = JSON.parse(line) as { create?: string; folder?: string; message?: string };
    if (event.create !== undefined) destination.created.add(event.create);
    if (event.folder !== undefined && event.message !== undefined) {
      destination.created.add(event.folder);
      const held = destination.held.get(event.folder) ?? new Set<string>();
      held.add(event.message);
      destination.held.set(event.folder, held);
    }
  }
  return destination;
}

export interface ModelRun {
  folders: ModelFolder[];
  /** `--folder` values (IMAP names); none: every folder. */
  only: string[];
  /** `--f1f2` values `src=dst` (IMAP names). */
  pins: string[];
  search?: string;
  mode: "sync" | "justfolders" | "justfoldersizes";
  stateDir: string;
  user2: string;
}

/** A run's lines (between the recording's login and its statistics) and what each copy does. */
export interface ModelScript {
  /** The folder-size listing, then the loop on folders (a sync or --justfolders). */
  body: string[];
  /** Run after printing body[i]: the destination learns of a folder or a message. */
  effects: Map<number, () => void>;
  transferred: number;
  bytes: number;
  sourceMessages: number;
}

export function modelScript(run: ModelRun): ModelScript {
  const wanted = run.only.length === 0 ? undefined : new Set(run.only);
  const folders = run.folders
    .filter((f) => !wanted || wanted.has(imapName(f.name)))
    .sort((a, b) => (imapName(a.name) < imapName(b.name) ? -1 : 1));
  const pins = new Map(
    run.pins.map((pin) => [pin.slice(0, pin.indexOf("=")), pin.slice(pin.indexOf("=") + 1)]),
  );
  const target = (f: ModelFolder) => pins.get(imapName(f.name)) ?? imapName(f.name);
  /** The destination as imapsync prints it: in both forms when it is the source's own name. */
  const shownTarget = (f: ModelFolder) =>
    target(f) === imapName(f.name) ? shown(f.name) : `[${target(f)}]`;
  const selects = searchFilter(run.search);
  const destination = readDestination(run.stateDir, run.user2);
  const file = destinationFile(run.stateDir, run.user2);
  const append = (event: object) => appendFileSync(file, `${JSON.stringify(event)}\n`);
  const body: string[] = [];
  const effects = new Map<number, () => void>();
  const n = folders.length;
  const selected = (f: ModelFolder) =>
    Array.from({ length: f.messages }, (_, i) => i).filter((i) => selects(dayOf(f, i)));
  let sourceMessages = 0;
  folders.forEach((f, i) => {
    const messages = selected(f);
    const size = f.size ?? MESSAGE_BYTES;
    sourceMessages += messages.length;
    const row = `${String(i + 1).padStart(5)}/${n} ${shown(f.name).padEnd(35)}`;
    body.push(
      `Host1 folder ${row} Size: ${String(messages.length * size).padStart(9)} Messages: ${String(messages.length).padStart(5)} Biggest: ${String(size).padStart(9)}`,
    );
    const dst = target(f);
    const held = destination.held.get(dst)?.size ?? 0;
    body.push(
      destination.created.has(dst) || dst === "INBOX"
        ? `Host2 folder ${String(i + 1).padStart(5)}/${n} ${shownTarget(f).padEnd(35)} Size: ${String(held * size).padStart(9)} Messages: ${String(held).padStart(5)} Biggest: ${String(held ? size : 0).padStart(9)}`
        : `Host2 folder ${String(i + 1).padStart(5)}/${n} ${shownTarget(f)}  does not exist yet`,
      "",
    );
  });
  body.push(`Host1 Nb folders:                     ${n} folders`, "");
  body.push(`Host1 Nb messages:                  ${sourceMessages} messages`, "");
  if (run.mode === "justfoldersizes") {
    body.push("Exiting because of --justfoldersizes");
    return { body, effects, transferred: 0, bytes: 0, sourceMessages };
  }
  body.push(`++++ Looping on each one of ${n} folders to sync`);
  let transferred = 0;
  let bytes = 0;
  const total = folders.reduce((sum, f) => sum + selected(f).length, 0);
  folders.forEach((f, i) => {
    const dst = target(f);
    body.push(`Folder ${String(i + 1).padStart(5)}/${n} ${shown(f.name)} -> ${shownTarget(f)}`);
    if (!destination.created.has(dst) && dst !== "INBOX") {
      body.push(`Creating folder [${dst}] on host2`, `Created folder [${dst}] on host2`);
      effects.set(body.length - 1, () => append({ create: dst }));
      destination.created.add(dst);
    }
    if (run.mode === "justfolders") return;
    const held = destination.held.get(dst) ?? new Set<string>();
    const size = f.size ?? MESSAGE_BYTES;
    for (const index of selected(f)) {
      const id = `${imapName(f.name)}/${index}`;
      if (held.has(id)) continue;
      transferred++;
      bytes += size;
      body.push(
        `msg ${imapName(f.name)}/${index + 1} {${size}}            copied to ${dst}/${held.size + transferred}          10.00 msgs/s  10.000 KiB/s ${(bytes / 1024).toFixed(3)} KiB copied ETA: Sunday 29 November 2026-11-29 05:38:40 +0000 UTC  1 s  ${total - transferred}/${total} msgs left`,
      );
      effects.set(body.length - 1, () => append({ folder: dst, message: id }));
    }
  });
  body.push("++++ End looping on each folder");
  return { body, effects, transferred, bytes, sourceMessages };
}
