// ical.js as the conversions use it. It folds after 75 octets of content and then adds the
// continuation's leading space, 76 in all; RFC 5545 §3.1 and RFC 6350 §3.2 say 75 with the space.
import ICAL from "ical.js";

ICAL.foldLength = 74;

export default ICAL;
