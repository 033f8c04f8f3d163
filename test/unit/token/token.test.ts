import assert from "node:assert/strict";
import { TENANT } from "../../helpers/constants.js";
import { readFile, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, it } from "node:test";
import { decodeJwt } from "jose";
import { tokenCommand } from "../../../src/commands/token.js";
import { InputError, TokenError } from "../../../src/errors.js";
import { describeExpiry, type StoredToken } from "../../../src/token/claims.js";
import {
  forgetToken,
  loadRefreshToken,
  loadToken,
  saveRefreshToken,
  saveToken,
  tokenPaths,
} from "../../../src/token/store.js";
import { TokenKeeper } from "../../../src/token/keeper.js";
import type { Config } from "../../../src/config/types.js";
import { completeSignIn, mintAccessToken, tokenForm } from "../../doubles/entra.js";
import { fakeBrowserPath, mode, scanForSecrets, tempDir, waitFor } from "../../helpers/env.js";
import { freePort } from "../../../scripts/standin/ports.js";
import { occupy, OAUTH2C_DOUBLE, runDouble } from "../../helpers/oauth2c-double.js";
import { testConfig } from "../../helpers/config.js";

const ADMIN = "admin@contoso.com";
const APP_SECRET = "app-secret-Ünïcode+/=value";

function jwt(ttlSec: number, upn = ADMIN): string {
  return mintAccessToken({ tid: TENANT, appId: "app", ttlSec, upn });
}

function config(workDir: string, overrides: Partial<Config> = {}): Config {
  return testConfig({
    tenantId: TENANT,
    appId: "app-ok",
    appSecret: APP_SECRET,
    loginHint: ADMIN,
    oauth2c: OAUTH2C_DOUBLE,
    workDir,
    ...overrides,
  });
}

/** Sets environment variables for the oauth2c double and its opener, restored afterwards. */
async function withEnv<T>(vars: Record<string, string>, fn: () => Promise<T>): Promise<T> {
  const before = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  Object.assign(process.env, vars);
  try {
    return await fn();
  } finally {
    for (const [k, v] of Object.entries(before)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

async function lines(file: string): Promise<string[]> {
  try {
    return (await readFile(file, "utf8")).split("\n").filter(Boolean);
  } catch {
    return [];
  }
}

describe("token store", () => {
  it("saves the token alone on the first line, private, and its expiry from the JWT", async () => {
    const workDir = path.join(await tempDir(), "work");
    const accessToken = jwt(4000);
    const now = new Date();
    // expires_in deliberately disagrees with exp: the token's own claim wins.
    const saved = await saveToken(workDir, { access_token: accessToken, expires_in: 60 }, now);
    const paths = tokenPaths(workDir);
    assert.equal(await readFile(paths.token, "utf8"), `${accessToken}\n`);
    assert.equal(await mode(paths.token), 0o600);
    assert.equal(await mode(paths.meta), 0o600);
    assert.equal((await stat(workDir)).mode & 0o777, 0o700);
    const exp = decodeJwt(accessToken).exp!;
    assert.equal(saved.expiresAt.getTime(), exp * 1000);
    const meta = JSON.parse(await readFile(paths.meta, "utf8"));
    assert.equal(meta.expiresAt, new Date(exp * 1000).toISOString());
    assert.equal(meta.obtainedAt, now.toISOString());
    assert.equal(meta.source, "implicit");
    assert.deepEqual(meta.claims, {
      aud: "https://outlook.office365.com",
      upn: ADMIN,
      scp: "IMAP.AccessAsUser.All",
      tid: TENANT,
      appid: "app",
    });
    const metaText = await readFile(paths.meta, "utf8");
    assert.deepEqual(scanForSecrets({ "token.json": metaText }, [accessToken]), []);
  });

  it("replaces a world-readable token file with a private one", async () => {
    const workDir = await tempDir();
    await writeFile(tokenPaths(workDir).token, "old\n", { mode: 0o644 });
    await saveToken(workDir, { access_token: jwt(600) });
    assert.equal(await mode(tokenPaths(workDir).token), 0o600);
  });

  it("accepts an opaque token and dates it from expires_in at receipt", async () => {
    const workDir = await tempDir();
    const now = new Date("2026-11-29T06:00:00Z");
    const saved = await saveToken(
      workDir,
      { access_token: "EwBwA8l6BAAUopaque", expires_in: 3600 },
      now,
    );
    assert.equal(saved.expiresAt.toISOString(), "2026-11-29T07:00:00.000Z");
    assert.deepEqual(saved.claims, {});
    assert.deepEqual(await loadToken(workDir), saved);
  });

  it("loads what it saved; nothing when there is no token", async () => {
    const workDir = await tempDir();
    assert.equal(await loadToken(workDir), undefined);
    const saved = await saveToken(workDir, { access_token: jwt(3000), expires_in: 3000 });
    assert.deepEqual(await loadToken(workDir), saved);
  });

  it("falls back on the JWT when token.json is corrupt, and gives up for an opaque token", async () => {
    const workDir = await tempDir();
    const accessToken = jwt(1234);
    await saveToken(workDir, { access_token: accessToken });
    await writeFile(tokenPaths(workDir).meta, "{ not json");
    const loaded = await loadToken(workDir);
    assert.equal(loaded?.expiresAt.getTime(), decodeJwt(accessToken).exp! * 1000);
    assert.equal(loaded?.claims.upn, ADMIN);
    await writeFile(tokenPaths(workDir).token, "opaque-token\n");
    assert.equal(await loadToken(workDir), undefined);
  });

  it("judges a token replaced by hand by its own claims, not by the old token.json", async () => {
    const workDir = await tempDir();
    await saveToken(workDir, { access_token: jwt(3600) });
    const other = jwt(120, "other@contoso.com");
    await writeFile(tokenPaths(workDir).token, `${other}\n`);
    const loaded = await loadToken(workDir);
    assert.equal(loaded?.accessToken, other);
    assert.equal(loaded?.claims.upn, "other@contoso.com");
    assert.equal(loaded?.expiresAt.getTime(), decodeJwt(other).exp! * 1000);
  });

  it("forgets one audience's token without its shared refresh token while the other's is saved; the last one takes it", async () => {
    const workDir = await tempDir();
    await saveToken(workDir, { access_token: jwt(3600) }, new Date(), "device-code", "imap");
    await saveToken(workDir, { access_token: jwt(3600) }, new Date(), "device-code", "graph");
    await saveRefreshToken(workDir, "1.refresh-shared", "graph");
    const graph = await forgetToken(workDir, ["graph"]);
    assert.deepEqual(
      graph.removed.map((f) => path.basename(f)),
      ["graph-token", "graph-token.json"],
    );
    assert.deepEqual(graph.kept, [{ file: path.join(workDir, "token.refresh"), usedBy: ["IMAP"] }]);
    assert.equal(await loadRefreshToken(workDir, "imap"), "1.refresh-shared");
    assert.ok(await loadToken(workDir, "imap"));
    const imap = await forgetToken(workDir, ["imap"]);
    assert.deepEqual(
      imap.removed.map((f) => path.basename(f)),
      ["token", "token.json", "token.refresh"],
    );
    assert.deepEqual(imap.kept, []);
  });

  it("describes the expiry for a person", () => {
    const t = { expiresAt: new Date("2026-11-29T07:01:00Z") } as StoredToken;
    assert.equal(
      describeExpiry(t, new Date("2026-11-29T05:46:30Z")),
      "expires at 2026-11-29T07:01:00Z (in 74 min)",
    );
    assert.equal(
      describeExpiry(t, new Date("2026-11-29T07:03:10Z")),
      "expired at 2026-11-29T07:01:00Z (3 min ago)",
    );
  });
});

function stored(name: string, expiresAt: Date): StoredToken {
  return { accessToken: name, expiresAt, obtainedAt: new Date(0), claims: {} };
}

/** An obtain() that counts its calls and can be told to fail; each call yields a new token. */
function counter(now: () => Date, lifetimeMs = 3_600_000) {
  const state = { calls: 0, failNext: false };
  const obtain = async () => {
    state.calls += 1;
    await new Promise((resolve) => setTimeout(resolve, 20));
    if (state.failNext) {
      state.failNext = false;
      throw new TokenError("sign-in failed");
    }
    return stored(`token-${state.calls}`, new Date(now().getTime() + lifetimeMs));
  };
  return { state, obtain };
}

describe("TokenKeeper", () => {
  const clock = { t: new Date("2026-11-29T06:00:00Z") };
  const now = () => clock.t;

  it("shares one obtain() among 10 concurrent callers", async () => {
    const { state, obtain } = counter(now);
    const keeper = new TokenKeeper(obtain, { marginMs: 60_000, now });
    const tokens = await Promise.all(Array.from({ length: 10 }, () => keeper.fresh()));
    assert.equal(state.calls, 1);
    assert.ok(tokens.every((t) => t.accessToken === "token-1"));
    assert.equal(keeper.current?.accessToken, "token-1");
  });

  it("keeps a token that outlives the margin and renews one that does not", async () => {
    const { state, obtain } = counter(now);
    const initial = stored("initial", new Date(now().getTime() + 10 * 60_000));
    const keeper = new TokenKeeper(obtain, { marginMs: 5 * 60_000, now, initial });
    assert.equal((await keeper.fresh()).accessToken, "initial");
    assert.equal(state.calls, 0);
    const tight = new TokenKeeper(obtain, { marginMs: 15 * 60_000, now, initial });
    assert.equal((await tight.fresh()).accessToken, "token-1");
    assert.equal(state.calls, 1);
  });

  it("renews once for 5 runs that saw the same token expire, not again for a late one", async () => {
    const { state, obtain } = counter(now);
    const stale = stored("stale", new Date(now().getTime() + 30 * 60_000));
    const keeper = new TokenKeeper(obtain, { marginMs: 60_000, now, initial: stale });
    const renewed = await Promise.all(
      Array.from({ length: 5 }, () => keeper.renewAfterExpiry(stale)),
    );
    assert.equal(state.calls, 1);
    assert.ok(renewed.every((t) => t.accessToken === "token-1"));
    // A run that started with the stale token and fails later gets the newer one, no sign-in.
    assert.equal((await keeper.renewAfterExpiry(stale)).accessToken, "token-1");
    assert.equal(state.calls, 1);
    // The server can end sessions before `exp`: the current token itself can be reported stale.
    assert.equal((await keeper.renewAfterExpiry(keeper.current!)).accessToken, "token-2");
  });

  it("gives every waiter the same failure, then tries again on the next call", async () => {
    const { state, obtain } = counter(now);
    const keeper = new TokenKeeper(obtain, { marginMs: 60_000, now });
    state.failNext = true;
    const results = await Promise.allSettled(Array.from({ length: 4 }, () => keeper.fresh()));
    assert.equal(state.calls, 1);
    assert.ok(results.every((r) => r.status === "rejected" && r.reason instanceof TokenError));
    assert.equal((await keeper.fresh()).accessToken, "token-2");
  });

  it("survives an obtain() that throws before returning a promise", async () => {
    let calls = 0;
    const keeper = new TokenKeeper(
      () => {
        calls += 1;
        if (calls === 1) throw new TokenError("at once");
        return Promise.resolve(stored("ok", new Date(now().getTime() + 3_600_000)));
      },
      { marginMs: 0, now },
    );
    await assert.rejects(keeper.fresh(), TokenError);
    assert.equal((await keeper.fresh()).accessToken, "ok");
  });
});

describe("TokenKeeper: retries and the refresh timer", () => {
  const later = (ms: number) => new Date(Date.now() + ms);

  it("retries a transient failure after each wait, reporting it; gives up when the waits run out", async () => {
    let calls = 0;
    const retries: number[] = [];
    const keeper = new TokenKeeper(
      async () => {
        calls++;
        if (calls < 3) throw new TokenError(`unreachable ${calls}`, { transient: true });
        return stored("ok", later(3_600_000));
      },
      { marginMs: 0, retryDelaysMs: [10, 20], onRetry: (_e, ms) => retries.push(ms) },
    );
    assert.equal((await keeper.fresh()).accessToken, "ok");
    assert.deepEqual(retries, [10, 20]);

    let failures = 0;
    const hopeless = new TokenKeeper(
      async () => {
        failures++;
        throw new TokenError("down", { transient: true });
      },
      { marginMs: 0, retryDelaysMs: [5, 5] },
    );
    await assert.rejects(hopeless.fresh(), /down/);
    assert.equal(failures, 3, "the first try and two retries, then the failure stands");
  });

  it("never retries what a person must fix", async () => {
    let calls = 0;
    const keeper = new TokenKeeper(
      async () => {
        calls++;
        throw new TokenError("400: invalid_grant");
      },
      { marginMs: 0, retryDelaysMs: [5, 5, 5] },
    );
    await assert.rejects(keeper.fresh(), /invalid_grant/);
    assert.equal(calls, 1);
  });

  it("uses a token for at least half its life, whatever the margin", () => {
    const t: StoredToken = {
      accessToken: "short",
      obtainedAt: new Date(),
      expiresAt: later(10_000),
      claims: {},
    };
    const keeper = new TokenKeeper(() => Promise.resolve(t), { marginMs: 15 * 60_000, initial: t });
    const due = keeper.msUntilDue();
    assert.ok(due > 4_000 && due <= 5_000, String(due));
  });

  it("the timer renews once per expiry while wanted, and stops for good after a failure", async () => {
    let calls = 0;
    let fail = false;
    const keeper = new TokenKeeper(
      async () => {
        calls++;
        if (fail) throw new TokenError("nobody signed in");
        return {
          accessToken: `t${calls}`,
          obtainedAt: new Date(),
          expiresAt: later(300),
          claims: {},
        };
      },
      { marginMs: 100 },
    );
    const started = Date.now();
    await keeper.fresh();
    let failure: unknown;
    const stop = keeper.keepFresh({
      wanted: () => true,
      onFailure: (e) => (failure = e),
      minTickMs: 20,
    });
    // A token lives 300 ms and is renewed when 100 ms are left: about every 200 ms. A loaded
    // machine fires the timer late, so the count is awaited, and only its upper bound depends
    // on the time that passed (the timer never renews a token that is not due).
    await waitFor(() => calls >= 4, 60_000, "three renewals by the timer");
    const elapsed = Date.now() - started;
    assert.ok(calls <= 2 + elapsed / 200, `${calls} renewals in ${elapsed} ms`);
    fail = true;
    await waitFor(() => failure !== undefined, 60_000, "the failed renewal");
    const after = calls;
    // Only proves an absence: a slower machine makes it a weaker check, never a false failure.
    await new Promise((r) => setTimeout(r, 400));
    stop();
    assert.ok(failure instanceof TokenError);
    assert.equal(calls, after, "no new attempt after the failure: nothing spins");

    let idle = 0;
    const unwanted = new TokenKeeper(
      async () => {
        idle++;
        return stored("x", later(50));
      },
      { marginMs: 40, initial: stored("x", later(10)) },
    );
    const stopIdle = unwanted.keepFresh({
      wanted: () => false,
      onFailure: () => undefined,
      minTickMs: 20,
    });
    await new Promise((r) => setTimeout(r, 200));
    stopIdle();
    assert.equal(idle, 0, "nothing in flight: the next mailbox start renews instead");
  });
});

describe("token command with the oauth2c double", () => {
  it("signs in through the fake browser, saves a private token, shows no secret", async () => {
    const dir = await tempDir();
    const workDir = path.join(dir, "work");
    const browserLog = path.join(dir, "minted.log");
    const doubleLog = path.join(dir, "oauth2c.log");
    const out: string[] = [];
    const callbackPort = await freePort();
    const started = Date.now();
    const token = await withEnv(
      {
        PATH: await fakeBrowserPath(dir),
        FAKE_BROWSER_LOG: browserLog,
        FAKE_TOKEN_TTL: "4000",
        OAUTH2C_DOUBLE_LOG: doubleLog,
      },
      () =>
        tokenCommand(
          config(workDir),
          { callbackPort, openBrowser: true, timeoutSec: 20 },
          { out: (line) => out.push(line) },
        ),
    );
    const finished = Date.now();
    const minted = (await lines(browserLog)).map((l) => JSON.parse(l).token as string);
    assert.deepEqual(minted, [token.accessToken], "one sign-in, its token kept");
    const paths = tokenPaths(workDir);
    assert.equal(await readFile(paths.token, "utf8"), `${token.accessToken}\n`);
    assert.equal(await mode(paths.token), 0o600);
    const meta = JSON.parse(await readFile(paths.meta, "utf8"));
    assert.equal(meta.expiresAt, new Date(decodeJwt(token.accessToken).exp! * 1000).toISOString());
    // The JWT's exp is whole seconds after the moment of minting, which lies in [started, finished].
    const lifetime = token.expiresAt.getTime() - started;
    assert.ok(lifetime > 3_980_000, String(lifetime));
    assert.ok(token.expiresAt.getTime() <= finished + 4_000_000, String(lifetime));

    const text = out.join("\n");
    assert.match(text, new RegExp(`http://localhost:${callbackPort}/callback`));
    assert.match(text, /ssh -L/);
    assert.match(
      text,
      new RegExp(`Access token saved to ${paths.token}; it expires at .* \\(in 6[67] min\\)`),
    );
    assert.deepEqual(
      scanForSecrets({ "io.out": text, "token.json": JSON.stringify(meta) }, [
        token.accessToken,
        APP_SECRET,
      ]),
      [],
    );

    const [run] = (await lines(doubleLog))
      .map((l) => JSON.parse(l) as { argv: string[] })
      .filter((r) => r.argv[0] !== "version");
    assert.ok(run!.argv.includes("--no-prompt"));
    assert.ok(!run!.argv.includes("--no-browser"));
    assert.deepEqual(scanForSecrets({ argv: run!.argv.join(" ") }, [APP_SECRET]), []);
  });

  it("gives successive sign-ins the successive lifetimes of FAKE_TOKEN_TTL", async () => {
    const dir = await tempDir();
    const env = {
      PATH: await fakeBrowserPath(dir),
      FAKE_BROWSER_LOG: path.join(dir, "minted.log"),
      FAKE_TOKEN_TTL: "60,3600",
    };
    const lifetimes: number[] = [];
    for (let i = 0; i < 3; i++) {
      const t = await withEnv(env, async () =>
        tokenCommand(
          config(dir),
          { callbackPort: await freePort(), openBrowser: true },
          { out: () => undefined },
        ),
      );
      const { exp, iat } = decodeJwt(t.accessToken);
      assert.equal(t.expiresAt.getTime(), exp! * 1000);
      lifetimes.push(exp! - iat!);
    }
    assert.deepEqual(lifetimes, [60, 3600, 3600]);
  });

  it("the leak scan can fail: oauth2c's own stderr holds the secret and the token", async () => {
    const dir = await tempDir();
    const browserLog = path.join(dir, "minted.log");
    const port = await freePort();
    const run = await runDouble(
      [
        `https://login.microsoftonline.com/${TENANT}/v2.0`,
        ...[
          "--client-id",
          "app-ok",
          "--client-secret",
          APP_SECRET,
          "--auth-method",
          "client_secret_basic",
        ],
        ...["--scopes", "https://outlook.office365.com/.default", "--login-hint", ADMIN],
        ...[
          "--grant-type",
          "implicit",
          "--response-mode",
          "form_post",
          "--response-types",
          "token",
        ],
        ...["--redirect-url", `http://localhost:${port}/callback`, "--browser-timeout", "20s"],
      ],
      { env: { PATH: await fakeBrowserPath(dir), FAKE_BROWSER_LOG: browserLog } },
    );
    assert.equal(run.exitCode, 0);
    const [minted] = (await lines(browserLog)).map((l) => JSON.parse(l).token as string);
    const hits = scanForSecrets({ stderr: run.stderr }, [APP_SECRET, minted!]);
    assert.deepEqual(
      hits.map((h) => h.secret),
      [APP_SECRET, minted],
    );
  });

  it("without a browser: prints the URL, a person completes the sign-in, a wrong account is flagged", async () => {
    const workDir = await tempDir();
    const callbackPort = await freePort();
    const other = jwt(3599, "someone.else@contoso.com");
    const out: string[] = [];
    const token = await withEnv({ PATH: await tempDir("no-opener-") }, () =>
      tokenCommand(
        config(workDir),
        { callbackPort, timeoutSec: 20 },
        {
          out: (line) => {
            out.push(line);
            const url = /^\s+(https:\/\/\S+)$/.exec(line)?.[1];
            if (!url) return;
            const q = new URL(url).searchParams;
            assert.equal(q.get("login_hint"), ADMIN);
            void completeSignIn(q.get("redirect_uri")!, tokenForm(other, 3599, q.get("state")!));
          },
        },
      ),
    );
    assert.equal(token.accessToken, other);
    assert.ok(
      out.some((l) => /belongs to someone\.else@contoso\.com, not to LOGIN_HINT admin@/.test(l)),
    );
    assert.deepEqual(scanForSecrets({ out: out.join("\n") }, [other]), []);
  });

  it("refuses to start when the callback port is taken, before running oauth2c", async () => {
    const dir = await tempDir();
    const doubleLog = path.join(dir, "oauth2c.log");
    const callbackPort = await freePort();
    const release = await occupy(callbackPort);
    try {
      await withEnv({ OAUTH2C_DOUBLE_LOG: doubleLog }, () =>
        assert.rejects(
          tokenCommand(config(dir), { callbackPort }, { out: () => undefined }),
          (error: unknown) =>
            error instanceof TokenError &&
            error.exitCode === 3 &&
            error.message.includes(`Port ${callbackPort}`) &&
            /another sign-in .* or another program/.test(error.message),
        ),
      );
    } finally {
      await release();
    }
    assert.deepEqual(await lines(doubleLog), [], "oauth2c never ran");
  });

  it("explains a timeout and a refused consent", async () => {
    const dir = await tempDir();
    await withEnv({ PATH: await tempDir("no-opener-") }, () =>
      assert.rejects(
        freePort().then((callbackPort) =>
          tokenCommand(config(dir), { callbackPort, timeoutSec: 1 }, { out: () => undefined }),
        ),
        /Nobody completed the sign-in within 1 seconds/,
      ),
    );
    await withEnv({ PATH: await fakeBrowserPath(dir), FAKE_BROWSER_MODE: "deny" }, () =>
      assert.rejects(
        freePort().then((callbackPort) =>
          tokenCommand(config(dir), { callbackPort, openBrowser: true }, { out: () => undefined }),
        ),
        (error: unknown) => error instanceof TokenError && /declined/.test(error.message),
      ),
    );
    assert.equal(await loadToken(dir), undefined, "no token saved");
  });

  it("points at TENANT_ID / AUTHORITY_URL when the authority cannot be reached", async () => {
    const dir = await tempDir();
    const closed = await freePort();
    const authorityUrl = `http://127.0.0.1:${closed}/${TENANT}/v2.0`;
    await assert.rejects(
      tokenCommand(
        config(dir, { authorityUrl }),
        { callbackPort: await freePort() },
        { out: () => undefined },
      ),
      (error: unknown) =>
        error instanceof TokenError &&
        error.message.includes(authorityUrl) &&
        error.message.includes("TENANT_ID (or AUTHORITY_URL)") &&
        error.message.includes("connection refused"),
    );
  });

  it("names the missing setting and how to set it", async () => {
    const dir = await tempDir();
    for (const [missing, setting] of [
      [{ tenantId: undefined }, "TENANT_ID"],
      [{ appId: undefined }, "APP_ID"],
      [{ loginHint: " " }, "LOGIN_HINT"],
    ] as const) {
      await assert.rejects(
        tokenCommand(config(dir, missing), { callbackPort: 1 }, { out: () => undefined }),
        (error: unknown) =>
          error instanceof InputError &&
          error.message.startsWith(`${setting}: is not set.`) &&
          error.message.includes(".env") &&
          error.message.includes(`--${setting.toLowerCase().replace("_", "-")}`),
      );
    }
  });
});
