// The parts of Graph's resources that the conversions read (fixtures/graph: Microsoft's own
// examples). Everything is optional or nullable as live tenants and the examples show it; the
// conversions read tolerantly (microsoft-graph.md, fixtures INDEX caveats).

export interface GraphDateTime {
  /** Wall time without an offset ("2026-03-02T09:00:00.0000000"), in `timeZone`. */
  dateTime: string;
  /** A Windows name, an IANA name, or "UTC". */
  timeZone?: string | null;
}

export interface GraphEmailAddress {
  name?: string | null;
  address?: string | null;
}

export interface GraphRecurrence {
  pattern: {
    type?: string | null;
    interval?: number | null;
    month?: number | null;
    dayOfMonth?: number | null;
    daysOfWeek?: string[] | null;
    firstDayOfWeek?: string | null;
    index?: string | null;
  };
  range: {
    type?: string | null;
    startDate?: string | null;
    endDate?: string | null;
    recurrenceTimeZone?: string | null;
    numberOfOccurrences?: number | null;
  };
}

export interface GraphAttendee {
  type?: string | null;
  status?: { response?: string | null } | null;
  emailAddress?: GraphEmailAddress | null;
}

export interface GraphEvent {
  id: string;
  iCalUId?: string | null;
  changeKey?: string | null;
  type?: string | null;
  seriesMasterId?: string | null;
  /** Instances only: the occurrence's original start, an instant (DateTimeOffset, UTC). */
  originalStart?: string | null;
  originalStartTimeZone?: string | null;
  originalEndTimeZone?: string | null;
  subject?: string | null;
  body?: { contentType?: string | null; content?: string | null } | null;
  start?: GraphDateTime | null;
  end?: GraphDateTime | null;
  isAllDay?: boolean | null;
  isCancelled?: boolean | null;
  recurrence?: GraphRecurrence | null;
  location?: { displayName?: string | null } | null;
  sensitivity?: string | null;
  showAs?: string | null;
  importance?: string | null;
  isReminderOn?: boolean | null;
  reminderMinutesBeforeStart?: number | null;
  categories?: string[] | null;
  organizer?: { emailAddress?: GraphEmailAddress | null } | null;
  attendees?: GraphAttendee[] | null;
  isOnlineMeeting?: boolean | null;
  onlineMeeting?: { joinUrl?: string | null } | null;
  onlineMeetingUrl?: string | null;
  hasAttachments?: boolean | null;
  createdDateTime?: string | null;
  lastModifiedDateTime?: string | null;
}

export interface GraphAttachment {
  "@odata.type"?: string;
  id?: string;
  name?: string | null;
  contentType?: string | null;
  size?: number | null;
  isInline?: boolean | null;
  /** fileAttachment only, base64. */
  contentBytes?: string | null;
}

export interface GraphCalendar {
  id: string;
  name?: string | null;
  isDefaultCalendar?: boolean | null;
  canEdit?: boolean | null;
  isRemovable?: boolean | null;
  owner?: GraphEmailAddress | null;
}

export interface GraphContactFolder {
  id: string;
  displayName?: string | null;
  parentFolderId?: string | null;
}

export interface GraphPhysicalAddress {
  street?: string | null;
  city?: string | null;
  state?: string | null;
  postalCode?: string | null;
  countryOrRegion?: string | null;
}

export interface GraphContact {
  id: string;
  changeKey?: string | null;
  parentFolderId?: string | null;
  displayName?: string | null;
  givenName?: string | null;
  middleName?: string | null;
  surname?: string | null;
  title?: string | null;
  generation?: string | null;
  nickName?: string | null;
  emailAddresses?: GraphEmailAddress[] | null;
  businessPhones?: string[] | null;
  homePhones?: string[] | null;
  mobilePhone?: string | null;
  businessAddress?: GraphPhysicalAddress | null;
  homeAddress?: GraphPhysicalAddress | null;
  otherAddress?: GraphPhysicalAddress | null;
  companyName?: string | null;
  department?: string | null;
  jobTitle?: string | null;
  profession?: string | null;
  /** A DateTimeOffset: only its date part is the birthday. */
  birthday?: string | null;
  personalNotes?: string | null;
  categories?: string[] | null;
  businessHomePage?: string | null;
  imAddresses?: string[] | null;
  spouseName?: string | null;
  children?: string[] | null;
  manager?: string | null;
  assistantName?: string | null;
  lastModifiedDateTime?: string | null;
}

export interface GraphMailboxSettings {
  timeZone?: string | null;
}
