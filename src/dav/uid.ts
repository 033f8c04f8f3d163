// The UID of a stored calendar object or vCard, read with ical.js (which parses both), and the
// resource name a UID is stored under.
import { createHash } from "node:crypto";
import ICAL from "ical.js";
import type { ItemKind } from "../items/contract.js";

/** Components whose UID names a calendar object (VTIMEZONE has none). */
const CALENDAR_OBJECTS = ["vevent", "vtodo", "vjournal"];

/** The UID of one calendar object or vCard; undefined when the text is not one or has none. */
export function uidOf(kind: ItemKind, text: string): string | undefined {
  let parsed: unknown;
  try {
    parsed = ICAL.parse(text);
  } catch {
    return undefined;
  }
  // A text holding several vCards parses to a list of them: only one is an item.
  if (!Array.isArray(parsed) || Array.isArray(parsed[0])) return undefined;
  const root = new ICAL.Component(parsed as unknown[]);
  const holder =
    kind === "contacts"
      ? root.name === "vcard"
        ? root
        : undefined
      : CALENDAR_OBJECTS.map((name) => root.getFirstSubcomponent(name)).find((c) => c !== null);
  const uid = holder?.getFirstPropertyValue("uid");
  return typeof uid === "string" && uid !== "" ? uid : undefined;
}

/**
 * The resource an item is stored as: derived from its UID so a rerun writes the same one, hashed
 * because a UID may hold characters a path cannot ("/", "?") or be hundreds of bytes long.
 */
export function resourceName(kind: ItemKind, uid: string): string {
  const hash = createHash("sha256").update(uid, "utf8").digest("hex").slice(0, 40);
  return `${hash}${kind === "calendar" ? ".ics" : ".vcf"}`;
}
