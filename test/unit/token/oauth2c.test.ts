import assert from "node:assert/strict";
import { connect } from "node:net";
import { TENANT } from "../../helpers/constants.js";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { describe, it } from "node:test";
import { TokenError } from "../../../src/errors.js";
import {
  findSignInUrl,
  interpretOauth2cRun,
  Oauth2cStderrScanner,
  parseOauth2cStdout,
  parseOauth2cVersion,
} from "../../../src/token/oauth2c/output.js";
import { implicitArgs } from "../../../src/token/oauth2c/args.js";
import { oauth2cVersion, runOauth2c } from "../../../src/token/oauth2c/run.js";
import { completeSignIn, mintAccessToken, tokenForm } from "../../doubles/entra.js";
import { fakeBrowserPath, FIXTURES, tempDir, waitFor } from "../../helpers/env.js";
import { freePort } from "../../../scripts/standin/ports.js";
import { OAUTH2C_DOUBLE, occupy, runDouble, startDouble } from "../../helpers/oauth2c-double.js";

const DIR = path.join(FIXTURES, "oauth2c");
const fixture = (name: string, ext: string) => readFile(path.join(DIR, `${name}.${ext}`), "utf8");

const OPENER =
  'exec: "xdg-open,x-www-browser,www-browser,wslview": executable file not found in $PATH';
const JOSE = "go-jose/go-jose: compact JWS format must have three parts";
const GRANTS =
  "GrantType must be one of [authorization_code client_credentials implicit password refresh_token urn:ietf:params:oauth:grant-type:jwt-bearer urn:ietf:params:oauth:grant-type:token-exchange urn:ietf:params:oauth:grant-type:device_code]";
const UNREACHABLE =
  'Get "http://127.0.0.1:12099/.well-known/openid-configuration": dial tcp 127.0.0.1:12099: connect: connection refused';

interface Expected {
  /** Every ERROR message, in order. */
  errors: string[];
  /** Keys of the token JSON (space-separated) and values INDEX.md states. */
  token?: { keys: string; expires_in: number; access_token?: string };
  /** What the explanation for a person must say (failures only). */
  advice?: RegExp;
}

const ok = (keys: string, expires_in: number, access_token?: string) => ({
  keys,
  expires_in,
  access_token,
});
const IMPLICIT = "access_token expires_in scope token_type";
const WITH_ID = "access_token expires_in id_token scope token_type";
const DEVICE = "access_token expires_in id_token refresh_token scope token_type";
const NOTHING: Expected = { errors: [] };
const DENIED: Expected = { errors: ["access_denied"], advice: /declined/ };
const TIMEOUT: Expected = { errors: ["timeout"], advice: /Nobody completed the sign-in/ };
const BAD_SECRET: Expected = { errors: ["401: invalid_client"], advice: /APP_ID/ };
const INTERRUPTED: Expected = { errors: ["Interrupted"], advice: /interrupted/ };

/** One row per run of fixtures/oauth2c/INDEX.md (expected values from INDEX and the reference). */
const EXPECTED: Record<string, Expected> = {
  authcode_pkce_formpost_silent: { errors: [], token: ok(WITH_ID, 3600) },
  badgrant_validation: { errors: [GRANTS], advice: /v1\.17\.2 or newer/ },
  callback_curl_error: DENIED,
  callback_curl_post: { errors: [], token: ok(IMPLICIT, 3599, "eyJfake.eyJfake.sig") },
  callback_get_query: { errors: [], advice: /without an access token/ },
  callback_wrong_path: TIMEOUT,
  cc_badsecret_normal: BAD_SECRET,
  cc_badsecret_silent: BAD_SECRET,
  cc_badsecret_silent_colors: BAD_SECRET,
  cc_normal: { errors: [], token: ok(IMPLICIT, 600) },
  cc_normal_colors: { errors: [], token: ok(IMPLICIT, 600) },
  cc_opaque_token_normal: { errors: [JOSE], token: ok("access_token expires_in token_type", 600) },
  cc_silent: { errors: [], token: ok(IMPLICIT, 600) },
  cli_bad_duration: NOTHING,
  cli_no_args: NOTHING,
  cli_unknown_flag: { errors: [], advice: /--bogus-flag.*v1\.19\.0 or newer/ },
  device_oidcprovider_silent: { errors: [], token: ok(DEVICE, 3600) },
  discovery_404_silent: {
    errors: [
      "failed to parse error response (Not Found): invalid character 'N' looking for beginning of value",
    ],
    advice: /TENANT_ID \(or AUTHORITY_URL\)/,
  },
  discovery_unreachable_normal: { errors: [UNREACHABLE], advice: /TENANT_ID/ },
  discovery_unreachable_silent: { errors: [UNREACHABLE], advice: /TENANT_ID/ },
  entra_cc_badsecret_normal: BAD_SECRET,
  entra_cc_silent: { errors: [], token: ok("access_token expires_in token_type", 3599) },
  entra_cc_v1strings_silent: { errors: [], token: ok("access_token expires_in token_type", 3599) },
  entra_device_noauthmethod_silent: { errors: [OPENER, "400: invalid_request"], advice: /APP_ID/ },
  entra_device_nobrowserflag_silent: { errors: [], token: ok(DEVICE, 4823) },
  entra_device_noorigin_normal: { errors: [], token: ok(DEVICE, 4823) },
  entra_device_normal: { errors: [OPENER], token: ok(DEVICE, 4823) },
  entra_documented_nobrowser_normal: { errors: [OPENER], token: ok(IMPLICIT, 3599) },
  entra_documented_nobrowserflag_silent: { errors: [], token: ok(IMPLICIT, 3599) },
  entra_documented_normal: { errors: [], token: ok(IMPLICIT, 3599) },
  entra_documented_silent: { errors: [], token: ok(IMPLICIT, 3599) },
  entra_implicit_not_enabled_normal: {
    errors: ["unsupported_response_type"],
    advice: /"Access tokens \(used for implicit flows\)"/,
  },
  entra_implicit_not_enabled_silent: {
    errors: ["unsupported_response_type"],
    advice: /"Access tokens \(used for implicit flows\)"/,
  },
  entra_refresh_normal: {
    errors: [],
    token: ok("access_token expires_in refresh_token scope token_type", 3599),
  },
  entra_refresh_silent: {
    errors: [],
    token: ok("access_token expires_in refresh_token scope token_type", 3599),
  },
  help: NOTHING,
  http_timeout_silent: {
    errors: [
      'Get "http://127.0.0.1:12002/.well-known/openid-configuration": context deadline exceeded (Client.Timeout exceeded while awaiting headers)',
    ],
    advice: /network/,
  },
  implicit_callback_addr_silent: { errors: [], token: ok(IMPLICIT, 3599, "AT.from.curl") },
  implicit_denied_normal: DENIED,
  implicit_denied_silent: DENIED,
  implicit_formpost_normal: { errors: [], token: ok(WITH_ID, 3600) },
  implicit_formpost_silent: { errors: [], token: ok(WITH_ID, 3600) },
  implicit_fragment_validation: {
    errors: ["ResponseMode must be one of [query form_post query.jwt form_post.jwt jwt]"],
  },
  implicit_no_response_mode_noprompt: { errors: [], advice: /form_post/ },
  implicit_nobrowser_silent: { errors: [OPENER, "timeout"], advice: /Nobody completed/ },
  implicit_nobrowserflag_silent: { errors: [], token: ok(WITH_ID, 3600) },
  implicit_opaque_token_normal: { errors: [JOSE], token: ok(IMPLICIT, 3600, "EwBwA8l6BAAUopaque") },
  implicit_port_in_use_silent: {
    errors: ["listen tcp 127.0.0.1:9876: bind: address already in use"],
    advice: /Port 9876 .*already in use.*another sign-in or program/,
  },
  implicit_querymode_normal: { errors: ["invalid_request"], advice: /redirect URI/ },
  implicit_sigterm_silent: INTERRUPTED,
  implicit_timeout_normal: TIMEOUT,
  implicit_timeout_silent: TIMEOUT,
  prompt_missing_clientid: NOTHING,
  prompt_missing_clientid_noprompt: { errors: ["400: invalid_request"] },
  prompt_missing_responsemode: INTERRUPTED,
  refresh_oidcprovider_reused_silent: { errors: ["400: invalid_grant"] },
  refresh_oidcprovider_silent: { errors: [], token: ok(DEVICE, 3600) },
  version: NOTHING,
  "v1.17.2/cc_badsecret_normal": BAD_SECRET,
  "v1.17.2/cc_badsecret_normal_nocolor": BAD_SECRET,
  "v1.17.2/device_oidcprovider_origin_rejected_silent": { errors: ["400: invalid_request"] },
  "v1.17.2/entra_device_normal": { errors: [], token: ok(DEVICE, 4823) },
  "v1.17.2/entra_device_silent": { errors: [], token: ok(DEVICE, 4823) },
  "v1.17.2/implicit_sigterm_silent": INTERRUPTED,
  "v1.17.2/implicit_timeout_silent": TIMEOUT,
};

async function runNames(): Promise<string[]> {
  const names: string[] = [];
  for (const sub of ["", "v1.17.2/"]) {
    for (const file of await readdir(path.join(DIR, sub))) {
      if (file.endsWith(".stdout")) names.push(sub + file.slice(0, -".stdout".length));
    }
  }
  return names.sort();
}

function unknownFlagIn(stderr: string): string | undefined {
  const scanner = new Oauth2cStderrScanner();
  scanner.push(stderr);
  scanner.end();
  return scanner.unknownFlag;
}

describe("parseOauth2cStdout and interpretOauth2cRun on every real run", async () => {
  const names = await runNames();

  it("has an expectation for every fixture and a fixture for every expectation", () => {
    assert.deepEqual(names, Object.keys(EXPECTED).sort());
  });

  for (const name of names) {
    it(name, async () => {
      const expected = EXPECTED[name]!;
      const [stdout, stderr, rc] = await Promise.all(
        ["stdout", "stderr", "rc"].map((ext) => fixture(name, ext)),
      );
      const { token, errors } = parseOauth2cStdout(stdout!);
      assert.deepEqual(errors, expected.errors);
      if (expected.token) {
        assert.ok(token, "a token");
        assert.equal(Object.keys(token).sort().join(" "), expected.token.keys);
        assert.equal(token.expires_in, expected.token.expires_in);
        assert.equal(token.token_type, "Bearer");
        if (expected.token.access_token)
          assert.equal(token.access_token, expected.token.access_token);
      } else assert.equal(token, undefined);

      const run = { exitCode: Number(rc), stdout: stdout!, unknownFlag: unknownFlagIn(stderr!) };
      if (expected.token) {
        assert.equal(interpretOauth2cRun(run).access_token, token!.access_token);
        return;
      }
      assert.throws(
        () => interpretOauth2cRun(run, { callbackPort: 9876, timeoutSec: 60 }),
        (error: unknown) => {
          assert.ok(error instanceof TokenError);
          assert.equal(error.exitCode, 3);
          if (expected.advice) assert.match(error.message, expected.advice);
          const reason = expected.errors.at(-1);
          if (reason) assert.ok(error.message.includes(`(oauth2c: ${reason})`), error.message);
          return true;
        },
      );
    });
  }
});

describe("findSignInUrl", async () => {
  const withMarker: string[] = [];
  for (const name of await runNames())
    if ((await fixture(name, "stderr")).includes("Go to the following URL:")) withMarker.push(name);

  it("is tried on every normal-mode run that shows a URL", () => {
    assert.ok(withMarker.length >= 12, withMarker.join(" "));
  });

  for (const name of withMarker) {
    it(name, async () => {
      const stderr = await fixture(name, "stderr");
      const url = findSignInUrl(stderr);
      if (name === "v1.17.2/entra_device_normal") {
        assert.equal(url, undefined, "v1.17.x shows an empty URL for Entra's device flow");
        return;
      }
      assert.ok(url);
      if (name.includes("device")) assert.equal(url, "https://microsoft.com/devicelogin");
      else {
        const q = new URL(url).searchParams;
        assert.equal(q.get("redirect_uri"), "http://localhost:9876/callback");
        assert.ok(q.get("state") && q.get("client_id"));
      }
      // Where the scripted opener echoed the URL it was given, both must agree.
      const opened = /^fake-xdg-open: (.+)$/m.exec(stderr)?.[1];
      if (opened) assert.equal(url, opened);
    });
  }

  it("finds the same URL when stderr arrives in tiny chunks, cut inside characters", async () => {
    const bytes = Buffer.from(await fixture("entra_documented_normal", "stderr"));
    const scanner = new Oauth2cStderrScanner();
    for (let i = 0, size = 1; i < bytes.length; i += size, size = (size % 7) + 1)
      scanner.push(bytes.subarray(i, i + size));
    scanner.end();
    assert.equal(scanner.url, findSignInUrl(bytes.toString("utf8")));
    assert.match(scanner.url ?? "", /^http:\/\/127\.0\.0\.1:12001\/.*\/oauth2\/v2\.0\/authorize\?/);
  });

  it("sees no URL in silent mode, where only the opener's own line names it", async () => {
    const stderr = await fixture("entra_documented_silent", "stderr");
    assert.match(stderr, /^fake-xdg-open: http/);
    assert.equal(findSignInUrl(stderr), undefined);
  });
});

describe("implicitArgs", () => {
  const base = {
    authorityUrl: "https://login.microsoftonline.com/t/v2.0",
    appId: "app",
    loginHint: "admin@contoso.com",
    callbackPort: 9876,
    browserTimeoutSec: 90,
  };

  it("always disables prompts and asks for a form_post token, without secret nor silence", () => {
    const args = implicitArgs({ ...base, openBrowser: false });
    assert.equal(args[0], base.authorityUrl);
    const flag = (name: string) => args[args.indexOf(name) + 1];
    assert.ok(args.includes("--no-prompt"));
    assert.ok(args.includes("--no-browser"));
    assert.equal(flag("--grant-type"), "implicit");
    assert.equal(flag("--response-mode"), "form_post");
    assert.equal(flag("--response-types"), "token");
    assert.equal(flag("--redirect-url"), "http://localhost:9876/callback");
    assert.equal(flag("--browser-timeout"), "90s");
    assert.equal(flag("--scopes"), "https://outlook.office365.com/.default");
    for (const absent of ["--silent", "-s", "--client-secret", "--auth-method"])
      assert.ok(!args.includes(absent), absent);
  });

  it("lets oauth2c open a browser only when asked", () => {
    assert.ok(!implicitArgs({ ...base, openBrowser: true }).includes("--no-browser"));
  });

  it("moves the callback listener with CALLBACK_ADDR but keeps the redirect URI on localhost", () => {
    const args = implicitArgs({ ...base, openBrowser: false, callbackAddr: "0.0.0.0:9876" });
    assert.equal(args[args.indexOf("--callback-addr") + 1], "0.0.0.0:9876");
    assert.equal(args[args.indexOf("--redirect-url") + 1], "http://localhost:9876/callback");
    assert.ok(!implicitArgs({ ...base, openBrowser: false }).includes("--callback-addr"));
  });
});

describe("parseOauth2cVersion", () => {
  it("reads the version line oauth2c prints on stderr", async () => {
    assert.deepEqual(parseOauth2cVersion(await fixture("version", "stderr")), {
      version: "v1.19.0-4-g9db96f9",
      commit: "9db96f9fe7757d8f20b2976b03bac672aac669c5",
      builtAt: "2026-02-04",
    });
    assert.equal(parseOauth2cVersion(await fixture("version", "stdout")), undefined);
  });
});

describe("oauth2c's environment", () => {
  it("never carries APP_SECRET or a destination password, even when ours does", async () => {
    const before = { ...process.env };
    Object.assign(process.env, { APP_SECRET: "s3cret-app", IMAPSYNC_PASSWORD2: "dest-pw" });
    try {
      // A stand-in oauth2c that answers `version` only when it received neither.
      const probe = `const leak = process.env.APP_SECRET || process.env.IMAPSYNC_PASSWORD2;
        process.stderr.write(leak ? "leaked " + leak : "oauth2c version v1.19.0 (commit abc, built at 2026-01-21)\\n");`;
      const v = await oauth2cVersion({ file: process.execPath, args: ["-e", probe] });
      assert.equal(v.version, "v1.19.0");
    } finally {
      for (const name of ["APP_SECRET", "IMAPSYNC_PASSWORD2"]) {
        if (before[name] === undefined) delete process.env[name];
        else process.env[name] = before[name];
      }
    }
  });
});

describe("oauth2cVersion", () => {
  it("asks the program and reads its stderr", async () => {
    assert.equal((await oauth2cVersion(OAUTH2C_DOUBLE)).version, "v1.19.0-4-g9db96f9");
  });

  it("says what to do when the program is not oauth2c", async () => {
    const notOauth2c = { file: process.execPath, args: ["-e", "process.exit(0)"] };
    await assert.rejects(oauth2cVersion(notOauth2c), (error: unknown) => {
      return error instanceof TokenError && /OAUTH2C_BIN/.test(error.message);
    });
  });
});

describe("runOauth2c process control", () => {
  const waitingArgs = (port: number) =>
    implicitArgs({
      authorityUrl: "https://login.microsoftonline.com/t/v2.0",
      appId: "app",
      loginHint: "admin@contoso.com",
      callbackPort: port,
      browserTimeoutSec: 30,
      openBrowser: false,
    });

  it("cancels on the caller's signal once the URL is shown", async () => {
    const controller = new AbortController();
    let shown = "";
    await assert.rejects(
      runOauth2c(OAUTH2C_DOUBLE, waitingArgs(await freePort()), {
        timeoutMs: 20_000,
        signal: controller.signal,
        onSignInUrl: (url) => {
          shown = url;
          controller.abort();
        },
      }),
      /The sign-in was cancelled/,
    );
    assert.match(shown, /^https:\/\/login\.microsoftonline\.com\/t\/oauth2\/v2\.0\/authorize\?/);
  });

  it("stops oauth2c with its own timer when oauth2c overstays", async () => {
    const started = Date.now();
    await assert.rejects(
      runOauth2c(OAUTH2C_DOUBLE, waitingArgs(await freePort()), { timeoutMs: 1500 }),
      /did not finish within 2 seconds/,
    );
    assert.ok(Date.now() - started < 10_000);
  });
});

// ------------------------------------------------------------------ the double vs the fixtures

const ENTRA = `https://login.microsoftonline.com/${TENANT}/v2.0`;
/** The DOC argument set of INDEX.md, against the emulated Entra, on a test port. */
function docArgs(port: number, extra: string[] = []): string[] {
  return [
    ENTRA,
    ...["--client-id", "app-ok", "--client-secret", "good-secret"],
    ...["--scopes", "https://outlook.office365.com/.default", "--login-hint", "user@example.com"],
    ...["--grant-type", "implicit", "--auth-method", "client_secret_basic"],
    ...["--response-mode", "form_post", "--response-types", "token", "--browser-timeout", "20s"],
    ...["--redirect-url", `http://localhost:${port}/callback`],
    ...extra,
  ];
}

/** What the wrapper reads from a run, with the test's port put back to oauth2c's default. */
function wrapperView(stdout: string, stderr: string, exitCode?: number, port?: number) {
  const normal = (s: string) => (port ? s.split(`:${port}`).join(":9876") : s);
  const { token, errors } = parseOauth2cStdout(stdout);
  const url = findSignInUrl(stderr);
  const query = url ? new URL(url).searchParams : undefined;
  return {
    exitCode,
    errors: errors.map(normal),
    token: token && {
      keys: Object.keys(token).sort(),
      expires_in: token.expires_in,
      scope: token.scope,
      token_type: token.token_type,
    },
    url: query && {
      keys: [...query.keys()].sort(),
      redirect_uri: normal(query.get("redirect_uri") ?? ""),
      response_mode: query.get("response_mode"),
    },
    unknownFlag: unknownFlagIn(stderr),
  };
}

async function fixtureView(name: string) {
  const [stdout, stderr, rc] = await Promise.all(
    ["stdout", "stderr", "rc"].map((ext) => fixture(name, ext)),
  );
  return wrapperView(stdout!, stderr!, Number(rc), 9876);
}

async function noOpenerPath(): Promise<string> {
  return tempDir("no-opener-");
}

describe("the oauth2c double reads like the real runs", () => {
  it("entra_documented_normal: opener signs in, one JSON line", async () => {
    const port = await freePort();
    const run = await runDouble(docArgs(port), {
      env: { PATH: await fakeBrowserPath(await tempDir()), FAKE_TOKEN_TTL: "3599" },
    });
    const view = wrapperView(run.stdout, run.stderr, run.exitCode, port);
    assert.deepEqual(view, await fixtureView("entra_documented_normal"));
    assert.ok(run.stderr.includes("| Client secret  | good-secret"), "the secret in clear");
  });

  it("entra_documented_nobrowser_normal: opener missing, sign-in completed from outside", async () => {
    const port = await freePort();
    const ttl = 3599;
    const token = mintAccessToken({ tid: TENANT, appId: "app-ok", ttlSec: ttl, upn: "u@x" });
    const run = await runDouble(docArgs(port), {
      env: { PATH: await noOpenerPath() },
      onUrl: (url) => {
        const q = new URL(url).searchParams;
        void completeSignIn(q.get("redirect_uri")!, tokenForm(token, ttl, q.get("state")!));
      },
    });
    assert.deepEqual(
      wrapperView(run.stdout, run.stderr, run.exitCode, port),
      await fixtureView("entra_documented_nobrowser_normal"),
    );
    assert.equal(parseOauth2cStdout(run.stdout).token?.access_token, token);
  });

  for (const [name, mode] of [
    ["implicit_denied_normal", "deny"],
    ["entra_implicit_not_enabled_normal", "not_enabled"],
  ] as const) {
    it(`${name}: the callback carries an error`, async () => {
      const port = await freePort();
      const run = await runDouble(docArgs(port), {
        env: { PATH: await fakeBrowserPath(await tempDir()), FAKE_BROWSER_MODE: mode },
      });
      const view = wrapperView(run.stdout, run.stderr, run.exitCode, port);
      const real = await fixtureView(name);
      assert.deepEqual(
        { exitCode: view.exitCode, errors: view.errors, token: view.token },
        { exitCode: real.exitCode, errors: real.errors, token: real.token },
      );
    });
  }

  it("implicit_timeout_normal: nobody signs in", async () => {
    const port = await freePort();
    const args = docArgs(port, ["--no-browser", "--browser-timeout", "1s"]);
    const run = await runDouble(args);
    const view = wrapperView(run.stdout, run.stderr, run.exitCode, port);
    const real = await fixtureView("implicit_timeout_normal");
    assert.deepEqual(
      [view.exitCode, view.errors, view.token],
      [real.exitCode, real.errors, real.token],
    );
    assert.ok(view.url, "the URL was shown before the wait");
  });

  it("implicit_port_in_use_silent: the callback port is taken", async () => {
    const port = await freePort();
    const release = await occupy(port);
    try {
      const run = await runDouble(docArgs(port, ["--silent", "--no-browser"]));
      const view = wrapperView(run.stdout, run.stderr, run.exitCode, port);
      const real = await fixtureView("implicit_port_in_use_silent");
      assert.deepEqual([view.exitCode, view.errors], [real.exitCode, real.errors]);
      // v1.19.0-4 prints the bare URL in --silent --no-browser mode.
      assert.match(run.stderr, /^https:\/\/login\.microsoftonline\.com\/.*\n$/);
    } finally {
      await release();
    }
  });

  it("cli_unknown_flag and version: byte for byte", async () => {
    const unknown = await runDouble([ENTRA, "--client-id", "a", "--bogus-flag"]);
    assert.equal(unknown.exitCode, 1);
    assert.equal(unknown.stdout, "");
    assert.equal(unknown.stderr, await fixture("cli_unknown_flag", "stderr"));
    const version = await runDouble(["version"]);
    assert.equal(version.exitCode, 0);
    assert.equal(version.stdout, "");
    assert.equal(version.stderr, await fixture("version", "stderr"));
  });

  it("usage and validation errors match the real ones", async () => {
    // The argument sets of INDEX.md (I = the generic provider, IB = its implicit client).
    const I = "http://127.0.0.1:12000";
    const IB = [
      ...["--client-id", "implicit-client", "--client-secret", "s", "--scopes", "openid"],
      ...["--login-hint", "user@example.com", "--grant-type", "implicit"],
      ...["--auth-method", "client_secret_basic"],
    ];
    for (const [name, args] of [
      ["cli_no_args", IB],
      ["cli_bad_duration", [I, ...IB, "--browser-timeout", "1x"]],
      [
        "implicit_fragment_validation",
        [I, ...IB, "--response-mode", "fragment", "--response-types", "token"],
      ],
      [
        "badgrant_validation",
        [
          I,
          ...IB,
          "--grant-type",
          "foo",
          "--response-mode",
          "form_post",
          "--response-types",
          "token",
        ],
      ],
    ] as const) {
      const run = await runDouble([...args], { timeoutMs: 5000 });
      assert.equal(run.stdout, await fixture(name, "stdout"), name);
      assert.equal(run.stderr, await fixture(name, "stderr"), name);
      assert.equal(run.exitCode, Number(await fixture(name, "rc")), name);
    }
  });

  it("discovery_unreachable_normal: same bytes, nothing listening at the issuer", async () => {
    const port = await freePort();
    const run = await runDouble([
      `http://127.0.0.1:${port}`,
      ...["--client-id", "implicit-client", "--client-secret", "s", "--scopes", "openid"],
      ...["--login-hint", "user@example.com", "--grant-type", "implicit"],
      ...["--auth-method", "client_secret_basic", "--response-mode", "form_post"],
      ...["--response-types", "token"],
    ]);
    const asReal = (s: string) => s.split(`127.0.0.1:${port}`).join("127.0.0.1:12099");
    assert.equal(asReal(run.stdout), await fixture("discovery_unreachable_normal", "stdout"));
    assert.equal(asReal(run.stderr), await fixture("discovery_unreachable_normal", "stderr"));
    assert.equal(run.exitCode, 1);
  });

  it("callback rules: first request to the exact path wins, only a form body counts", async () => {
    const port = await freePort();
    const callback = `http://127.0.0.1:${port}`;
    const handle = startDouble(
      docArgs(port, ["--silent", "--no-browser", "--browser-timeout", "3s"]),
    );
    const answers: string[] = [];
    const get = async (p: string) => {
      for (;;) {
        try {
          const r = await fetch(`${callback}${p}`);
          return `${r.status} ${await r.text()}`;
        } catch {
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      }
    };
    answers.push(await get("/callback/"));
    answers.push(await get("/callback?access_token=abc&token_type=Bearer&expires_in=3599"));
    const run = await handle.result;
    const body = (reply: string) => reply.split("\r\n\r\n")[1];
    const wrongPath = await fixture("callback_wrong_path", "callback-response.txt");
    assert.equal(answers[0], `404 ${body(wrongPath.split("HTTP/1.1 ")[1]!)}`);
    const getQuery = await fixture("callback_get_query", "callback-response.txt");
    assert.equal(answers[1], `200 ${body(getQuery)}`);
    assert.equal(run.stdout, await fixture("callback_get_query", "stdout"));
    assert.equal(run.exitCode, 0);
  });

  it("callback_curl_post: any POSTed token is accepted (state is not checked)", async () => {
    const port = await freePort();
    const handle = startDouble(docArgs(port, ["--silent", "--no-browser"]));
    const answer = await completeSignIn(`http://localhost:${port}/callback`, {
      access_token: "eyJfake.eyJfake.sig",
      token_type: "Bearer",
      expires_in: "3599",
      scope: "https://outlook.office365.com/IMAP.AccessAsUser.All",
      state: "anything",
      session_state: "abc",
    });
    const run = await handle.result;
    assert.equal(run.stdout, await fixture("callback_curl_post", "stdout"));
    const reply = await fixture("callback_curl_post", "callback-response.txt");
    assert.equal(`${answer.status} ${answer.body}`, `200 ${reply.split("\r\n\r\n")[1]}`);
  });

  it("implicit_sigterm_silent: SIGTERM ends it with ERROR Interrupted", async () => {
    const port = await freePort();
    const handle = startDouble(docArgs(port, ["--silent", "--no-browser"]), {
      onUrl: () => undefined,
    });
    // Signalled once it waits for the callback (a fixed delay was too short on a loaded machine).
    const listening = () =>
      new Promise<boolean>((resolve) => {
        const socket = connect(port, "127.0.0.1");
        socket.once("connect", () => resolve(socket.destroy() !== undefined));
        socket.once("error", () => resolve(false));
      });
    await waitFor(listening, 10_000, "the double's callback server");
    handle.child.kill("SIGTERM");
    const run = await handle.result;
    assert.equal(run.stdout, await fixture("implicit_sigterm_silent", "stdout"));
    assert.equal(run.exitCode, 1);
  });

  it("hangs in a prompt without --no-prompt when a value is missing, ends with it", async () => {
    const port = await freePort();
    const args = implicitArgs({
      authorityUrl: ENTRA,
      appId: "app-ok",
      loginHint: "user@example.com",
      callbackPort: port,
      browserTimeoutSec: 1,
      openBrowser: false,
    });
    // Drop --response-mode form_post: oauth2c would ask for it.
    const i = args.indexOf("--response-mode");
    const missingMode = [...args.slice(0, i), ...args.slice(i + 2)];
    const withPrompt = await runDouble(
      missingMode.filter((a) => a !== "--no-prompt"),
      { timeoutMs: 3000 },
    );
    assert.equal(withPrompt.timedOut, true, "still waiting after 3 s with a 1 s browser timeout");
    assert.match(withPrompt.stdout, /Please select an option/);
    const noPrompt = await runDouble(missingMode, { timeoutMs: 10_000 });
    assert.equal(noPrompt.timedOut, false);
    assert.deepEqual(parseOauth2cStdout(noPrompt.stdout).errors, ["timeout"]);
  });

  it("client credentials: token from the emulated Entra, wrong secret refused", async () => {
    const cc = (secret: string) => [
      ENTRA,
      ...["--client-id", "app-ok", "--client-secret", secret, "--grant-type", "client_credentials"],
      ...[
        "--auth-method",
        "client_secret_basic",
        "--scopes",
        "https://outlook.office365.com/.default",
      ],
    ];
    const env = { OAUTH2C_DOUBLE_SECRET: "good-secret", OAUTH2C_DOUBLE_TOKEN_TTL: "3599" };
    const good = await runDouble([...cc("good-secret"), "--silent"], { env });
    const real = await fixtureView("entra_cc_silent");
    assert.deepEqual(wrapperView(good.stdout, good.stderr, good.exitCode), real);
    const bad = await runDouble(cc("WRONG"), { env });
    assert.deepEqual(parseOauth2cStdout(bad.stdout).errors, ["401: invalid_client"]);
    assert.ok(bad.stdout.startsWith(`\r${" ".repeat(80)}\r  ERROR   `), "spinner clean-up");
    assert.ok(bad.stderr.includes(Buffer.from("app-ok:WRONG").toString("base64")));
  });

  it("device code: only the verification URI is shown, the code sits in a JSON dump", async () => {
    const run = await runDouble(
      [
        ENTRA,
        ...[
          "--client-id",
          "app-ok",
          "--grant-type",
          "urn:ietf:params:oauth:grant-type:device_code",
        ],
        ...[
          "--auth-method",
          "none",
          "--scopes",
          "https://outlook.office365.com/IMAP.AccessAsUser.All,offline_access",
        ],
      ],
      { env: { PATH: await noOpenerPath(), OAUTH2C_DOUBLE_TOKEN_TTL: "4823" } },
    );
    const view = wrapperView(run.stdout, run.stderr, run.exitCode);
    const real = await fixtureView("entra_device_normal");
    assert.deepEqual(
      { ...view, token: { ...view.token, scope: undefined } },
      { ...real, token: { ...real.token, scope: undefined } },
    );
    const plain = run.stderr.replace(new RegExp(String.fromCharCode(27) + "\\[[0-9;]*m", "g"), "");
    const code = /"user_code": "(\w+)"/.exec(plain)?.[1];
    assert.notEqual(plain, run.stderr, "the dump is coloured despite NO_COLOR");
    assert.ok(code, "user code inside the coloured dump");
    const ownLine = run.stderr.split("\n").some((line) => line.trim() === code);
    assert.equal(ownLine, false);
  });
});
