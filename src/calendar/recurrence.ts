// Graph's patternedRecurrence as an RRULE (microsoft-graph.md §6, its table), and the dates that
// rule yields, so that a pattern date without an instance can be told apart: a cancelled
// occurrence, an EXDATE (v1.0 does not list them).
import ICAL from "./ical.js";
import { DateTime } from "luxon";
import type { GraphRecurrence } from "../graph/types.js";

const DAYS: Record<string, string> = {
  sunday: "SU",
  monday: "MO",
  tuesday: "TU",
  wednesday: "WE",
  thursday: "TH",
  friday: "FR",
  saturday: "SA",
};
const INDEX: Record<string, number> = { first: 1, second: 2, third: 3, fourth: 4, last: -1 };

function days(list: string[] | null | undefined): string[] {
  return (list ?? []).map((d) => DAYS[d.toLowerCase()]).filter((d): d is string => d !== undefined);
}

/** `BYDAY=2WE` for one day, `BYDAY=TH,FR;BYSETPOS=1` for several (the first matching day). */
function relativeDays(pattern: GraphRecurrence["pattern"]): string[] {
  const index = INDEX[(pattern.index ?? "first").toLowerCase()] ?? 1;
  const byDay = days(pattern.daysOfWeek);
  if (byDay.length === 1) return [`BYDAY=${index}${byDay[0]}`];
  return [`BYDAY=${byDay.join(",")}`, `BYSETPOS=${index}`];
}

/** The rule's parts for the pattern alone; Graph's filler fields (`month: 0` on a weekly) are ignored. */
function patternParts(pattern: GraphRecurrence["pattern"]): string[] | undefined {
  const interval = `INTERVAL=${Math.max(1, pattern.interval ?? 1)}`;
  switch ((pattern.type ?? "").toLowerCase()) {
    case "daily":
      return ["FREQ=DAILY", interval];
    case "weekly": {
      const wkst = DAYS[(pattern.firstDayOfWeek ?? "sunday").toLowerCase()] ?? "SU";
      return [
        "FREQ=WEEKLY",
        interval,
        `BYDAY=${days(pattern.daysOfWeek).join(",")}`,
        `WKST=${wkst}`,
      ];
    }
    case "absolutemonthly":
      return ["FREQ=MONTHLY", interval, `BYMONTHDAY=${pattern.dayOfMonth ?? 1}`];
    case "relativemonthly":
      return ["FREQ=MONTHLY", interval, ...relativeDays(pattern)];
    case "absoluteyearly":
      return [
        "FREQ=YEARLY",
        interval,
        `BYMONTH=${pattern.month ?? 1}`,
        `BYMONTHDAY=${pattern.dayOfMonth ?? 1}`,
      ];
    case "relativeyearly":
      return ["FREQ=YEARLY", interval, `BYMONTH=${pattern.month ?? 1}`, ...relativeDays(pattern)];
    default:
      return undefined;
  }
}

/** How the series' dates are written: the zone of DTSTART, or dates for an all-day series. */
export type SeriesTime = { allDay: true } | { allDay: false; zone: string };

/** The rule, its end date written by `untilOf` (from Graph's inclusive yyyy-MM-dd). */
function rule(
  recurrence: GraphRecurrence,
  untilOf: (endDate: string) => string,
): string | undefined {
  const parts = patternParts(recurrence.pattern);
  if (!parts) return undefined;
  const range = recurrence.range;
  switch ((range.type ?? "").toLowerCase()) {
    case "enddate":
      if (range.endDate) parts.push(`UNTIL=${untilOf(range.endDate)}`);
      break;
    case "numbered":
      if (range.numberOfOccurrences) parts.push(`COUNT=${range.numberOfOccurrences}`);
      break;
  }
  return parts.join(";");
}

const compact = (date: string) => date.replaceAll("-", "");

/**
 * The RRULE value, or undefined for a pattern type Graph does not document. An end date is
 * inclusive: UNTIL is the end of that day in the series' zone, in UTC (RFC 5545 wants UTC when
 * DTSTART has a TZID), or the date itself for an all-day series.
 */
export function rrule(recurrence: GraphRecurrence, time: SeriesTime): string | undefined {
  return rule(recurrence, (endDate) =>
    time.allDay
      ? compact(endDate)
      : DateTime.fromISO(`${endDate}T23:59:59`, { zone: time.zone })
          .toUTC()
          .toFormat("yyyyMMdd'T'HHmmss'Z'"),
  );
}

/** Beyond any real series: a guard against a rule that never ends inside the window. */
const MAX_OCCURRENCES = 100_000;

/**
 * The series' occurrence starts from `first` up to `until` inclusive (wall times
 * "yyyy-MM-ddTHH:mm:ss", or dates "yyyy-MM-dd" for an all-day series), as ical.js expands the rule
 * in floating time: wall times are what a series keeps across daylight-saving changes.
 */
export function occurrences(
  recurrence: GraphRecurrence,
  first: string,
  until: string,
  allDay: boolean,
): string[] {
  const floating = rule(recurrence, (endDate) => compact(endDate) + (allDay ? "" : "T235959"));
  if (!floating) return [];
  const start = allDay ? ICAL.Time.fromDateString(first) : ICAL.Time.fromDateTimeString(first);
  const iterator = ICAL.Recur.fromString(floating).iterator(start);
  const out: string[] = [];
  for (let next = iterator.next(); next && out.length < MAX_OCCURRENCES; next = iterator.next()) {
    const text = next.toString();
    if (text > until) break;
    out.push(text);
  }
  return out;
}
