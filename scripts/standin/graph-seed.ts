// What the Graph stand-in (graph.ts) serves: each mailbox's time zone, calendars with their
// events (series with their instances, written by hand: the stand-in does not expand patterns,
// so the tests' expected occurrences are these), contact folders with contacts and photos.
// Shapes as Microsoft documents them (fixtures/graph); events stored in their own zone.

export interface SeedEvent {
  [key: string]: unknown;
  id: string;
  start: { dateTime: string; timeZone: string };
  end: { dateTime: string; timeZone: string };
}

export interface SeedCalendar {
  calendar: {
    id: string;
    name: string;
    isDefaultCalendar: boolean;
    canEdit: boolean;
    isRemovable: boolean;
    owner: { name: string; address: string };
  };
  events: SeedEvent[];
  /** Series master id → every instance (occurrences and exceptions) Graph would list. */
  instances: Record<string, SeedEvent[]>;
  /** Event id → its attachments. */
  attachments: Record<string, Record<string, unknown>[]>;
}

export interface SeedContactFolder {
  id: string;
  displayName: string;
  parentFolderId: string;
  contacts: Record<string, unknown>[];
  children: SeedContactFolder[];
}

export interface GraphMailboxSeed {
  timeZone: string;
  calendars: SeedCalendar[];
  /** The default folder's id, its contacts, and the folders below it. */
  contacts: {
    defaultFolderId: string;
    contacts: Record<string, unknown>[];
    folders: SeedContactFolder[];
  };
  /** Contact id → JPEG bytes. */
  photos: Record<string, Buffer>;
}

/** How Graph writes a wall time. */
const wall = (s: string) => `${s}.0000000`;
const paris = (s: string) => ({ dateTime: wall(s), timeZone: "Romance Standard Time" });
const utc = (s: string) => ({ dateTime: wall(s), timeZone: "UTC" });

const owner = (address: string, name: string) => ({ name, address });
const calendar = (
  id: string,
  name: string,
  o: { name: string; address: string },
  extra: Partial<SeedCalendar["calendar"]> = {},
): SeedCalendar["calendar"] => ({
  id,
  name,
  isDefaultCalendar: false,
  canEdit: true,
  isRemovable: true,
  owner: o,
  ...extra,
});

/** A tiny valid JPEG (1×1), enough for a photo to travel end to end. */
export const PHOTO_JPEG = Buffer.from(
  "/9j/4AAQSkZJRgABAQEASABIAAD/2wBDAP//////////////////////////////////////////////////////////////////////////////////////wgALCAABAAEBAREA/8QAFBABAAAAAAAAAAAAAAAAAAAAAP/aAAgBAQABPxA=",
  "base64",
);

const ALICE = "alice@contoso.test";
const alice = owner(ALICE, "Alice Martin");

/**
 * Alice's weekly "Point hebdo", Mondays 09:00-09:30 Paris from Mar 2 to Apr 27 2026 (9 slots),
 * across the change to summer time on Mar 29: 08:00 UTC before it, 07:00 UTC after. Mar 16 moved
 * to Tuesday Mar 17 10:00; Apr 13 cancelled (no instance).
 */
export const WEEKLY_SLOTS_UTC = [
  "2026-03-02T08:00:00Z",
  "2026-03-09T08:00:00Z",
  "2026-03-16T08:00:00Z",
  "2026-03-23T08:00:00Z",
  "2026-03-30T07:00:00Z",
  "2026-04-06T07:00:00Z",
  "2026-04-13T07:00:00Z",
  "2026-04-20T07:00:00Z",
  "2026-04-27T07:00:00Z",
];
const WEEKLY_ID = "evt-alice-weekly";
const weekly: SeedEvent = {
  id: WEEKLY_ID,
  iCalUId: "040000008200E00074C5B7101A82E00800000000A1ICEWEEKLY",
  changeKey: "ck-weekly-1",
  type: "seriesMaster",
  seriesMasterId: null,
  subject: "Point hebdo équipe",
  body: {
    contentType: "html",
    content: "<html><body><p>Ordre du jour : avancement, risques.</p></body></html>",
  },
  start: paris("2026-03-02T09:00:00"),
  end: paris("2026-03-02T09:30:00"),
  originalStartTimeZone: "Romance Standard Time",
  originalEndTimeZone: "Romance Standard Time",
  isAllDay: false,
  isCancelled: false,
  sensitivity: "normal",
  showAs: "busy",
  importance: "normal",
  isReminderOn: true,
  reminderMinutesBeforeStart: 10,
  categories: ["Équipe"],
  location: { displayName: "Salle Été" },
  hasAttachments: false,
  createdDateTime: "2026-02-20T10:00:00Z",
  lastModifiedDateTime: "2026-03-10T16:00:00Z",
  recurrence: {
    pattern: {
      type: "weekly",
      interval: 1,
      month: 0,
      dayOfMonth: 0,
      daysOfWeek: ["monday"],
      firstDayOfWeek: "monday",
      index: "first",
    },
    range: {
      type: "endDate",
      startDate: "2026-03-02",
      endDate: "2026-04-27",
      recurrenceTimeZone: "Romance Standard Time",
      numberOfOccurrences: 0,
    },
  },
};

function weeklyInstances(): SeedEvent[] {
  return WEEKLY_SLOTS_UTC.filter((slot) => !slot.startsWith("2026-04-13")).map((slot, i) => {
    const moved = slot.startsWith("2026-03-16");
    const startUtc = slot.slice(0, 19);
    const endUtc = new Date(Date.parse(slot) + 30 * 60_000).toISOString().slice(0, 19);
    return {
      ...weekly,
      id: `${WEEKLY_ID}-occ-${i}`,
      iCalUId: `040000008200E00074C5B7101A82E00800000000A1ICEOCC${i}`,
      type: moved ? "exception" : "occurrence",
      seriesMasterId: WEEKLY_ID,
      recurrence: null,
      originalStart: slot,
      subject: moved ? "Point hebdo équipe (décalé)" : weekly.subject,
      start: moved ? paris("2026-03-17T10:00:00") : utc(startUtc),
      end: moved ? paris("2026-03-17T10:30:00") : utc(endUtc),
    };
  });
}

const ALL_DAY_ID = "evt-alice-allday";
const PRIVATE_ID = "evt-alice-private";
const MEETING_ID = "evt-alice-meeting";
const LAUNCH_ID = "evt-alice-launch";

function aliceSeed(): GraphMailboxSeed {
  const base = {
    isCancelled: false,
    importance: "normal",
    hasAttachments: false,
    isReminderOn: false,
    createdDateTime: "2026-02-01T09:00:00Z",
    lastModifiedDateTime: "2026-02-01T09:00:00Z",
    originalStartTimeZone: "Romance Standard Time",
    originalEndTimeZone: "Romance Standard Time",
    type: "singleInstance",
    seriesMasterId: null,
    recurrence: null,
  };
  const events: SeedEvent[] = [
    weekly,
    {
      ...base,
      id: ALL_DAY_ID,
      iCalUId: "040000008200E00074C5B7101A82E00800000000A1ICEALLDAY",
      subject: "Séminaire à Lyon",
      isAllDay: true,
      // Saturday Mar 28 to Monday Mar 30 2026 (exclusive), across the change to summer time.
      start: paris("2026-03-28T00:00:00"),
      end: paris("2026-03-30T00:00:00"),
      showAs: "oof",
      sensitivity: "normal",
    },
    {
      ...base,
      id: PRIVATE_ID,
      iCalUId: "040000008200E00074C5B7101A82E00800000000A1ICEPRIVATE",
      subject: "Rendez-vous médical",
      body: { contentType: "html", content: "<p>Apporter l'ordonnance.</p>" },
      start: paris("2026-04-14T10:30:00"),
      end: paris("2026-04-14T11:00:00"),
      sensitivity: "private",
      showAs: "busy",
      isReminderOn: true,
      reminderMinutesBeforeStart: 60,
    },
    {
      ...base,
      id: MEETING_ID,
      iCalUId: "040000008200E00074C5B7101A82E00800000000A1ICEMEETING",
      subject: "Revue de projet Été",
      body: { contentType: "html", content: "<p>Revue trimestrielle.</p>" },
      start: paris("2026-04-02T14:00:00"),
      end: paris("2026-04-02T15:00:00"),
      sensitivity: "normal",
      showAs: "busy",
      categories: ["Projets", "Équipe"],
      isOnlineMeeting: true,
      onlineMeeting: {
        joinUrl: "https://teams.microsoft.com/l/meetup-join/19%3ameeting_revue%40thread.v2/0",
      },
      location: { displayName: "Salle Zoë" },
      organizer: { emailAddress: { name: "Alice Martin", address: ALICE } },
      attendees: [
        {
          type: "required",
          status: { response: "accepted", time: "2026-02-02T08:00:00Z" },
          emailAddress: { name: "Bob Durand", address: "bob@contoso.test" },
        },
        {
          type: "optional",
          status: { response: "tentativelyAccepted", time: "2026-02-02T08:00:00Z" },
          emailAddress: { name: "Carol Lefèvre", address: "carol@contoso.test" },
        },
        {
          type: "resource",
          status: { response: "none", time: "0001-01-01T00:00:00Z" },
          emailAddress: { name: "Salle Zoë", address: "salle.zoe@contoso.test" },
        },
      ],
    },
  ];
  const launch: SeedEvent = {
    ...base,
    id: LAUNCH_ID,
    iCalUId: "040000008200E00074C5B7101A82E00800000000A1ICELAUNCH",
    subject: "Lancement des projets d'été",
    start: paris("2026-06-01T10:00:00"),
    end: paris("2026-06-01T11:00:00"),
    sensitivity: "normal",
    showAs: "tentative",
    hasAttachments: true,
  };
  return {
    timeZone: "Romance Standard Time",
    calendars: [
      {
        calendar: calendar("cal-alice-default", "Calendar", alice, {
          isDefaultCalendar: true,
          isRemovable: false,
        }),
        events,
        instances: { [WEEKLY_ID]: weeklyInstances() },
        attachments: {},
      },
      {
        calendar: calendar("cal-alice-projets", "Projets Été", alice),
        events: [launch],
        instances: {},
        attachments: {
          [LAUNCH_ID]: [
            {
              "@odata.type": "#microsoft.graph.fileAttachment",
              id: "att-1",
              name: "programme.txt",
              contentType: "text/plain",
              size: 23,
              isInline: false,
              contentBytes: Buffer.from("Programme de l'été 2026").toString("base64"),
            },
            {
              "@odata.type": "#microsoft.graph.fileAttachment",
              id: "att-3",
              name: "plans.pdf",
              contentType: "application/pdf",
              // Said to be 2 MB; its content is never asked for under a smaller limit.
              size: 2_000_000,
              isInline: false,
              contentBytes: "JVBERi0xLjQK",
            },
            {
              "@odata.type": "#microsoft.graph.itemAttachment",
              id: "att-2",
              name: "Invitation d'origine",
              contentType: null,
              size: 4096,
              isInline: false,
            },
          ],
        },
      },
      {
        calendar: calendar(
          "cal-alice-from-bob",
          "Calendrier de Bob",
          owner("bob@contoso.test", "Bob Durand"),
          { canEdit: false },
        ),
        events: [],
        instances: {},
        attachments: {},
      },
      {
        calendar: calendar("cal-alice-birthdays", "Anniversaires", alice, { isRemovable: false }),
        events: [],
        instances: {},
        attachments: {},
      },
      {
        calendar: calendar("cal-alice-holidays", "Jours fériés en France", alice, {
          canEdit: false,
        }),
        events: [],
        instances: {},
        attachments: {},
      },
    ],
    contacts: {
      defaultFolderId: "cf-alice-default",
      contacts: [
        {
          id: "ct-alice-jean",
          parentFolderId: "cf-alice-default",
          displayName: "Jean Martin",
          givenName: "Jean",
          surname: "Martin",
          emailAddresses: [{ name: "Jean Martin", address: "jean.martin@exemple.fr" }],
          businessPhones: [],
          homePhones: [],
          mobilePhone: "+33 6 00 00 00 01",
          businessAddress: {},
          homeAddress: {},
          otherAddress: {},
          categories: [],
        },
        {
          id: "ct-alice-zoe",
          parentFolderId: "cf-alice-default",
          displayName: "Zoë Durand",
          givenName: "Zoë",
          surname: "Durand",
          emailAddresses: [{ name: "Zoë", address: "zoe@exemple.fr" }],
          businessPhones: ["+33 1 00 00 00 02"],
          homePhones: [],
          mobilePhone: null,
          businessAddress: {},
          homeAddress: {},
          otherAddress: {},
          birthday: "1990-07-14T11:59:00Z",
          categories: [],
        },
      ],
      folders: [
        {
          id: "cf-alice-fournisseurs",
          displayName: "Fournisseurs",
          parentFolderId: "cf-alice-default",
          contacts: [
            {
              id: "ct-alice-elodie",
              parentFolderId: "cf-alice-fournisseurs",
              displayName: "Élodie Dupont-Lefèvre",
              givenName: "Élodie",
              surname: "Dupont-Lefèvre",
              companyName: "Fournitures Été SARL",
              department: "Achats",
              jobTitle: "Responsable des achats",
              emailAddresses: [
                { name: "Élodie (travail)", address: "elodie@fournitures-ete.fr" },
                { name: "Élodie", address: "elodie.dupont@exemple.fr" },
                { name: "", address: "e.dupont@exemple.org" },
              ],
              businessPhones: ["+33 4 72 00 00 01", "+33 4 72 00 00 02"],
              homePhones: ["+33 4 78 00 00 03"],
              mobilePhone: "+33 6 12 34 56 78",
              businessAddress: {
                street: "12 rue de l'Été",
                city: "Lyon",
                state: "",
                postalCode: "69001",
                countryOrRegion: "France",
              },
              homeAddress: {
                street: "3 chemin des Prés",
                city: "Écully",
                state: "",
                postalCode: "69130",
                countryOrRegion: "France",
              },
              otherAddress: {},
              birthday: "1980-05-17T11:59:00Z",
              personalNotes: "Préfère être appelée le matin.",
              categories: ["Fournisseurs"],
            },
          ],
          children: [
            {
              id: "cf-alice-europe",
              displayName: "Europe",
              parentFolderId: "cf-alice-fournisseurs",
              contacts: [
                {
                  id: "ct-alice-hans",
                  parentFolderId: "cf-alice-europe",
                  displayName: "Hans Müller",
                  givenName: "Hans",
                  surname: "Müller",
                  emailAddresses: [{ name: "Hans", address: "hans@beispiel.de" }],
                  businessPhones: [],
                  homePhones: [],
                  mobilePhone: null,
                  businessAddress: { city: "München", countryOrRegion: "Deutschland" },
                  homeAddress: {},
                  otherAddress: {},
                  categories: [],
                },
              ],
              children: [],
            },
          ],
        },
      ],
    },
    photos: { "ct-alice-elodie": PHOTO_JPEG },
  };
}

/** A mailbox with one calendar event and one contact, in its default folders. */
function smallSeed(address: string, name: string): GraphMailboxSeed {
  const o = owner(address, name);
  const id = address.split("@")[0]!;
  return {
    timeZone: "Romance Standard Time",
    calendars: [
      {
        calendar: calendar(`cal-${id}-default`, "Calendar", o, {
          isDefaultCalendar: true,
          isRemovable: false,
        }),
        events: [
          {
            id: `evt-${id}-1`,
            iCalUId: `uid-${id}-1`,
            type: "singleInstance",
            subject: `Rendez-vous de ${name}`,
            start: paris("2026-05-05T09:00:00"),
            end: paris("2026-05-05T10:00:00"),
            originalStartTimeZone: "Romance Standard Time",
            originalEndTimeZone: "Romance Standard Time",
            sensitivity: "normal",
            showAs: "busy",
            lastModifiedDateTime: "2026-02-01T09:00:00Z",
          },
        ],
        instances: {},
        attachments: {},
      },
    ],
    contacts: {
      defaultFolderId: `cf-${id}-default`,
      contacts: [
        {
          id: `ct-${id}-1`,
          parentFolderId: `cf-${id}-default`,
          displayName: `Contact de ${name}`,
          emailAddresses: [{ address: `contact.${id}@exemple.fr` }],
        },
      ],
      folders: [],
    },
    photos: {},
  };
}

/** `count` single events (one a day from Jan 1 2026, Paris) and `count` contacts, every fifth with a photo. */
export function benchSeed(address: string, count: number): GraphMailboxSeed {
  const seed = smallSeed(address, "Bench");
  const id = address.split("@")[0]!;
  const day = (i: number) => new Date(Date.UTC(2026, 0, 1 + i)).toISOString().slice(0, 10);
  seed.calendars[0]!.events = Array.from({ length: count }, (_, i) => ({
    id: `evt-${id}-${i}`,
    iCalUId: `uid-${id}-${i}`,
    type: "singleInstance",
    subject: `Événement ${i}`,
    start: paris(`${day(i)}T09:00:00`),
    end: paris(`${day(i)}T10:00:00`),
    originalStartTimeZone: "Romance Standard Time",
    originalEndTimeZone: "Romance Standard Time",
    showAs: "busy",
    sensitivity: "normal",
    lastModifiedDateTime: "2026-01-01T00:00:00Z",
  }));
  seed.contacts.contacts = Array.from({ length: count }, (_, i) => ({
    id: `ct-${id}-${i}`,
    parentFolderId: seed.contacts.defaultFolderId,
    displayName: `Contact ${i}`,
    givenName: "Contact",
    surname: String(i),
    emailAddresses: [{ address: `contact${i}@exemple.fr` }],
    businessPhones: [`+33 1 00 00 ${String(i).padStart(4, "0")}`],
  }));
  seed.photos = Object.fromEntries(
    Array.from({ length: Math.ceil(count / 5) }, (_, i) => [`ct-${id}-${i * 5}`, PHOTO_JPEG]),
  );
  return seed;
}

/** Mailboxes the Graph stand-in answers for, and how. */
export const GRAPH_ALICE = ALICE;
/** Granted to nobody: 403 ErrorAccessDenied. */
export const GRAPH_DENIED = "bob@contoso.test";
/** No Exchange Online mailbox: 404 MailboxNotEnabledForRESTAPI. */
export const GRAPH_NOT_ENABLED = "nomailbox@contoso.test";
/** Answers 429 with Retry-After to its first GRAPH_THROTTLED_TIMES requests, then serves. */
export const GRAPH_THROTTLED = "busy@contoso.test";
export const GRAPH_THROTTLED_TIMES = 2;

export function graphSeed(bench?: {
  address: string;
  count: number;
}): Record<string, GraphMailboxSeed> {
  return {
    [ALICE]: aliceSeed(),
    [GRAPH_DENIED]: smallSeed(GRAPH_DENIED, "Bob"),
    [GRAPH_THROTTLED]: smallSeed(GRAPH_THROTTLED, "Busy"),
    "carol@contoso.test": smallSeed("carol@contoso.test", "Carol"),
    ...(bench ? { [bench.address]: benchSeed(bench.address, bench.count) } : {}),
  };
}
