// What `check` asks Microsoft Graph to learn whether the token may read a mailbox's calendars and
// contacts: one cheap request per permission a part needs, and what each answer means
// (microsoft-graph.md §2, §9). Pure: the source (source.ts) sends the requests.
import type { AccessVerdict } from "../report/schema.js";
import { GraphError } from "./errors.js";
import type { GraphRequests } from "./requests.js";

export interface PermissionProbe {
  kind: "calendar" | "contacts";
  /** The permission as the admin grants it: to the app (client credentials), or delegated. */
  app: string;
  delegated: string;
  /** The request only that permission lets the token answer. */
  url: (requests: GraphRequests) => string;
}

/** Each permission a part needs, in the order a part uses them. */
export const PERMISSION_PROBES: readonly PermissionProbe[] = [
  {
    kind: "calendar",
    app: "Calendars.Read",
    delegated: "Calendars.Read.Shared",
    url: (r) => r.calendarsProbe,
  },
  // Event times are asked in the mailbox's zone, read from its settings before any event.
  {
    kind: "calendar",
    app: "MailboxSettings.Read",
    delegated: "MailboxSettings.Read",
    url: (r) => r.mailboxSettings,
  },
  {
    kind: "contacts",
    app: "Contacts.Read",
    delegated: "Contacts.Read.Shared",
    url: (r) => r.contactFoldersProbe,
  },
];

/** What a probe's failure says about the permission (a success is `granted`). */
export function accessVerdict(error: unknown): AccessVerdict {
  if (!(error instanceof GraphError)) return "unanswered";
  if (error.status === 403) return "refused";
  if (error.runClass === "mailbox_not_enabled") return "no_mailbox";
  if (error.status === 404) return "unknown_user";
  return "unanswered";
}
