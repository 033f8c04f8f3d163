// Which destination a mailbox's items go to, and how it logs in to DAV.
import assert from "node:assert/strict";
import { rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { DavDestination } from "../../../src/dav/destination.js";
import { FileDestination } from "../../../src/dav/files.js";
import { davLoginOf, openItemDestination } from "../../../src/dav/open.js";
import { InputError } from "../../../src/errors.js";
import type { Mailbox } from "../../../src/users/types.js";
import { tempDir } from "../../helpers/env.js";

const DAV = { url: "https://mail.example.org/" };
const HOMES = {
  ...DAV,
  calendarHome: "https://mail.example.org/dav/{user}/",
  addressbookHome: "https://mail.example.org/dav/{user}/",
};

describe("openItemDestination", () => {
  let dir: string;
  let alice: Mailbox;
  before(async () => {
    dir = await tempDir("dav-open-");
    await writeFile(path.join(dir, "alice.txt"), "mot de passe été\n");
    await writeFile(path.join(dir, "admin.txt"), "admin-secret\r\n");
    alice = {
      source: "alice@contoso.onmicrosoft.com",
      destination: "alice@contoso.test",
      passwordFile: path.join(dir, "alice.txt"),
      extraArgs: [],
      line: 2,
    };
  });
  after(() => rm(dir, { recursive: true, force: true }));
  const usersFile = () => path.join(dir, "users.csv");

  it("writes files without DAV_URL, and uses the server with it", async () => {
    assert.ok((await openItemDestination(alice, usersFile(), {}, dir)) instanceof FileDestination);
    const dav = await openItemDestination(alice, usersFile(), { dav: DAV }, dir);
    assert.ok(dav instanceof DavDestination);
  });

  it("logs in as the destination address with the mailbox's password file", async () => {
    assert.deepEqual(await davLoginOf(alice, usersFile(), { dav: DAV }), {
      user: "alice@contoso.test",
      password: "mot de passe été",
    });
  });

  it("an admin logs in for the mailbox only into fixed homes", async () => {
    const admin = {
      destAdminUser: "admin@contoso.test",
      destAdminPasswordFile: path.join(dir, "admin.txt"),
    };
    assert.deepEqual(await davLoginOf(alice, usersFile(), { dav: HOMES, ...admin }), {
      user: "admin@contoso.test",
      password: "admin-secret",
      owner: "alice@contoso.test",
    });
    await assert.rejects(
      davLoginOf(alice, usersFile(), { dav: DAV, ...admin }),
      (error: unknown) =>
        error instanceof InputError &&
        /^DEST_ADMIN_USER: .*alice@contoso\.test's\. Set DAV_CALENDAR_HOME and DAV_ADDRESSBOOK_HOME/.test(
          error.message,
        ),
    );
  });

  it("a mailbox without a password is refused, naming the users file", async () => {
    const bare = { ...alice, passwordFile: undefined };
    await assert.rejects(
      davLoginOf(bare, usersFile(), { dav: DAV }),
      (error: unknown) =>
        error instanceof InputError &&
        error.message.startsWith(`${usersFile()}: alice@contoso.test has no password`),
    );
  });
});
