// Time zones of Exchange events in iCalendar's terms: Windows names to IANA (windows-iana), wall
// times moved between zones (luxon), and the VTIMEZONE each TZID needs (timezones-ical-library).
import { DateTime } from "luxon";
import { tzlib_get_ical_block } from "timezones-ical-library";
import { findIana } from "windows-iana";

export const UTC = "UTC";

/**
 * The IANA zone of a Graph zone name: a Windows name ("Romance Standard Time" → Europe/Paris), an
 * IANA name as it is, "UTC" (and Exchange's "tzone://Microsoft/Utc") as UTC; undefined for what
 * neither knows (Exchange's "Customized Time Zone").
 */
export function ianaZone(name: string | null | undefined): string | undefined {
  if (!name) return undefined;
  if (!ianaCache.has(name)) ianaCache.set(name, findZone(name));
  return ianaCache.get(name);
}

/** A mailbox's events name a handful of zones: each is looked up once per process. */
const ianaCache = new Map<string, string | undefined>();
const blockCache = new Map<string, string | undefined>();

function findZone(name: string): string | undefined {
  const trimmed = name.trim();
  if (/^(utc|gmt|etc\/utc|tzone:\/\/microsoft\/utc)$/i.test(trimmed)) return UTC;
  const [windows] = findIana(trimmed);
  if (windows) return windows;
  return DateTime.local().setZone(trimmed).isValid ? trimmed : undefined;
}

/** A wall time as Graph writes it ("2026-03-02T09:00:00.0000000"), read in `zone`. */
export function wallTime(dateTime: string, zone: string): DateTime {
  return DateTime.fromISO(dateTime.replace(/(\.\d{3})\d*$/, "$1"), { zone });
}

/** The VTIMEZONE block of an IANA zone, or undefined when the library has none. */
export function vtimezone(zone: string): string | undefined {
  if (!blockCache.has(zone)) blockCache.set(zone, findBlock(zone));
  return blockCache.get(zone);
}

function findBlock(zone: string): string | undefined {
  const block = tzlib_get_ical_block(zone);
  const text = Array.isArray(block) ? block[0] : undefined;
  return text?.startsWith("BEGIN:VTIMEZONE") ? text : undefined;
}
