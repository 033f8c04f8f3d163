// One Graph event — a single event, or a series master with the instances Graph listed over a
// window — as one VCALENDAR (microsoft-graph.md §6): pure, built with ical.js. A series keeps its
// wall time and TZID, so that occurrences after a daylight-saving change stay where they were;
// its moved or changed occurrences become RECURRENCE-ID overrides under the master's UID, and
// pattern dates with no instance become EXDATEs. Every ORGANIZER and ATTENDEE carries
// SCHEDULE-AGENT=CLIENT: a scheduling server (RFC 6638) then sends no invitation to anyone.
import ICAL from "./ical.js";
import type { DateTime } from "luxon";
import type { GraphAttachment, GraphDateTime, GraphEvent } from "../graph/types.js";
import { occurrences, rrule } from "./recurrence.js";
import { ianaZone, UTC, vtimezone, wallTime } from "./zones.js";

export interface EventInput {
  /** A single event or a series master. */
  event: GraphEvent;
  /** A series: every instance Graph listed over `window` (occurrences and exceptions). */
  instances?: GraphEvent[];
  /** A series: the window its instances were asked for; EXDATEs are found only inside it. */
  window?: { start: Date; end: Date };
  /** The event's attachments; file ones within the size limit with their contentBytes. */
  attachments?: GraphAttachment[];
}

export interface ConvertOptions {
  /** The mailbox's zone (Windows or IANA name): the zone times were asked in, and the fallback. */
  mailboxZone: string;
  /** File attachments larger than this are left out and named in `losses`; 0: none is carried. */
  attachmentMaxBytes: number;
}

export interface ConvertedEvent {
  uid: string;
  /** VCALENDAR text, CRLF line ends, folded at 75 octets. */
  text: string;
  label: string;
  losses: string[];
}

const PRODID = "-//m365-imapsync//Microsoft Graph to iCalendar//EN";

const CLASS: Record<string, string> = {
  normal: "PUBLIC",
  personal: "PRIVATE",
  private: "PRIVATE",
  confidential: "CONFIDENTIAL",
};
const BUSY: Record<string, string> = {
  free: "FREE",
  tentative: "TENTATIVE",
  busy: "BUSY",
  oof: "OOF",
  workingelsewhere: "WORKINGELSEWHERE",
};
const PRIORITY: Record<string, number> = { low: 9, normal: 5, high: 1 };
const PARTSTAT: Record<string, string> = {
  accepted: "ACCEPTED",
  tentativelyaccepted: "TENTATIVE",
  declined: "DECLINED",
  organizer: "ACCEPTED",
  none: "NEEDS-ACTION",
  notresponded: "NEEDS-ACTION",
};

/** How this calendar object writes times: one zone per TZID, each needing a VTIMEZONE. */
class Clock {
  readonly used = new Set<string>();
  readonly losses: string[] = [];
  readonly fallback: string;

  constructor(mailboxZone: string) {
    this.fallback = ianaZone(mailboxZone) ?? UTC;
  }

  /** The IANA zone for a Graph zone name, falling back to the mailbox's (and saying so). */
  zone(name: string | null | undefined, what: string): string {
    const zone = ianaZone(name);
    if (zone && (zone === UTC || vtimezone(zone))) return zone;
    if (name)
      this.losses.push(
        `${what}: time zone "${name}" is unknown, its times are written in ${this.fallback}`,
      );
    return this.fallback;
  }

  /** A Graph date-time as an instant, read in the zone it names. */
  instant(value: GraphDateTime): DateTime {
    return wallTime(value.dateTime, ianaZone(value.timeZone) ?? this.fallback);
  }

  /** `name` (DTSTART…) at `at`, in `zone`: a TZID and a VTIMEZONE, or UTC. */
  set(component: ICAL.Component, name: string, at: DateTime, zone: string): void {
    const local = at.setZone(zone);
    const time = ICAL.Time.fromData(
      {
        year: local.year,
        month: local.month,
        day: local.day,
        hour: local.hour,
        minute: local.minute,
        second: local.second,
        isDate: false,
      },
      zone === UTC ? ICAL.Timezone.utcTimezone : undefined,
    );
    const property = component.addPropertyWithValue(name, time);
    if (zone !== UTC) {
      property.setParameter("tzid", zone);
      this.used.add(zone);
    }
  }

  /** `name` as a date (all-day events), `at` read in `zone`. */
  setDate(component: ICAL.Component, name: string, at: DateTime, zone: string): void {
    // ical.js writes VALUE=DATE itself for a date.
    component.addPropertyWithValue(
      name,
      ICAL.Time.fromDateString(at.setZone(zone).toISODate() ?? ""),
    );
  }
}

/** Plain text of a body: Graph gives text when asked (`outlook.body-content-type`), HTML otherwise. */
function plainBody(body: GraphEvent["body"]): string {
  const content = body?.content ?? "";
  const text =
    (body?.contentType ?? "text").toLowerCase() === "html"
      ? content
          .replace(/<(script|style|head)[\s\S]*?<\/\1>/gi, "")
          .replace(/<br\s*\/?>|<\/p>|<\/div>/gi, "\n")
          .replace(/<[^>]+>/g, "")
          .replace(/&nbsp;/g, " ")
          .replace(/&lt;/g, "<")
          .replace(/&gt;/g, ">")
          .replace(/&quot;/g, '"')
          .replace(/&#39;/g, "'")
          .replace(/&amp;/g, "&")
      : content;
  return text.replace(/\r\n/g, "\n").trim();
}

function utcStamp(iso: string | null | undefined): ICAL.Time | undefined {
  if (!iso) return undefined;
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return undefined;
  return ICAL.Time.fromJSDate(at, true);
}

function mailto(address: string): string {
  return `mailto:${address}`;
}

/** ORGANIZER and ATTENDEEs, each with SCHEDULE-AGENT=CLIENT: stored, never mailed. */
function people(vevent: ICAL.Component, event: GraphEvent): void {
  const attendees = (event.attendees ?? []).filter((a) => a.emailAddress?.address);
  const organizer = event.organizer?.emailAddress;
  if (attendees.length === 0) return;
  if (organizer?.address) {
    const p = vevent.addPropertyWithValue("organizer", mailto(organizer.address));
    if (organizer.name) p.setParameter("cn", organizer.name);
    p.setParameter("schedule-agent", "CLIENT");
  }
  for (const attendee of attendees) {
    const email = attendee.emailAddress!;
    const p = vevent.addPropertyWithValue("attendee", mailto(email.address!));
    if (email.name) p.setParameter("cn", email.name);
    const type = (attendee.type ?? "required").toLowerCase();
    if (type === "resource") {
      p.setParameter("cutype", "RESOURCE");
      p.setParameter("role", "NON-PARTICIPANT");
    } else {
      p.setParameter("role", type === "optional" ? "OPT-PARTICIPANT" : "REQ-PARTICIPANT");
    }
    p.setParameter(
      "partstat",
      PARTSTAT[(attendee.status?.response ?? "none").toLowerCase()] ?? "NEEDS-ACTION",
    );
    p.setParameter("schedule-agent", "CLIENT");
  }
}

/** Everything of an event but its times and recurrence, for the master and its overrides alike. */
function describe(vevent: ICAL.Component, event: GraphEvent, uid: string): void {
  vevent.addPropertyWithValue("uid", uid);
  const modified = utcStamp(event.lastModifiedDateTime);
  const created = utcStamp(event.createdDateTime);
  // DTSTAMP from the source, not the clock: the same event converts to the same text on a rerun.
  vevent.addPropertyWithValue(
    "dtstamp",
    modified ?? created ?? ICAL.Time.fromJSDate(new Date(0), true),
  );
  if (created) vevent.addPropertyWithValue("created", created);
  if (modified) vevent.addPropertyWithValue("last-modified", modified);
  if (event.subject) vevent.addPropertyWithValue("summary", event.subject);
  const description = plainBody(event.body);
  if (description) vevent.addPropertyWithValue("description", description);
  const location = event.location?.displayName;
  if (location) vevent.addPropertyWithValue("location", location);
  const cls = CLASS[(event.sensitivity ?? "").toLowerCase()];
  if (cls) vevent.addPropertyWithValue("class", cls);
  const showAs = (event.showAs ?? "").toLowerCase();
  if (BUSY[showAs]) {
    vevent.addPropertyWithValue("transp", showAs === "free" ? "TRANSPARENT" : "OPAQUE");
    vevent.addPropertyWithValue("x-microsoft-cdo-busystatus", BUSY[showAs]);
  }
  const priority = PRIORITY[(event.importance ?? "").toLowerCase()];
  if (priority !== undefined) vevent.addPropertyWithValue("priority", priority);
  const categories = (event.categories ?? []).filter(Boolean);
  if (categories.length > 0) vevent.addPropertyWithValue("categories", "").setValues(categories);
  if (event.isCancelled) vevent.addPropertyWithValue("status", "CANCELLED");
  const joinUrl = event.onlineMeeting?.joinUrl ?? event.onlineMeetingUrl;
  if (joinUrl) {
    vevent.addPropertyWithValue("url", joinUrl);
    // What Outlook itself exports, for clients that show a "Join" button from it.
    vevent.addPropertyWithValue("x-microsoft-skypeteamsmeetingurl", joinUrl);
  }
  people(vevent, event);
  if (event.isReminderOn && typeof event.reminderMinutesBeforeStart === "number") {
    const alarm = new ICAL.Component("valarm");
    alarm.addPropertyWithValue("action", "DISPLAY");
    alarm.addPropertyWithValue("description", event.subject || "Reminder");
    alarm.addPropertyWithValue(
      "trigger",
      ICAL.Duration.fromSeconds(-60 * event.reminderMinutesBeforeStart),
    );
    vevent.addSubcomponent(alarm);
  }
}

function attach(
  vevent: ICAL.Component,
  event: GraphEvent,
  input: EventInput,
  max: number,
  losses: string[],
): void {
  for (const a of input.attachments ?? []) {
    const name = a.name ?? "(unnamed)";
    const kind = (a["@odata.type"] ?? "").toLowerCase();
    const where = `attachment "${name}" of "${event.subject ?? ""}"`;
    if (!kind.endsWith("fileattachment")) {
      losses.push(`${where}: an attached Outlook item or a cloud link has no file to copy`);
      continue;
    }
    const size = a.size ?? Math.floor(((a.contentBytes ?? "").length * 3) / 4);
    if (size > max) {
      losses.push(`${where}: ${size} bytes, over ATTACHMENT_MAX_SIZE`);
      continue;
    }
    if (!a.contentBytes) {
      losses.push(`${where}: Graph gave no content for it`);
      continue;
    }
    const p = new ICAL.Property("attach", vevent);
    p.resetType("binary");
    p.setValue(a.contentBytes);
    p.setParameter("encoding", "BASE64");
    if (a.contentType) p.setParameter("fmttype", a.contentType);
    p.setParameter("x-filename", name);
    vevent.addProperty(p);
  }
}

/** DTSTART and DTEND: dates for an all-day event (read in its own zone), else wall time + TZID. */
function times(
  vevent: ICAL.Component,
  event: GraphEvent,
  clock: Clock,
  zones: { start: string; end: string },
): DateTime | undefined {
  if (!event.start) return undefined;
  const start = clock.instant(event.start);
  const end = event.end ? clock.instant(event.end) : undefined;
  if (event.isAllDay) {
    clock.setDate(vevent, "dtstart", start, zones.start);
    if (end) clock.setDate(vevent, "dtend", end, zones.start);
  } else {
    clock.set(vevent, "dtstart", start, zones.start);
    if (end) clock.set(vevent, "dtend", end, zones.end);
  }
  return start;
}

/**
 * The series' EXDATEs: its pattern's dates inside the window that Graph listed no instance for.
 * An instance's originalStart is the slot it came from (an instant), moved or not.
 */
function cancelledDates(
  input: EventInput,
  start: DateTime,
  zone: string,
  allDay: boolean,
  clock: Clock,
): DateTime[] {
  const { event, window } = input;
  const instances = input.instances ?? [];
  // No instance at all says nothing about cancellations (and Graph lists at least the series' own
  // occurrences): without this, every pattern date would become an EXDATE.
  if (!event.recurrence || !window || instances.length === 0) return [];
  const local = start.setZone(zone);
  const first = allDay ? (local.toISODate() ?? "") : local.toFormat("yyyy-MM-dd'T'HH:mm:ss");
  const slotOf = (i: GraphEvent): string | undefined => {
    if (i.originalStart) return wallTimeOf(new Date(i.originalStart), zone, allDay);
    // An occurrence that was never changed starts at its slot; an exception's slot is unknown.
    if ((i.type ?? "").toLowerCase() === "occurrence" && i.start) {
      const at = clock.instant(i.start).setZone(zone);
      return allDay ? (at.toISODate() ?? "") : at.toFormat("yyyy-MM-dd'T'HH:mm:ss");
    }
    return undefined;
  };
  const slots = instances.map(slotOf);
  // An exception whose slot is unknown would leave that slot looking cancelled.
  if (slots.includes(undefined)) return [];
  const listed = new Set(slots);
  const windowStart = wallTimeOf(window.start, zone, allDay);
  const windowEnd = wallTimeOf(window.end, zone, allDay);
  // Graph lists instances starting in [start, end): a slot at the very end is outside.
  return occurrences(event.recurrence, first, windowEnd, allDay)
    .filter((slot) => slot >= windowStart && slot < windowEnd && !listed.has(slot))
    .map((slot) => wallTime(slot, zone));
}

function wallTimeOf(at: Date, zone: string, allDay: boolean): string {
  const local = wallTime(at.toISOString().replace("Z", ""), UTC).setZone(zone);
  return allDay ? (local.toISODate() ?? "") : local.toFormat("yyyy-MM-dd'T'HH:mm:ss");
}

/** The VCALENDAR of one event or series. */
export function eventToICalendar(input: EventInput, opts: ConvertOptions): ConvertedEvent {
  const { event } = input;
  const clock = new Clock(opts.mailboxZone);
  const losses = clock.losses;
  const uid = event.iCalUId || event.id;
  const subject = event.subject ?? "";
  const what = `"${subject}"`;
  const vevents: ICAL.Component[] = [];

  const series = event.recurrence ?? undefined;
  const zone = clock.zone(
    (series && series.range.recurrenceTimeZone) || event.originalStartTimeZone || opts.mailboxZone,
    what,
  );
  const zones = {
    start: zone,
    end: event.originalEndTimeZone ? clock.zone(event.originalEndTimeZone, what) : zone,
  };
  const master = new ICAL.Component("vevent");
  describe(master, event, uid);
  const start = times(master, event, clock, zones);
  const allDay = Boolean(event.isAllDay);
  if (series && start) {
    const rule = rrule(series, allDay ? { allDay: true } : { allDay: false, zone });
    if (rule) {
      master.addPropertyWithValue("rrule", ICAL.Recur.fromString(rule));
      for (const date of cancelledDates(input, start, zone, allDay, clock)) {
        if (allDay) clock.setDate(master, "exdate", date, zone);
        else clock.set(master, "exdate", date, zone);
      }
    } else {
      losses.push(
        `${what}: its recurrence (${series.pattern.type ?? "?"}) is not known; only its first occurrence is kept`,
      );
    }
  }
  attach(master, event, input, opts.attachmentMaxBytes, losses);
  vevents.push(master);

  for (const instance of input.instances ?? []) {
    if ((instance.type ?? "").toLowerCase() !== "exception") continue;
    if (!instance.originalStart) {
      losses.push(
        `${what}: a changed occurrence (${instance.subject ?? ""}) came without its original start, so it is not carried, and no cancelled occurrence is written`,
      );
      continue;
    }
    const override = new ICAL.Component("vevent");
    describe(override, instance, uid);
    const slot = wallTime(new Date(instance.originalStart).toISOString().replace("Z", ""), UTC);
    if (allDay) clock.setDate(override, "recurrence-id", slot, zone);
    else clock.set(override, "recurrence-id", slot, zone);
    times(override, { ...instance, isAllDay: instance.isAllDay ?? allDay }, clock, zones);
    vevents.push(override);
  }

  const calendar = new ICAL.Component("vcalendar");
  calendar.addPropertyWithValue("version", "2.0");
  calendar.addPropertyWithValue("prodid", PRODID);
  // RFC 5545 §3.6.5: a VTIMEZONE for each TZID used, before the events that use it.
  for (const used of [...clock.used].sort()) {
    const block = vtimezone(used);
    if (block) calendar.addSubcomponent(ICAL.Component.fromString(block));
  }
  for (const vevent of vevents) calendar.addSubcomponent(vevent);
  const day = start?.setZone(zone).toISODate();
  return {
    uid,
    text: `${calendar.toString()}\r\n`,
    label: day ? `${subject} (${day})` : subject,
    losses,
  };
}
