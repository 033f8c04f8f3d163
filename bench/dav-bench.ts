// `npm run bench:dav`: 1,000 calendar objects and 1,000 vCards stored by the DAV destination into
// a private Radicale (test/helpers/radicale.ts), then a rerun with nothing changed (list only, as
// the part runner does when every ETag matches). Prints items per second for each pass.
import { DavDestination } from "../src/dav/destination.js";
import type { DestinationCollection, ItemKind, SourceItem } from "../src/items/contract.js";
import { startRadicale } from "../test/helpers/radicale.js";

const COUNT = Number(process.env.BENCH_DAV_COUNT ?? 1000);
/** Requests in flight at once (the limit of 4 per mailbox). */
const PARALLEL = Number(process.env.BENCH_DAV_PARALLEL ?? 4);
const LOGIN = { user: "bench@contoso.test", password: "bench-pâss" };

function event(n: number): SourceItem {
  const uid = `bench-event-${n}@contoso.test`;
  const day = String(1 + (n % 28)).padStart(2, "0");
  const body = [
    "BEGIN:VCALENDAR",
    "VERSION:2.0",
    "PRODID:-//m365-imapsync//bench//EN",
    "BEGIN:VEVENT",
    `UID:${uid}`,
    "DTSTAMP:20261201T090000Z",
    `DTSTART:202612${day}T090000Z`,
    `DTEND:202612${day}T100000Z`,
    `SUMMARY:Réunion n°${n}`,
    "LOCATION:Salle Été",
    "ORGANIZER;SCHEDULE-AGENT=CLIENT:mailto:bench@contoso.test",
    "ATTENDEE;SCHEDULE-AGENT=CLIENT;PARTSTAT=ACCEPTED:mailto:alice@contoso.test",
    "BEGIN:VALARM",
    "ACTION:DISPLAY",
    "TRIGGER:-PT15M",
    "DESCRIPTION:Rappel",
    "END:VALARM",
    "END:VEVENT",
    "END:VCALENDAR",
    "",
  ].join("\r\n");
  return { uid, version: "1", body, label: `event ${n}`, losses: [] };
}

function contact(n: number): SourceItem {
  const uid = `bench-contact-${n}`;
  const body = [
    "BEGIN:VCARD",
    "VERSION:3.0",
    `UID:${uid}`,
    `FN:Zoé Dupont ${n}`,
    `N:Dupont ${n};Zoé;;;`,
    `EMAIL;TYPE=INTERNET:zoe.${n}@fournisseur.test`,
    "TEL;TYPE=WORK,VOICE:+33 1 23 45 67 89",
    "ADR;TYPE=WORK:;;1 rue de l'Été;Paris;;75001;France",
    "ORG:Fournisseur SA",
    "END:VCARD",
    "",
  ].join("\r\n");
  return { uid, version: "1", body, label: `contact ${n}`, losses: [] };
}

/** Runs `work` on every element, PARALLEL at a time. */
async function inParallel<T>(items: T[], work: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await work(items[next++] as T);
  };
  await Promise.all(Array.from({ length: PARALLEL }, worker));
}

async function timed(what: string, items: number, work: () => Promise<unknown>): Promise<void> {
  const start = performance.now();
  await work();
  const seconds = (performance.now() - start) / 1000;
  console.log(
    `${what.padEnd(44)} ${String(items).padStart(5)} items  ${seconds.toFixed(2).padStart(7)} s  ${(items / seconds).toFixed(0).padStart(6)} items/s`,
  );
}

const radicale = await startRadicale({ [LOGIN.user]: LOGIN.password });
try {
  const sources: Record<ItemKind, SourceItem[]> = {
    calendar: Array.from({ length: COUNT }, (_, n) => event(n)),
    contacts: Array.from({ length: COUNT }, (_, n) => contact(n)),
  };
  const destination = new DavDestination({ url: radicale.url }, LOGIN);
  const collections = {} as Record<ItemKind, DestinationCollection>;
  for (const kind of ["calendar", "contacts"] as const) {
    const name = kind === "calendar" ? "Calendrier" : "Contacts";
    collections[kind] = await destination.ensure({ kind, id: kind, name, isDefault: true });
  }
  const stored = new Map<string, string>();
  console.log(`Radicale ${radicale.url}, ${PARALLEL} requests in flight`);
  for (const kind of ["calendar", "contacts"] as const) {
    await timed(`first pass, ${kind}: list, then PUT each`, COUNT, async () => {
      await destination.list(collections[kind]);
      await inParallel(sources[kind], async (item) => {
        stored.set(item.uid, (await destination.put(collections[kind], item)).etag);
      });
    });
  }
  for (const kind of ["calendar", "contacts"] as const) {
    const rerun = new DavDestination({ url: radicale.url }, LOGIN);
    await timed(`rerun, nothing changed, ${kind}: list only`, COUNT, async () => {
      const collection = await rerun.ensure({ kind, id: kind, name: "-", isDefault: true });
      const listed = await rerun.list(collection);
      const changed = sources[kind].filter(
        (item) => listed.get(item.uid)?.etag !== stored.get(item.uid),
      );
      if (changed.length > 0)
        throw new Error(`${changed.length} ${kind} items differ after the first pass`);
    });
  }
} finally {
  await radicale.stop();
}
