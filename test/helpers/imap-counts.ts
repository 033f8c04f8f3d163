import { ImapFlow } from "imapflow";

/** Every selectable folder's message count, as the server reports it. */
export async function folderCounts(imap: ImapFlow): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const folder of await imap.list()) {
    // A \Noselect parent ("Archive" above "Archive/2023") holds no mail on either side.
    if (folder.flags.has("\\Noselect")) continue;
    const status = await imap.status(folder.path, { messages: true });
    counts[folder.path] = status ? (status.messages ?? 0) : -1;
  }
  return counts;
}

/** A session on 127.0.0.1 (the stand-in's front takes a token, its Dovecot a password). */
export async function withImap<T>(
  opts: { port: number; user: string; accessToken?: string; pass?: string },
  use: (imap: ImapFlow) => Promise<T>,
): Promise<T> {
  const imap = new ImapFlow({
    host: "127.0.0.1",
    port: opts.port,
    secure: false,
    auth: opts.accessToken
      ? { user: opts.user, accessToken: opts.accessToken }
      : { user: opts.user, pass: opts.pass ?? "" },
    logger: false,
  });
  await imap.connect();
  try {
    return await use(imap);
  } finally {
    await imap.logout();
  }
}
