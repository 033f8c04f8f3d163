// Where Microsoft Graph's URLs are built: every request of a calendar or contacts part, for one
// mailbox, under GRAPH_URL (microsoft-graph.md §1). App-only tokens cannot use /me, so every path
// goes through /users/{address}, which delegated tokens accept too.

/** Graph's v1.0 endpoint; GRAPH_URL replaces it (version included), never the token's scope. */
export const DEFAULT_GRAPH_URL = "https://graph.microsoft.com/v1.0";

/**
 * Items per page. Outlook collections default to 10; more per page means fewer of the 10,000
 * requests a mailbox may spend in 10 minutes (microsoft-graph.md §4, §5).
 */
export const PAGE_SIZE = 100;

/** A query string that keeps `$` readable (`$top`, not `%24top`) and encodes every value. */
function query(params: Record<string, string | number>): string {
  return Object.entries(params)
    .map(([key, value]) => `${key}=${encodeURIComponent(String(value))}`)
    .join("&");
}

/** The URLs of one mailbox's calendars, events and contacts. */
export function graphRequests(baseUrl: string, address: string) {
  const root = `${baseUrl.replace(/\/+$/, "")}/users/${encodeURIComponent(address)}`;
  const id = encodeURIComponent;
  const page = query({ $top: PAGE_SIZE });
  return {
    mailboxSettings: `${root}/mailboxSettings`,
    /** The default calendar: its id, and its owner as Exchange spells the mailbox's address. */
    defaultCalendar: `${root}/calendar`,
    calendars: `${root}/calendars?${page}`,
    /** The cheapest read of the calendars (one id): whether the token may read them, for `check`. */
    calendarsProbe: `${root}/calendars?${query({ $top: 1, $select: "id" })}`,
    /** Single events and series masters only: occurrences and exceptions come from `instances`. */
    events: (calendarId: string) => `${root}/calendars/${id(calendarId)}/events?${page}`,
    instances: (eventId: string, window: { start: Date; end: Date }) =>
      `${root}/events/${id(eventId)}/instances?${query({
        startDateTime: window.start.toISOString(),
        endDateTime: window.end.toISOString(),
        $top: PAGE_SIZE,
      })}`,
    /** What each attachment is, without its content: a large file is never downloaded. */
    attachments: (eventId: string) =>
      `${root}/events/${id(eventId)}/attachments?${query({ $select: "id,name,contentType,size,isInline" })}`,
    /** One attachment with its content (contentBytes for a file). */
    attachment: (eventId: string, attachmentId: string) =>
      `${root}/events/${id(eventId)}/attachments/${id(attachmentId)}`,
    /** The folders inside the default contacts folder (and, per the documentation's example, maybe that folder itself). */
    contactFolders: `${root}/contactFolders?${page}`,
    /** The cheapest read of the contact folders (one id): whether the token may read them, for `check`. */
    contactFoldersProbe: `${root}/contactFolders?${query({ $top: 1, $select: "id" })}`,
    childFolders: (folderId: string) =>
      `${root}/contactFolders/${id(folderId)}/childFolders?${page}`,
    /** One contact of the default folder, for that folder's id (Graph has no "default" flag on folders). */
    defaultContactsFolderId: `${root}/contacts?${query({ $top: 1, $select: "parentFolderId" })}`,
    /** The default contacts folder's contacts. */
    defaultContacts: `${root}/contacts?${page}`,
    folderContacts: (folderId: string) => `${root}/contactFolders/${id(folderId)}/contacts?${page}`,
    photo: (contactId: string) => `${root}/contacts/${id(contactId)}/photo/$value`,
  };
}

export type GraphRequests = ReturnType<typeof graphRequests>;
