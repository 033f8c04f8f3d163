// Every grant through the built CLI, with tokens that live a few seconds: all mailboxes end ok,
// one token request per expiry, never two at once. The in-process grants talk to a real local
// OAuth server (oidc-provider, scripts/standin); the oauth2c double drives the sign-ins.
import { TENANT } from "../helpers/constants.js";
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import {
  APP_CLIENT_ID,
  APP_CLIENT_SECRET,
  PUBLIC_CLIENT_ID,
  startOAuthServer,
  type OAuthServer,
} from "../../scripts/standin/oauth-server.js";
import type { Report } from "../../src/report/schema.js";
import { mintAccessToken } from "../doubles/entra.js";
import {
  filesBelow,
  readTexts,
  runCli,
  scanForSecrets,
  tempDir,
  type CliResult,
} from "../helpers/env.js";
import { doubleCalls, makeWorld } from "../helpers/imapsync-world.js";
import { ADMIN, doublesEnv } from "../helpers/cli-scene.js";
// Long enough that a sign-in on a loaded machine (oauth2c and a browser started, several seconds)
// still leaves the token time for runs; short enough that it expires while they go on. With 4 s
// a loaded machine signed in again and again and no run ever finished.
const TTL_SEC = 16;
const MARGIN_SEC = 6;
const MAILBOXES = Array.from({ length: 6 }, (_, i) => `user${i + 1}@contoso.test`);

/** A token request as the OAuth server saw it. */
interface TokenRequest {
  grant: string;
  status: number;
  start: number;
  end: number;
}

/**
 * Sits between the tool and the OAuth server to count token requests: discovery is passed on
 * with the token endpoint pointing here, every token request is timed and forwarded.
 */
async function countingProxy(oauth: OAuthServer) {
  const requests: TokenRequest[] = [];
  const target = new URL(oauth.issuer).origin;
  const tokenPath = new URL(oauth.tokenEndpoint).pathname;
  const body = async (req: IncomingMessage) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString("utf8");
  };
  const server: Server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? "/", target);
      if (url.pathname.endsWith("/.well-known/openid-configuration")) {
        const meta = (await (await fetch(new URL(url.pathname, target))).json()) as Record<
          string,
          unknown
        >;
        meta.token_endpoint = `${origin}${tokenPath}`;
        res.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify(meta));
        return;
      }
      const form = await body(req);
      const start = Date.now();
      const headers: Record<string, string> = {};
      for (const name of ["content-type", "authorization", "origin"]) {
        const value = req.headers[name];
        if (typeof value === "string") headers[name] = value;
      }
      const answer = await fetch(new URL(url.pathname + url.search, target), {
        method: req.method,
        headers,
        body: req.method === "POST" ? form : undefined,
      });
      const text = await answer.text();
      if (url.pathname === tokenPath)
        requests.push({
          grant: new URLSearchParams(form).get("grant_type") ?? "",
          status: answer.status,
          start,
          end: Date.now(),
        });
      res.writeHead(answer.status, { "Content-Type": "application/json" }).end(text);
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    authorityUrl: `${origin}${new URL(oauth.issuer).pathname}`,
    /** Token requests that gave a token (device code polls that were pending do not). */
    granted: () => requests.filter((r) => r.status === 200),
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Successive tokens, each obtained once the previous entered the margin; none overlapping. */
function assertOnePerExpiry(requests: { start: number; end: number }[], what: string): void {
  assert.ok(requests.length >= 2, `${what}: expected a renewal, got ${requests.length} requests`);
  for (let i = 1; i < requests.length; i++) {
    const [previous, next] = [requests[i - 1]!, requests[i]!];
    assert.ok(next.start >= previous.end, `${what}: requests ${i - 1} and ${i} overlap`);
    const gap = next.start - previous.start;
    // A token's exp is in whole seconds, from the server's clock after the request arrived: the
    // renewal may come up to 1 s before the request's own start plus the due time (seen: 9.2 s).
    assert.ok(
      gap >= (TTL_SEC - MARGIN_SEC) * 1000 - 1200,
      `${what}: request ${i} came ${gap} ms after the previous one, before the token was due`,
    );
  }
}

interface Scene {
  dir: string;
  workDir: string;
  usersFile: string;
  stateDir: string;
  run(args: string[], env?: Record<string, string>): Promise<CliResult>;
  outputs: Record<string, string>;
}

/**
 * `seconds`: how long each mailbox takes to copy (4 s: shorter than the margin, and three rounds
 * of two mailboxes outlast a token's due time, so it is renewed while they go on).
 */
async function scene(env: Record<string, string>, seconds = 4): Promise<Scene> {
  const dir = await tempDir();
  const workDir = path.join(dir, "work");
  const usersFile = path.join(dir, "users.csv");
  const passwords = Object.fromEntries(MAILBOXES.map((m, i) => [m, `pw-${i}-Été`]));
  await writeFile(
    usersFile,
    ["source,destination,password", ...MAILBOXES.map((m) => `${m},,${passwords[m]}`), ""].join(
      "\n",
    ),
  );
  const world = await makeWorld(dir, {
    delegations: { [ADMIN]: MAILBOXES, [APP_CLIENT_ID]: MAILBOXES },
    passwords,
    seconds: Object.fromEntries(MAILBOXES.map((m) => [m, seconds])),
  });
  const base: Record<string, string> = {
    ...(await doublesEnv(dir, workDir, world.env)),
    TOKEN_MARGIN: `${MARGIN_SEC}s`,
    CONCURRENCY: "2",
    MAX_BACKOFF: "1s",
    ...env,
  };
  const outputs: Record<string, string> = {};
  return {
    dir,
    workDir,
    usersFile,
    stateDir: world.stateDir,
    outputs,
    async run(args, extra = {}) {
      const result = await runCli(args, { cwd: dir, env: { ...base, ...extra } });
      const n = Object.keys(outputs).length / 2 + 1;
      outputs[`run ${n} stdout`] = result.stdout;
      outputs[`run ${n} stderr`] = result.stderr;
      return result;
    },
  };
}

async function assertAllOk(s: Scene, result: CliResult): Promise<void> {
  assert.equal(result.exitCode, 0, `${result.stdout}\n${result.stderr}`);
  const report = JSON.parse(await readFile(path.join(s.workDir, "report.json"), "utf8")) as Report;
  assert.deepEqual(
    report.mailboxes.map((e) => [e.source, e.status]),
    MAILBOXES.map((m) => [m, "ok"]),
  );
}

async function mintTimes(file: string): Promise<{ start: number; end: number }[]> {
  const text = await readFile(file, "utf8").catch(() => "");
  return text
    .split("\n")
    .filter(Boolean)
    .map((line) => Date.parse((JSON.parse(line) as { at: string }).at))
    .map((at) => ({ start: at, end: at }));
}

describe("grants through the built CLI, tokens living 16 s", { timeout: 900_000 }, () => {
  let oauth: OAuthServer;
  let proxy: Awaited<ReturnType<typeof countingProxy>>;
  before(async () => {
    oauth = await startOAuthServer({ tokenTtlSec: TTL_SEC });
    proxy = await countingProxy(oauth);
  });
  after(async () => {
    await proxy.close();
    await oauth.stop();
  });

  it("implicit: a sign-in per expiry while the runs go on, all ok", async () => {
    const s = await scene({ TENANT_ID: TENANT, APP_ID: "app-ok", FAKE_TOKEN_TTL: String(TTL_SEC) });
    const minted = path.join(s.dir, "minted.jsonl");
    const result = await s.run(["migrate", "--users", s.usersFile], { FAKE_BROWSER_LOG: minted });
    await assertAllOk(s, result);
    assertOnePerExpiry(await mintTimes(minted), "implicit sign-ins");
  });

  it("client-credentials: in-process, the secret nowhere but the request body, all ok", async () => {
    const s = await scene({
      GRANT: "client-credentials",
      AUTHORITY_URL: proxy.authorityUrl,
      APP_ID: APP_CLIENT_ID,
      APP_SECRET: APP_CLIENT_SECRET,
    });
    const before = proxy.requests.length;
    const result = await s.run(["migrate", "--users", s.usersFile]);
    await assertAllOk(s, result);
    const mine = proxy.requests.slice(before);
    assert.ok(mine.every((r) => r.grant === "client_credentials" && r.status === 200));
    assertOnePerExpiry(mine, "client credentials");
    const calls = await doubleCalls(s.stateDir);
    const texts = {
      ...s.outputs,
      ...(await readTexts(await filesBelow(s.workDir))),
      argv: calls.map((c) => c.cmdline.join(" ")).join("\n"),
    };
    assert.deepEqual(scanForSecrets(texts, [APP_CLIENT_SECRET]), []);
  });

  for (const grant of ["auth-code", "device-code"] as const) {
    it(`${grant}: one sign-in through oauth2c, then refreshes in-process, all ok`, async () => {
      const s = await scene({
        GRANT: grant,
        AUTHORITY_URL: proxy.authorityUrl,
        APP_ID: PUBLIC_CLIENT_ID,
      });
      const before = proxy.requests.length;
      const result = await s.run(["migrate", "--users", s.usersFile]);
      await assertAllOk(s, result);
      const granted = proxy.requests.slice(before).filter((r) => r.status === 200);
      const signIn =
        grant === "auth-code"
          ? "authorization_code"
          : "urn:ietf:params:oauth:grant-type:device_code";
      assert.deepEqual(
        [...new Set(granted.map((r) => r.grant))],
        [signIn, "refresh_token"],
        "one sign-in, then only refreshes",
      );
      assert.equal(granted.filter((r) => r.grant === signIn).length, 1);
      assertOnePerExpiry(granted, grant);
      // The newest refresh token is kept, private; the one before it is spent.
      const refreshFile = path.join(s.workDir, "token.refresh");
      const newest = (await readFile(refreshFile, "utf8")).trim();
      assert.ok(newest.length > 10);
      const calls = await doubleCalls(s.stateDir);
      assert.deepEqual(
        scanForSecrets({ ...s.outputs, argv: calls.map((c) => c.cmdline.join(" ")).join("\n") }, [
          newest,
        ]),
        [],
      );

      // `token` refreshes unattended; the refresh token it spent, used again, is refused with
      // the server's words, dropped, and the command ends with exit 3.
      const again = await s.run(["token"], { NON_INTERACTIVE: "true" });
      assert.equal(again.exitCode, 0, again.stderr);
      assert.notEqual((await readFile(refreshFile, "utf8")).trim(), newest, "rotated");
      await writeFile(refreshFile, `${newest}\n`);
      const reused = await s.run(["token"], { NON_INTERACTIVE: "true" });
      assert.equal(reused.exitCode, 3, reused.stdout);
      assert.match(reused.stderr, /400: invalid_grant/);
      assert.match(reused.stderr, /sign in again/);
      await assert.rejects(readFile(refreshFile, "utf8"), { code: "ENOENT" });
      assert.deepEqual(scanForSecrets(s.outputs, [newest]), []);
    });
  }
});

describe(
  "tokens refused before any run, device code shown, import and forget",
  { timeout: 600_000 },
  () => {
    it("a Microsoft Graph token stops migrate before any imapsync run, with the fix", async () => {
      const s = await scene({ TENANT_ID: TENANT, APP_ID: "app-ok" });
      const graph = mintAccessToken({
        tid: TENANT,
        appId: "app-ok",
        ttlSec: 3600,
        upn: ADMIN,
        aud: "00000003-0000-0000-c000-000000000000",
      });
      const file = path.join(s.dir, "graph-token.txt");
      await writeFile(file, `${graph}\n`);
      const imported = await s.run(["token", "--import", file]);
      assert.equal(imported.exitCode, 3, imported.stderr);
      assert.match(imported.stderr, /audience is Microsoft Graph/);
      assert.match(imported.stderr, /request only https:\/\/outlook\.office365\.com\/\.default/);

      // Put there by hand: migrate refuses it all the same, and runs nothing.
      const { mkdir } = await import("node:fs/promises");
      await mkdir(s.workDir, { recursive: true });
      await writeFile(path.join(s.workDir, "token"), `${graph}\n`, { mode: 0o600 });
      const migrated = await s.run(["migrate", "--users", s.usersFile]);
      assert.equal(migrated.exitCode, 3, migrated.stderr);
      assert.match(migrated.stderr, /audience is Microsoft Graph/);
      assert.deepEqual(await doubleCalls(s.stateDir), []);
      assert.deepEqual(scanForSecrets(s.outputs, [graph]), []);
    });

    it("--non-interactive: when the token needs a person, running mailboxes finish, the rest wait for a token", async () => {
      // 12 s per mailbox, two at a time, a token living 34 s from now: the first pair finishes
      // with it even when the import and migrate's start take 15 s (a loaded machine); the last
      // pair either waits for it to be due or sees it expire, and then waits for a new one.
      const s = await scene({ TENANT_ID: TENANT, APP_ID: "app-ok" }, 12);
      const file = path.join(s.dir, "short.txt");
      await writeFile(
        file,
        mintAccessToken({ tid: TENANT, appId: "app-ok", ttlSec: 34, upn: ADMIN }),
      );
      assert.equal((await s.run(["token", "--import", file])).exitCode, 0);
      const minted = path.join(s.dir, "minted.jsonl");
      const result = await s.run(["migrate", "--users", s.usersFile, "--non-interactive"], {
        FAKE_BROWSER_LOG: minted,
      });
      assert.equal(result.exitCode, 3, result.stderr);
      assert.match(
        result.stderr,
        /needs someone to sign in \(GRANT=implicit\), and NON_INTERACTIVE is set/,
      );
      const report = JSON.parse(
        await readFile(path.join(s.workDir, "report.json"), "utf8"),
      ) as Report;
      const ok = report.mailboxes.filter((e) => e.status === "ok");
      const waiting = report.mailboxes.filter((e) => e.status === "pending");
      assert.ok(ok.length >= 2, "the mailboxes started with the token finished");
      assert.ok(waiting.length >= 1, "and the others were not started");
      assert.equal(ok.length + waiting.length, MAILBOXES.length);
      for (const e of waiting) assert.match(e.remedy ?? "", /Waiting for an access token/);
      assert.equal(
        await readFile(minted, "utf8").catch(() => ""),
        "",
        "nobody was asked to sign in",
      );
    });

    it("device code against Entra: the verification URL and the user code, dug out of oauth2c's log", async () => {
      const s = await scene({ TENANT_ID: TENANT, APP_ID: "app-ok", GRANT: "device-code" });
      // No browser opener anywhere, as in a container; node itself stays reachable.
      const result = await s.run(["token", "--no-browser"], {
        PATH: path.dirname(process.execPath),
        OAUTH2C_DOUBLE_DEVICE_PENDING: "1",
        OAUTH2C_DOUBLE_DEVICE_USER: ADMIN,
      });
      assert.equal(result.exitCode, 0, `${result.stdout}\n${result.stderr}`);
      assert.match(result.stdout, /^ {2}https:\/\/microsoft\.com\/devicelogin$/m);
      assert.match(result.stdout, /and enter the code [A-Z0-9]{8}$/m);
      assert.match(await readFile(path.join(s.workDir, "token.refresh"), "utf8"), /^1\.refresh-/);
    });

    it("import accepts a good token (opaque with expires_in too) and forget removes everything", async () => {
      const s = await scene({ TENANT_ID: TENANT, APP_ID: "app-ok" });
      const good = mintAccessToken({ tid: TENANT, appId: "app-ok", ttlSec: 3000, upn: ADMIN });
      const file = path.join(s.dir, "exported.txt");
      await writeFile(file, `${good}\n`);
      const imported = await s.run(["token", "--import", file]);
      assert.equal(imported.exitCode, 0, imported.stderr);
      assert.match(imported.stdout, /Imported a delegated token of admin@contoso\.test/);
      assert.equal((await readFile(path.join(s.workDir, "token"), "utf8")).trim(), good);

      await writeFile(
        file,
        `{"access_token":"EwBwA8l6BAAUopaque","expires_in":3600,"token_type":"Bearer"}\n`,
      );
      const opaque = await s.run(["token", "--import", file]);
      assert.equal(opaque.exitCode, 0, opaque.stderr);
      assert.match(opaque.stdout, /Warning: The access token is not a JWT/);
      await writeFile(file, "EwBwA8l6BAAUopaque\n");
      const undated = await s.run(["token", "--import", file]);
      assert.equal(undated.exitCode, 3);
      assert.match(undated.stderr, /expires_in/);

      await writeFile(path.join(s.workDir, "token.refresh"), "1.refresh-x\n");
      const forgot = await s.run(["token", "--forget"]);
      assert.equal(forgot.exitCode, 0, forgot.stderr);
      assert.equal(forgot.stdout.match(/^Removed /gm)?.length, 3);
      assert.deepEqual(
        (await filesBelow(s.workDir))
          .map((f) => path.basename(f))
          .filter((f) => f.startsWith("token")),
        [],
      );
      assert.deepEqual(scanForSecrets(s.outputs, [good, "EwBwA8l6BAAUopaque"]), []);
    });

    it("forget for Microsoft Graph (ITEMS=calendar) keeps the refresh token the IMAP token renews with", async () => {
      const s = await scene({ TENANT_ID: TENANT, APP_ID: "app-ok" });
      const imap = mintAccessToken({ tid: TENANT, appId: "app-ok", ttlSec: 3000, upn: ADMIN });
      const file = path.join(s.dir, "exported.txt");
      await writeFile(file, `${imap}\n`);
      assert.equal((await s.run(["token", "--import", file])).exitCode, 0);
      // What a delegated sign-in leaves once migrate has also renewed Graph's token.
      await writeFile(path.join(s.workDir, "token.refresh"), "1.refresh-shared\n");
      await writeFile(path.join(s.workDir, "graph-token"), "graph-access\n");
      await writeFile(path.join(s.workDir, "graph-token.json"), "{}\n");
      const graph = await s.run(["token", "--forget"], { ITEMS: "calendar" });
      assert.equal(graph.exitCode, 0, graph.stderr);
      assert.deepEqual(graph.stdout.match(/^Removed .*$/gm), [
        `Removed ${path.join(s.workDir, "graph-token")}`,
        `Removed ${path.join(s.workDir, "graph-token.json")}`,
      ]);
      assert.match(
        graph.stdout,
        /^Kept .*token\.refresh: the IMAP token is still saved and renews with it \(ITEMS=mail,calendar forgets both\)\.$/m,
      );
      assert.equal(
        await readFile(path.join(s.workDir, "token.refresh"), "utf8"),
        "1.refresh-shared\n",
      );
      assert.equal((await readFile(path.join(s.workDir, "token"), "utf8")).trim(), imap);
      const both = await s.run(["token", "--forget"], { ITEMS: "mail,calendar" });
      assert.equal(both.exitCode, 0, both.stderr);
      assert.equal(both.stdout.match(/^Removed /gm)?.length, 3);
      assert.deepEqual(
        (await filesBelow(s.workDir))
          .map((f) => path.basename(f))
          .filter((f) => f.includes("token")),
        [],
      );
    });
  },
);
