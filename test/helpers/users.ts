import { readPassword, passwordSourceOf } from "../../src/users/passwords.js";
import { readUsersFile } from "../../src/users/read.js";
import type { UsersFile } from "../../src/users/types.js";

/**
 * A users file as a run sees it: read, then every password file read (a run reads them after
 * selection, for the mailboxes it runs; here all of them are).
 */
export async function readUsersAndPasswords(file: string): Promise<UsersFile> {
  const users = await readUsersFile(file);
  for (const mailbox of users.mailboxes) {
    mailbox.password = await readPassword(passwordSourceOf(mailbox, users.path, {}));
  }
  return users;
}
