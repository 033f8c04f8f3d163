// The mailboxes of a users file, as users/read.ts reads them.

/** A mailbox to migrate, as read from the users file. */
export interface Mailbox {
  source: string;
  destination: string;
  /** Destination password written inline in the users file (a secret). */
  password?: string;
  /** File whose first line is the destination password. */
  passwordFile?: string;
  /** Destination host for this mailbox only (imapsync bulk format, column 4). */
  host2?: string;
  /** Extra imapsync options for this mailbox only (bulk format, column 7), already split. */
  extraArgs: string[];
  /** 1-based line of the users file, for messages. */
  line: number;
}

/** Where a run's destination password comes from; a file is read only when the run is near. */
export type PasswordSource =
  | { kind: "none" }
  | { kind: "inline"; password: string }
  | { kind: "file"; file: string; where: string; fix: string };

export interface UsersFile {
  path: string;
  format: "csv" | "imapsync";
  mailboxes: Mailbox[];
  /** Things worth telling the admin that do not stop the run (ignored columns...). */
  notices: string[];
  /** `sha256:` and the hex digest of the file's bytes (set when read from a file). */
  digest?: string;
}
