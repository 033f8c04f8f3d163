// Seed data of the stand-in, written straight into Maildir++ (thousands of messages in well under
// a second, where APPEND would take minutes).
import { randomBytes } from "node:crypto";
import { mkdir, utimes, writeFile } from "node:fs/promises";
import path from "node:path";

/** RFC 3501 §5.1.3 modified UTF-7, which Dovecot also uses for folder names on disk. */
export function toModifiedUtf7(name: string): string {
  return name.replace(/&/g, "&-").replace(/[^\x20-\x7e]+/g, (run) => {
    const utf16be = Buffer.from(run, "utf16le").swap16();
    return `&${utf16be.toString("base64").replace(/=+$/, "").replace(/\//g, ",")}-`;
  });
}

/** Folder name (separator "/") → its Maildir++ directory (hierarchy separator "."). */
export function maildirFolder(name: string): string {
  return name === "INBOX" ? "" : `.${toModifiedUtf7(name).replace(/\//g, ".")}`;
}

/** folder → number of messages */
export type MailboxSeed = Record<string, number>;

export function seedPlan(bigCount: number): Record<string, MailboxSeed> {
  return {
    "admin@contoso.test": { INBOX: 3 },
    "alice@contoso.test": {
      INBOX: 120,
      "Sent Items": 30,
      "Éléments envoyés": 12,
      Archive: 5,
      "Archive/2023": 25,
      Drafts: 2,
    },
    "bob@contoso.test": { INBOX: 20, "Sent Items": 5 },
    // Over the destination quota (see DESTINATION_USERS): about 90 KB for a 60 KB quota.
    "carol@contoso.test": { INBOX: 40, "Éléments envoyés": 5 },
    "big@contoso.test": { INBOX: bigCount, "Archive/2023": 100 },
    // Accented folder names at every level (recorded verify fixtures, fixtures/imapsync-2.229-verify).
    "dave@contoso.test": {
      INBOX: 8,
      "Éléments supprimés": 3,
      "Archives/Réunions 2024": 6,
      "Projets/Été/Équipe Zoë": 4,
    },
    // Two sent folders: automap sends both to the destination's \Sent folder once it has one.
    "erin@contoso.test": { INBOX: 10, Sent: 7, "Éléments envoyés": 5 },
  };
}

/** The folders of every `equal` mailbox unless told otherwise: about 600 KB, accents included. */
export const EQUAL_SEED: MailboxSeed = {
  INBOX: 200,
  "Sent Items": 60,
  "Éléments envoyés": 20,
  Archive: 20,
};

/** `count` mailboxes with the same folders and sizes (`equal01@contoso.test`...): a fair load test. */
export function equalMailboxes(
  count: number,
  seed: MailboxSeed = EQUAL_SEED,
): Record<string, MailboxSeed> {
  const width = String(count).length;
  return Object.fromEntries(
    Array.from({ length: count }, (_, i) => [
      `equal${String(i + 1).padStart(Math.max(2, width), "0")}@contoso.test`,
      seed,
    ]),
  );
}

/** Around 2 KB each, so that quotas are reached with few messages. */
function message(mailbox: string, folder: string, n: number, date: Date): string {
  const body = `Message ${n} of ${folder} for ${mailbox}.\r\n${"Lorem ipsum dolor sit amet. ".repeat(60)}\r\n`;
  return [
    `Date: ${date.toUTCString().replace("GMT", "+0000")}`,
    `From: "Sender ${n % 7}" <sender${n % 7}@fabrikam.test>`,
    `To: <${mailbox}>`,
    `Subject: =?UTF-8?B?${Buffer.from(`${folder} n°${n}`).toString("base64")}?=`,
    `Message-ID: <${n}.${randomBytes(6).toString("hex")}@standin.test>`,
    "MIME-Version: 1.0",
    "Content-Type: text/plain; charset=utf-8",
    "",
    body,
  ].join("\r\n");
}

/** Writes one mailbox (INBOX and folders) under `<mailRoot>/<mailbox>/Maildir`; all seen. */
export async function seedMailbox(
  mailRoot: string,
  mailbox: string,
  seed: MailboxSeed,
): Promise<void> {
  const maildir = path.join(mailRoot, mailbox, "Maildir");
  const start = Date.UTC(2023, 0, 1);
  for (const [folder, count] of Object.entries(seed)) {
    const dir = path.join(maildir, maildirFolder(folder));
    for (const sub of ["cur", "new", "tmp"]) await mkdir(path.join(dir, sub), { recursive: true });
    if (folder !== "INBOX") await writeFile(path.join(dir, "maildirfolder"), "");
    const writes: Promise<void>[] = [];
    for (let n = 1; n <= count; n++) {
      const date = new Date(start + n * 3_600_000);
      const text = message(mailbox, folder, n, date);
      const file = path.join(
        dir,
        "cur",
        `${date.getTime() / 1000}.M${n}P0.standin,S=${Buffer.byteLength(text)}:2,S`,
      );
      // mtime is the internal date imapsync copies.
      writes.push(writeFile(file, text).then(() => utimes(file, date, date)));
    }
    await Promise.all(writes);
  }
}
