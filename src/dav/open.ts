// The destination of a mailbox's calendar and contacts parts: its CalDAV/CardDAV server when
// DAV_URL is set, else files in a folder of the work directory.
import { InputError } from "../errors.js";
import { readFile } from "node:fs/promises";
import type { CertificateCheck, Config } from "../config/types.js";
import type { ItemDestination } from "../items/contract.js";
import type { Mailbox } from "../users/types.js";
import { passwordSourceOf, readPassword } from "../users/passwords.js";
import { DavDestination } from "./destination.js";
import { FileDestination } from "./files.js";
import type { DavLogin, DavTls } from "./http.js";

/**
 * How the mailbox logs in to DAV: as its destination address with its password, as imapsync's
 * user2 does; or, with DEST_ADMIN_USER, as that admin into the mailbox's fixed homes (discovery
 * would find the admin's own). The password file is read here, at the part's start.
 */
export async function davLoginOf(
  mailbox: Mailbox,
  usersFile: string,
  config: Pick<Config, "dav" | "destAdminUser" | "destAdminPasswordFile">,
): Promise<DavLogin> {
  const admin = config.destAdminUser;
  if (
    admin !== undefined &&
    (config.dav?.calendarHome === undefined || config.dav.addressbookHome === undefined)
  ) {
    throw new InputError(
      "DEST_ADMIN_USER",
      `the admin ${admin} would find its own calendars and address books by discovery, not ${mailbox.destination}'s`,
      "Set DAV_CALENDAR_HOME and DAV_ADDRESSBOOK_HOME with {user} for the mailbox (docs/dav-destinations.md), on a server that lets an admin write there, or give each mailbox its password instead.",
    );
  }
  const password = await readPassword(passwordSourceOf(mailbox, usersFile, config));
  if (password === undefined) {
    throw new InputError(
      usersFile,
      `${mailbox.destination} has no password, and the CalDAV/CardDAV server logs in with it`,
      "Give the mailbox a password or password_file in the users file (or DEST_ADMIN_USER with DEST_ADMIN_PASSWORD_FILE).",
    );
  }
  return admin === undefined
    ? { user: mailbox.destination, password }
    : { user: admin, password, owner: mailbox.destination };
}

/**
 * How the DAV server's certificate is checked: the destination's TLS2_VERIFY and CA2_FILE, as
 * for the mail (one destination server, or one organisation's CA).
 */
export async function davTlsOf(check: CertificateCheck | undefined): Promise<DavTls | undefined> {
  if (!check) return undefined;
  // Found readable when the configuration was loaded.
  const ca = check.caFile === undefined ? undefined : await readFile(check.caFile, "utf8");
  return { verify: check.verify, ...(ca !== undefined && { ca }) };
}

/** DAV when DAV_URL is set; otherwise the .ics/.vcf files, written in `filesDir`. */
export async function openItemDestination(
  mailbox: Mailbox,
  usersFile: string,
  config: Pick<Config, "dav" | "destAdminUser" | "destAdminPasswordFile"> & {
    certificates?: Pick<Config["certificates"], "destination">;
  },
  filesDir: string,
): Promise<ItemDestination> {
  if (config.dav === undefined) return new FileDestination(filesDir);
  return new DavDestination(config.dav, await davLoginOf(mailbox, usersFile, config), {
    tls: await davTlsOf(config.certificates?.destination),
  });
}
