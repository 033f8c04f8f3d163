import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { before, describe, test } from "node:test";
import { loadConfig, type LoadOptions } from "../../../src/config/load.js";
import { SETTINGS } from "../../../src/config/settings.js";
import { InputError } from "../../../src/errors.js";
import { tempDir } from "../../helpers/env.js";

let dir = "";
/** A folder on PATH holding fake `imapsync`, `oauth2c` and `perl` programs. */
let bin = "";

before(async () => {
  dir = await tempDir("config-test-");
  bin = path.join(dir, "bin");
  await mkdir(bin);
  for (const program of ["imapsync", "oauth2c", "perl"]) {
    await writeFile(path.join(bin, program), "#!/bin/sh\n", { mode: 0o755 });
  }
  await writeFile(path.join(dir, "not-executable"), "#!/bin/sh\n", { mode: 0o644 });
  await writeFile(path.join(dir, "admin-password.txt"), "secret\n");
});

/** No .env, an environment of our own: nothing from the machine running the tests leaks in. */
function load(flags: Record<string, unknown>, opts: Partial<LoadOptions> = {}) {
  return loadConfig(flags, { env: {}, envFile: false, cwd: dir, require: [], ...opts });
}

function assertConfigError(fn: () => unknown, ...expected: RegExp[]): void {
  assert.throws(fn, (error) => {
    assert.ok(error instanceof InputError, String(error));
    assert.equal(error.exitCode, 2);
    for (const pattern of expected) assert.match(error.message, pattern);
    return true;
  });
}

describe("SETTINGS table", () => {
  test("each setting's key is what yargs makes of its flag, names are unique", () => {
    const camel = (flag: string) => flag.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
    for (const setting of SETTINGS) {
      assert.equal(setting.key, camel(setting.flag));
      assert.match(setting.flag, /^[a-z0-9]+(-[a-z0-9]+)*$/);
      assert.match(setting.env, /^[A-Z0-9]+(_[A-Z0-9]+)*$/);
      assert.ok(setting.description.length > 10);
    }
    for (const field of ["key", "env", "flag"] as const) {
      const names = SETTINGS.map((setting) => setting[field]);
      assert.equal(new Set(names).size, names.length, `duplicate ${field}`);
    }
  });

  test("every example value is accepted by its own setting", () => {
    const flags = Object.fromEntries(SETTINGS.map((s) => [s.key, s.example]));
    // The example file paths are illustrations, not files of this machine.
    delete flags.destAdminPasswordFile;
    delete flags.destAdminUser;
    delete flags.appSecretFile;
    delete flags.ca1File;
    delete flags.ca2File;
    assert.doesNotThrow(() => load(flags));
  });
});

describe("Graph settings", () => {
  test("CALENDAR_WINDOW reads years back and ahead; ATTACHMENT_MAX_SIZE is MiB; VCARD_VERSION 4.0", () => {
    const config = load(
      {},
      {
        env: {
          CALENDAR_WINDOW: "1y back, 10Y ahead",
          ATTACHMENT_MAX_SIZE: "3",
          VCARD_VERSION: "4.0",
          GRAPH_URL: "http://127.0.0.1:9/v1.0",
        },
      },
    );
    assert.deepEqual(config.graph, {
      url: "http://127.0.0.1:9/v1.0",
      calendarWindow: { backYears: 1, aheadYears: 10 },
      attachmentMaxBytes: 3_145_728,
      vcardVersion: "4.0",
    });
  });

  test("a window not written as years back and ahead is refused, saying the form", () => {
    assertConfigError(
      () => load({ calendarWindow: "5 years" }),
      /CALENDAR_WINDOW/,
      /"2y back, 5y ahead"/,
    );
    assertConfigError(() => load({ vcardVersion: "2.1" }), /VCARD_VERSION/, /3\.0, 4\.0/);
  });
});

describe("loadConfig", () => {
  test("defaults", () => {
    const config = load({});
    assert.deepEqual(config, {
      tenantId: undefined,
      appId: undefined,
      appSecret: undefined,
      loginHint: undefined,
      authorityUrl: undefined,
      source: { host: undefined, port: undefined, tls: undefined },
      destination: { host: "", port: undefined, tls: "ssl" },
      destAdminUser: undefined,
      destAdminPasswordFile: undefined,
      oauth2c: { file: "oauth2c", args: [] },
      imapsync: { file: "imapsync", args: [] },
      workDir: path.join(dir, "work"),
      callbackPort: 9876,
      callbackAddr: undefined,
      grant: "implicit",
      nonInteractive: false,
      tokenMarginMs: 15 * 60_000,
      concurrency: "auto",
      maxConcurrency: 16,
      sliceAboveBytes: "auto",
      maxSlices: 4,
      maxAttempts: 3,
      maxBackoffMs: 10 * 60_000,
      throttleGiveUpMs: 12 * 3_600_000,
      dryRun: false,
      passthrough: [],
      items: ["mail"],
      includeNonMailFolders: false,
      certificates: {
        source: { verify: true, caFile: undefined },
        destination: { verify: true, caFile: undefined },
      },
      stopGraceMs: 5000,
      graph: {
        url: "https://graph.microsoft.com/v1.0",
        calendarWindow: { backYears: 2, aheadYears: 5 },
        attachmentMaxBytes: 10 * 1024 * 1024,
        vcardVersion: "3.0",
      },
      stallTimeoutMs: 10 * 60_000,
    });
  });

  test("SLICE_ABOVE is in MB (auto by default), MAX_SLICES at most 16", () => {
    assert.equal(load({ sliceAbove: "250" }).sliceAboveBytes, 250_000_000);
    assert.equal(load({ maxSlices: "2" }).maxSlices, 2);
    assert.throws(() => load({ maxSlices: "17" }), /MAX_SLICES|max-slices/);
  });

  test("the authority defaults from the tenant; an explicit one wins", () => {
    assert.equal(
      load({ tenantId: "contoso.onmicrosoft.com" }).authorityUrl,
      "https://login.microsoftonline.com/contoso.onmicrosoft.com/v2.0",
    );
    assert.equal(
      load({ tenantId: "t", authorityUrl: "http://127.0.0.1:8080/t" }).authorityUrl,
      "http://127.0.0.1:8080/t",
    );
  });

  test("every setting reaches the Config, typed", () => {
    const config = load(
      {
        tenantId: " tid ",
        appId: "app",
        appSecret: " s3cret with spaces ",
        loginHint: "admin@contoso.com",
        host1: "127.0.0.1",
        port1: "1143",
        tls1: "None",
        host2: "imap.example.org",
        port2: 143,
        tls2: "STARTTLS",
        destAdminUser: "admin",
        destAdminPasswordFile: "admin-password.txt",
        workDir: "../elsewhere",
        callbackPort: "8080",
        tokenMargin: "90s",
        concurrency: "64",
        maxAttempts: 1,
        maxBackoff: "1h",
        includeNonMailFolders: "yes",
        dryRun: true,
        "--": ["--maxage", 30],
      },
      { require: ["token", "destination"] },
    );
    assert.equal(config.tenantId, "tid");
    assert.equal(config.appSecret, " s3cret with spaces ", "a secret is kept exact");
    assert.deepEqual(config.source, { host: "127.0.0.1", port: 1143, tls: "none" });
    assert.deepEqual(config.destination, { host: "imap.example.org", port: 143, tls: "starttls" });
    assert.equal(config.destAdminPasswordFile, path.join(dir, "admin-password.txt"));
    assert.equal(config.workDir, path.resolve(dir, "../elsewhere"));
    assert.equal(config.callbackPort, 8080);
    assert.equal(config.tokenMarginMs, 90_000);
    assert.equal(config.concurrency, 64);
    assert.equal(config.maxAttempts, 1);
    assert.equal(config.maxBackoffMs, 3_600_000);
    assert.equal(config.includeNonMailFolders, true);
    assert.equal(config.dryRun, true);
    assert.deepEqual(config.passthrough, ["--maxage", "30"]);
  });

  test("durations: minutes by default, or with a unit", () => {
    for (const [given, ms] of [
      ["2", 120_000],
      [2, 120_000],
      ["1.5", 90_000],
      ["90s", 90_000],
      ["10m", 600_000],
      ["10 M", 600_000],
      ["0", 0],
    ] as const) {
      assert.equal(load({ maxBackoff: given }).maxBackoffMs, ms, String(given));
    }
    // THROTTLE_GIVE_UP: hours by default (a night), 0 for never.
    assert.equal(load({}).throttleGiveUpMs, 12 * 3_600_000);
    assert.equal(load({ throttleGiveUp: "36h" }).throttleGiveUpMs, 36 * 3_600_000);
    assert.equal(load({ "throttle-give-up": "0" }).throttleGiveUpMs, 0);
  });

  test("passthrough given ready is copied", () => {
    assert.deepEqual(load({ passthrough: ["--justfolders"] }).passthrough, ["--justfolders"]);
  });

  test("kebab-case flag keys are read too", () => {
    assert.equal(load({ host2: "h", "max-attempts": 5 }).maxAttempts, 5);
  });

  describe("precedence: flag > environment > .env", () => {
    let envFile = "";
    before(async () => {
      envFile = path.join(dir, "settings.env");
      await writeFile(envFile, "HOST2=from-dotenv\nPORT2=1993\nTLS2=starttls\nCONCURRENCY=\n");
      await writeFile(path.join(dir, ".env"), "HOST2=from-cwd-dotenv\n");
    });

    test("each layer wins over the next", () => {
      const opts = { envFile, env: { HOST2: "from-env", PORT2: "2993" } };
      const config = load({ host2: "from-flag" }, opts);
      assert.equal(config.destination.host, "from-flag");
      assert.equal(config.destination.port, 2993);
      assert.equal(config.destination.tls, "starttls");
      assert.equal(load({}, opts).destination.host, "from-env");
    });

    test("an empty value counts as not set", () => {
      const config = load({ host2: "" }, { envFile, env: { HOST2: "", CONCURRENCY: "" } });
      assert.equal(config.destination.host, "from-dotenv");
      assert.equal(config.concurrency, "auto");
    });

    test("<cwd>/.env is read by default, and never copied into process.env", () => {
      const before = process.env.HOST2;
      const config = loadConfig({}, { env: {}, cwd: dir, require: ["destination"] });
      assert.equal(config.destination.host, "from-cwd-dotenv");
      assert.equal(process.env.HOST2, before);
    });

    test("a missing <cwd>/.env is fine, a missing explicit one is not", () => {
      const empty = path.join(dir, "bin");
      assert.equal(loadConfig({}, { env: {}, cwd: empty, require: [] }).destination.host, "");
      assertConfigError(() => load({}, { envFile: "nope.env" }), /nope\.env/, /cannot be read/);
    });

    test("an invalid value says where it came from", () => {
      assertConfigError(
        () => load({}, { env: { PORT2: "imap" } }),
        /PORT2 \(flag --port2\) must be a whole number from 1 to 65535, not "imap" \(in the environment\)/,
        /put PORT2=993 in \.env or pass --port2 993/,
      );
      assertConfigError(
        () => load({}, { envFile, env: { TLS2: "", PORT2: "99999" } }),
        /PORT2.*not "99999" \(in the environment\)/,
      );
      assertConfigError(
        () => load({ port2: Number.NaN }),
        /PORT2.*not NaN \(on the command line\)/,
      );
    });
  });

  test("all missing settings are reported together, one per line", () => {
    assertConfigError(
      () => load({}, { require: ["token", "destination"] }),
      /4 settings are missing or invalid/,
      /\n {2}- TENANT_ID \(flag --tenant-id\) is not set.*\(or AUTHORITY_URL\)/,
      /\n {2}- APP_ID \(flag --app-id\) is not set/,
      /\n {2}- LOGIN_HINT \(flag --login-hint\) is not set/,
      /\n {2}- HOST2 \(flag --host2\) is not set.*put HOST2=imap\.example\.org in \.env or pass --host2 imap\.example\.org/,
    );
  });

  test("missing and invalid settings are collected in one message", () => {
    assertConfigError(
      () =>
        load(
          { concurrency: 65, maxAttempts: 0, tls2: "tls", port1: "0" },
          { require: ["destination"] },
        ),
      /5 settings/,
      /CONCURRENCY \(flag --concurrency\) must be a whole number from 1 to 64, not 65/,
      /MAX_ATTEMPTS \(flag --max-attempts\) must be a whole number of at least 1, not 0/,
      /TLS2 \(flag --tls2\) must be one of ssl, starttls, none, not "tls"/,
      /PORT1 .* not "0"/,
      /HOST2 .* is not set/,
    );
  });

  test("invalid values of each kind", () => {
    for (const [flags, pattern] of [
      [{ tokenMargin: "-1" }, /TOKEN_MARGIN .* a number of minutes, or a duration/],
      [{ maxBackoff: "10x" }, /MAX_BACKOFF .* not "10x"/],
      [
        { throttleGiveUp: "forever" },
        /THROTTLE_GIVE_UP \(flag --throttle-give-up\) must be a number of minutes, or a duration .* not "forever"/,
      ],
      [{ includeNonMailFolders: "maybe" }, /INCLUDE_NON_MAIL_FOLDERS .* true or false/],
      [{ loginHint: "admin" }, /LOGIN_HINT .* an email address/],
      [{ authorityUrl: "ftp://x" }, /AUTHORITY_URL .* an http\(s\) URL/],
      [{ host2: "imap example" }, /HOST2 .* a value without spaces/],
      [{ callbackPort: "65536" }, /CALLBACK_PORT .* from 1 to 65535/],
      [{ host2: ["a", "b"] }, /HOST2 .* given more than once/],
      [{ workDir: "   " }, /WORK_DIR .* a non-empty value/],
    ] as const) {
      assertConfigError(() => load(flags), pattern);
    }
  });

  test("a token needs the tenant or the authority, the app and the admin", () => {
    const token = { appId: "a", loginHint: "admin@contoso.com" };
    assert.doesNotThrow(() => load({ ...token, tenantId: "t" }, { require: ["token"] }));
    assert.doesNotThrow(() =>
      load({ ...token, authorityUrl: "https://x/t" }, { require: ["token"] }),
    );
    assertConfigError(() => load(token, { require: ["token"] }), /^Configuration: TENANT_ID/);
  });

  test("ITEMS: some of mail, calendar, contacts, in any order and case, kept in the table's order", () => {
    assert.deepEqual(load({ items: "contacts, Calendar" }).items, ["calendar", "contacts"]);
    assert.deepEqual(load({}, { env: { ITEMS: "calendar,mail,calendar" } }).items, [
      "mail",
      "calendar",
    ]);
    assertConfigError(
      () => load({ items: "mail,tasks" }),
      /^Configuration: ITEMS \(flag --items\) must be some of mail, calendar, contacts, separated by commas, not "mail,tasks"/,
    );
    assertConfigError(() => load({ items: "mail,," }), /ITEMS \(flag --items\) must be/);
  });

  test("without mail, neither HOST2 nor imapsync is required; with it, both are", () => {
    const token = { tenantId: "t", appId: "a", loginHint: "admin@contoso.com" };
    const needs: LoadOptions["require"] = ["token", "destination", "imapsync"];
    const env = { PATH: path.join(dir, "empty") };
    const config = load({ ...token, items: "calendar,contacts" }, { require: needs, env });
    assert.deepEqual(config.items, ["calendar", "contacts"]);
    assertConfigError(
      () => load({ ...token, items: "mail,calendar" }, { require: needs, env }),
      /HOST2 \(flag --host2\) is not set/,
      /IMAPSYNC_BIN \(flag --imapsync-bin\): "imapsync" was not found on PATH/,
    );
    // The token is still needed: Graph's token comes from the same app registration.
    assertConfigError(() => load({ items: "calendar" }, { require: needs }), /TENANT_ID/, /APP_ID/);
  });

  test("HOST2 is optional when the command does not require it (every mailbox names its host)", () => {
    assert.equal(load({}, { require: [] }).destination.host, "");
  });

  describe("programs", () => {
    test("a program with an interpreter and quoted arguments", () => {
      const config = load(
        {
          imapsyncBin: "perl '/opt/my tools/imapsync' --x",
          oauth2cBin: "node dist/test/doubles/oauth2c.js",
        },
        { env: { PATH: bin } },
      );
      assert.deepEqual(config.imapsync, { file: "perl", args: ["/opt/my tools/imapsync", "--x"] });
      assert.deepEqual(config.oauth2c, { file: "node", args: ["dist/test/doubles/oauth2c.js"] });
    });

    test("a required program is located on PATH", () => {
      const config = load(
        { imapsyncBin: "perl /opt/imapsync/imapsync" },
        { env: { PATH: `/nonexistent${path.delimiter}${bin}` }, require: ["imapsync", "oauth2c"] },
      );
      assert.deepEqual(config.imapsync, {
        file: path.join(bin, "perl"),
        args: ["/opt/imapsync/imapsync"],
      });
      assert.equal(config.oauth2c.file, path.join(bin, "oauth2c"));
    });

    test("not on PATH: both programs named, with what to do", () => {
      assertConfigError(
        () => load({}, { env: { PATH: dir }, require: ["imapsync", "oauth2c"] }),
        /OAUTH2C_BIN \(flag --oauth2c-bin\): "oauth2c" was not found on PATH; install it \(README, "Without Docker"\), or put OAUTH2C_BIN=/,
        /IMAPSYNC_BIN \(flag --imapsync-bin\): "imapsync" was not found on PATH; install it \(README, "Without Docker"\), or put IMAPSYNC_BIN=/,
      );
    });

    test("a program that is not required is not looked for", () => {
      assert.equal(load({}, { env: { PATH: dir } }).imapsync.file, "imapsync");
    });

    test("a path is resolved and must be executable", () => {
      assert.equal(
        load({ imapsyncBin: "./bin/imapsync" }, { require: ["imapsync"] }).imapsync.file,
        path.join(bin, "imapsync"),
      );
      assertConfigError(
        () => load({ imapsyncBin: "./not-executable" }, { require: ["imapsync"] }),
        /IMAPSYNC_BIN .*not-executable, which is not executable/,
      );
      assertConfigError(
        () => load({ imapsyncBin: "/no/such/imapsync" }, { require: ["imapsync"] }),
        /\/no\/such\/imapsync, which does not exist/,
      );
    });

    test("an unclosed quote or an empty command", () => {
      assertConfigError(() => load({ oauth2cBin: "'oauth2c" }), /OAUTH2C_BIN .* single quote/);
      assertConfigError(() => load({ oauth2cBin: "''" }), /OAUTH2C_BIN .* names no program/);
    });
  });

  describe("DAV destination", () => {
    test("none without DAV_URL; the server and its fixed homes with it", () => {
      assert.equal(load({}).dav, undefined);
      assert.deepEqual(
        load({
          davUrl: "https://mail.example.org/",
          davCalendarHome: "https://mail.example.org/dav/{user}/",
        }).dav,
        {
          url: "https://mail.example.org/",
          calendarHome: "https://mail.example.org/dav/{user}/",
        },
      );
    });

    test("a home without the server is refused", () => {
      assertConfigError(
        () => load({ davAddressbookHome: "https://mail.example.org/dav/{user}/" }),
        /DAV_URL \(flag --dav-url\) is not set but DAV_ADDRESSBOOK_HOME is set/,
      );
      assertConfigError(() => load({ davUrl: "mail.example.org" }), /DAV_URL .*http\(s\) URL/);
    });
  });

  describe("destination admin", () => {
    test("user and password file go together", () => {
      assertConfigError(
        () => load({ destAdminUser: "admin" }),
        /DEST_ADMIN_PASSWORD_FILE \(flag --dest-admin-password-file\) is not set but DEST_ADMIN_USER is set/,
      );
      assertConfigError(
        () => load({ destAdminPasswordFile: "admin-password.txt" }),
        /DEST_ADMIN_USER \(flag --dest-admin-user\) is not set but DEST_ADMIN_PASSWORD_FILE is set/,
      );
    });

    test("the password file must be readable", () => {
      assertConfigError(
        () => load({ destAdminUser: "admin", destAdminPasswordFile: "missing.txt" }),
        /DEST_ADMIN_PASSWORD_FILE .* names .*missing\.txt, which does not exist/,
      );
      assertConfigError(
        () => load({ destAdminUser: "admin", destAdminPasswordFile: "bin" }),
        /names .*bin, which is not a file/,
      );
    });
  });
});

describe("GRANT", () => {
  test("client-credentials needs APP_SECRET (never from a flag) instead of LOGIN_HINT, and no oauth2c", () => {
    const base = { tenantId: "contoso.com", appId: "app", grant: "client-credentials" };
    assert.throws(
      () => load(base, { require: ["token", "oauth2c"], env: { PATH: "" } }),
      (e: unknown) =>
        e instanceof InputError &&
        /APP_SECRET/.test(e.message) &&
        !/LOGIN_HINT|OAUTH2C_BIN/.test(e.message),
    );
    const config = load(base, {
      require: ["token", "oauth2c"],
      env: { APP_SECRET: "s3cr3t", PATH: "" },
    });
    assert.equal(config.grant, "client-credentials");
    assert.equal(config.appSecret, "s3cr3t");
    assert.throws(
      () => load({ grant: "password" }),
      /GRANT .*must be one of implicit, auth-code, device-code, client-credentials/,
    );
  });

  test("APP_SECRET_FILE: its first line is the secret, kept exact; unreadable or doubled, an error naming it", async () => {
    const base = { tenantId: "contoso.com", appId: "app", grant: "client-credentials" };
    await writeFile(path.join(dir, "app-secret.txt"), " s3cr3t~ \r\nsecond line\n", {
      mode: 0o600,
    });
    const config = load(base, {
      require: ["token"],
      env: { APP_SECRET_FILE: "app-secret.txt", PATH: "" },
    });
    assert.equal(config.appSecret, " s3cr3t~ ", "relative to the working folder, CR LF cut");
    assertConfigError(
      () => load(base, { require: ["token"], env: { APP_SECRET_FILE: "missing.txt" } }),
      /APP_SECRET_FILE/,
      /missing\.txt does not exist/,
    );
    assertConfigError(
      () =>
        load(base, {
          require: ["token"],
          env: { APP_SECRET_FILE: "app-secret.txt", APP_SECRET: "other" },
        }),
      /APP_SECRET_FILE .* and APP_SECRET .* are both set/,
    );
    assertConfigError(
      () => load(base, { require: ["token"] }),
      /GRANT=client-credentials needs it \(or APP_SECRET_FILE\)/,
    );
  });
});
