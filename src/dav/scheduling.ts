// No attendee is mailed while calendars are copied: every ORGANIZER and ATTENDEE stored carries
// SCHEDULE-AGENT=CLIENT (RFC 6638 §7.1), which a scheduling server (SabreDAV, Carbonio) takes as
// "the client has done the scheduling". The conversion sets it; the destination makes sure,
// since this is where a server would send mail. Zimbra ignores it: docs/dav-destinations.md.
import ICAL from "ical.js";

const SCHEDULED = ["organizer", "attendee"];

/** The calendar object with SCHEDULE-AGENT=CLIENT on every organizer and attendee; unchanged when it has it already. */
export function withClientScheduling(body: string): string {
  const root = new ICAL.Component(ICAL.parse(body) as unknown[]);
  let changed = false;
  for (const component of root.getAllSubcomponents()) {
    for (const name of SCHEDULED) {
      for (const property of component.getAllProperties(name)) {
        const agent = property.getParameter("schedule-agent");
        if (typeof agent === "string" && agent.toUpperCase() === "CLIENT") continue;
        property.setParameter("schedule-agent", "CLIENT");
        changed = true;
      }
    }
  }
  return changed ? `${root.toString()}\r\n` : body;
}
