// One Graph contact as a vCard (microsoft-graph.md §7): 3.0 by default, which Zimbra serves and
// accepts, 4.0 when VCARD_VERSION says so; pure, built with ical.js. Graph has no UID for a
// contact, so one is derived from its id: the same contact gets the same UID on every run.
import { createHash } from "node:crypto";
import ICAL from "../calendar/ical.js";
import type { GraphContact, GraphPhysicalAddress } from "../graph/types.js";

export type VcardVersion = "3.0" | "4.0";

export interface ContactInput {
  contact: GraphContact;
  /** The contact's photo (`/photo/$value`), when it has one. */
  photo?: { bytes: Buffer; contentType: string };
}

export interface ConvertedContact {
  uid: string;
  text: string;
  label: string;
  losses: string[];
}

/** A UUID-shaped UID from Graph's id (its SHA-256, version nibble 5 as in a name-based UUID). */
export function contactUid(graphId: string): string {
  const h = createHash("sha256").update(graphId, "utf8").digest("hex");
  const variant = ((parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

const clean = (s: string | null | undefined) => (s ?? "").trim();

function isEmpty(a: GraphPhysicalAddress | null | undefined): boolean {
  return !a || [a.street, a.city, a.state, a.postalCode, a.countryOrRegion].every((x) => !clean(x));
}

/** The displayed name; Graph's may be empty: built from the names, then the company, then an email. */
function formattedName(c: GraphContact): string {
  return (
    clean(c.displayName) ||
    [c.givenName, c.middleName, c.surname].map(clean).filter(Boolean).join(" ") ||
    clean(c.companyName) ||
    clean(c.emailAddresses?.[0]?.address) ||
    "(no name)"
  );
}

/** The type parameter: 3.0 writes `TYPE=WORK,VOICE`, 4.0 lowercase (`TYPE=work,voice`). */
function types(version: VcardVersion, ...names: string[]): string[] {
  return version === "4.0" ? names.map((n) => n.toLowerCase()) : names;
}

export function contactToVcard(
  input: ContactInput,
  version: VcardVersion = "3.0",
): ConvertedContact {
  const c = input.contact;
  const uid = contactUid(c.id);
  const card = new ICAL.Component("vcard");
  // First, always: ical.js picks vCard 3.0 or 4.0 writing rules from it (RFC 6350 wants it first).
  card.addPropertyWithValue("version", version);
  const add = (name: string, value: string, type?: string[]) => {
    const p = card.addPropertyWithValue(name, value);
    if (type) p.setParameter("type", type);
    return p;
  };
  /** A property whose value type is not the property's default (VALUE=… is written where needed). */
  const addTyped = (name: string, valueType: string, value: string | ICAL.VCardTime) => {
    const p = new ICAL.Property(name, card);
    p.resetType(valueType);
    p.setValue(value);
    card.addProperty(p);
    return p;
  };
  card.addPropertyWithValue("uid", version === "4.0" ? `urn:uuid:${uid}` : uid);
  const fn = formattedName(c);
  add("fn", fn);
  card.addPropertyWithValue(
    "n",
    [c.surname, c.givenName, c.middleName, c.title, c.generation].map(clean),
  );
  if (clean(c.nickName)) add("nickname", clean(c.nickName));
  for (const email of c.emailAddresses ?? []) {
    // v1.0 gives no work/home kind for an email address.
    if (clean(email.address))
      add("email", clean(email.address), version === "3.0" ? ["INTERNET"] : undefined);
  }
  for (const phone of c.businessPhones ?? [])
    if (clean(phone)) add("tel", clean(phone), types(version, "WORK", "VOICE"));
  for (const phone of c.homePhones ?? [])
    if (clean(phone)) add("tel", clean(phone), types(version, "HOME", "VOICE"));
  if (clean(c.mobilePhone)) add("tel", clean(c.mobilePhone), types(version, "CELL"));
  for (const [kind, address] of [
    ["WORK", c.businessAddress],
    ["HOME", c.homeAddress],
    // vCard has no "other" address type: 3.0 takes an X- name, 4.0 none.
    [version === "3.0" ? "X-OTHER" : undefined, c.otherAddress],
  ] as const) {
    if (isEmpty(address)) continue;
    const p = card.addPropertyWithValue("adr", [
      "",
      "",
      clean(address!.street),
      clean(address!.city),
      clean(address!.state),
      clean(address!.postalCode),
      clean(address!.countryOrRegion),
    ]);
    if (kind) p.setParameter("type", types(version, kind));
  }
  if (clean(c.companyName) || clean(c.department))
    card.addPropertyWithValue(
      "org",
      [clean(c.companyName), clean(c.department)].filter((x, i) => i === 0 || x),
    );
  if (clean(c.jobTitle)) add("title", clean(c.jobTitle));
  if (clean(c.profession)) add("role", clean(c.profession));
  // Outlook stores a birthday with a time, often not midnight: only its date is the birthday.
  const birthday = /^(\d{4}-\d{2}-\d{2})/.exec(clean(c.birthday))?.[1];
  if (birthday) {
    addTyped("bday", "date", ICAL.VCardTime.fromDateAndOrTimeString(birthday, "date"));
  }
  if (clean(c.personalNotes)) add("note", c.personalNotes!.replace(/\r\n/g, "\n").trim());
  const categories = (c.categories ?? []).map(clean).filter(Boolean);
  if (categories.length > 0) card.addPropertyWithValue("categories", "").setValues(categories);
  if (clean(c.businessHomePage)) add("url", clean(c.businessHomePage), types(version, "WORK"));
  for (const im of c.imAddresses ?? []) {
    if (!clean(im)) continue;
    if (version === "4.0") add("impp", clean(im).includes(":") ? clean(im) : `sip:${clean(im)}`);
    else add("x-ms-imaddress", clean(im));
  }
  const related: [string, string | null | undefined][] = [
    ["spouse", c.spouseName],
    ["x-manager", c.manager],
    ["x-assistant", c.assistantName],
    ...(c.children ?? []).map((child) => ["child", child] as [string, string]),
  ];
  for (const [kind, name] of related) {
    if (!clean(name)) continue;
    if (version === "4.0" && !kind.startsWith("x-")) {
      addTyped("related", "text", clean(name)).setParameter("type", kind);
    } else {
      // Outlook's own vCard 3.0 names (and Evolution's): X-MS-SPOUSE, X-MS-MANAGER, X-MS-ASSISTANT, X-MS-CHILD.
      add(`x-ms-${kind.replace(/^x-/, "")}`, clean(name));
    }
  }
  const photo = input.photo && {
    base64: input.photo.bytes.toString("base64"),
    mediaType: input.photo.contentType.split(";")[0]!.trim(),
  };
  if (photo && version === "3.0") {
    const p = add("photo", photo.base64);
    p.setParameter("encoding", "b");
    p.setParameter("type", (photo.mediaType.split("/")[1] ?? "jpeg").toUpperCase());
  }
  let text = card.toString();
  if (photo && version === "4.0") {
    // ical.js escapes the commas of a vCard 4.0 URI as in text, which breaks a data: URI: this
    // one line is written here, folded as ical.js folds.
    const line = ICAL.helpers.foldline(`PHOTO:data:${photo.mediaType};base64,${photo.base64}`);
    text = text.replace(/\r\nEND:VCARD$/, `\r\n${line}\r\nEND:VCARD`);
  }
  return { uid, text: `${text}\r\n`, label: fn, losses: [] };
}
