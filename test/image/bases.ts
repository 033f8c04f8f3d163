// The local stand-ins the image test builds the repository's Dockerfile on, since no registry is
// reachable: a Debian base made with debootstrap, Node.js copied from this machine, and the
// imapsync double (bundled into one file, with the fixtures it replays) as /usr/bin/imapsync.
// They carry the project's own test tags, never an official image's name. The oauth2c double is
// packed like an oauth2c release (tarball + checksums.txt).
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { chmod, cp, mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { build } from "esbuild";
import { execa } from "execa";
import { FIXTURES, ROOT } from "../helpers/env.js";

/**
 * Tells apart the images, containers and volumes of image tests that share one engine at the same
 * time (M365_IMAGE_TEST_ID, e.g. a branch name); empty in CI. The Debian and Node.js bases are the
 * same for everyone and shared.
 */
export const TEST_ID =
  process.env.M365_IMAGE_TEST_ID?.replace(/[^a-z0-9]/gi, "").toLowerCase() ?? "";
const suffix = TEST_ID ? `-${TEST_ID}` : "";

export const TAGS = {
  debian: "m365-imapsync-test/debian:bookworm",
  node: `m365-imapsync-test/node:${process.versions.node}`,
  imapsync: `m365-imapsync-test/imapsync-double:2.229${suffix}`,
  /** The same without libstdc++, on which Node.js cannot start. */
  noLibstdcxx: `m365-imapsync-test/imapsync-double:2.229-no-libstdcxx${suffix}`,
};
/** Where the doubles' bundles look for their fixtures inside the images. */
const DOUBLES_HOME = "/opt/m365-doubles";
/**
 * The world file baked into the imapsync base, for runs that name no other (the build's, and the
 * demo's): no password in a layer, the destination's are tried at the destination itself.
 */
export const BAKED_WORLD = `${DOUBLES_HOME}/world.json`;
/** The baked world's records, written by whichever account runs the image (sticky, like /tmp). */
const BAKED_STATE = "/var/tmp/imapsync-double";
export const OAUTH2C_VERSION = "1.19.0";

/** The rootfs tarball, kept between runs: debootstrap is the slowest step of a first run. */
export const CACHE_DIR = process.env.M365_IMAGE_TEST_CACHE ?? "/var/cache/m365-imapsync-test";

export interface Run {
  exitCode: number | undefined;
  stdout: string;
  stderr: string;
}

/** `docker …` (or another program), never rejecting: callers assert on the exit code. */
export async function run(
  file: string,
  args: string[],
  opts: { input?: string; timeoutMs?: number; env?: Record<string, string>; cwd?: string } = {},
): Promise<Run> {
  const r = await execa(file, args, {
    reject: false,
    input: opts.input,
    stdin: opts.input === undefined ? "ignore" : "pipe",
    timeout: opts.timeoutMs ?? 600_000,
    env: opts.env,
    cwd: opts.cwd,
  });
  return { exitCode: r.exitCode, stdout: String(r.stdout), stderr: String(r.stderr) };
}

export async function mustRun(file: string, args: string[], opts: Parameters<typeof run>[2] = {}) {
  const r = await run(file, args, opts);
  if (r.exitCode !== 0)
    throw new Error(`${file} ${args.join(" ")} exited ${r.exitCode}:\n${r.stdout}\n${r.stderr}`);
  return r;
}

const imageExists = async (tag: string) =>
  (await run("docker", ["image", "inspect", tag])).exitCode === 0;

/** The Debian mirror this machine's apt uses (deb822 or one-line sources). */
async function debianMirror(): Promise<string> {
  const files = ["/etc/apt/sources.list.d/debian.sources", "/etc/apt/sources.list"];
  for (const file of files) {
    const text = await readFile(file, "utf8").catch(() => "");
    const found =
      /^URIs:\s*(\S+\/debian)\s*$/m.exec(text) ??
      /^deb\s+(?:\[[^\]]*\]\s+)?(\S+\/debian)\s/m.exec(text);
    if (found?.[1]) return found[1];
  }
  throw new Error(`no Debian mirror found in ${files.join(" or ")}`);
}

async function debianBase(log: (line: string) => void): Promise<void> {
  if (await imageExists(TAGS.debian)) return;
  const tarball = path.join(CACHE_DIR, "debian-bookworm-minbase.tar");
  if (!existsSync(tarball)) {
    const mirror = await debianMirror();
    const rootfs = path.join(CACHE_DIR, "rootfs.tmp");
    await rm(rootfs, { recursive: true, force: true });
    await mkdir(CACHE_DIR, { recursive: true });
    log(`debootstrap bookworm from ${mirror} (cached in ${tarball} for the next runs)`);
    await mustRun("debootstrap", ["--variant=minbase", "bookworm", rootfs, mirror], {
      timeoutMs: 900_000,
    });
    // apt inside the image (the Dockerfile's libstdc++ fallback) uses the same mirror.
    await writeFile(
      path.join(rootfs, "etc/apt/sources.list"),
      `deb ${mirror} bookworm main\ndeb ${mirror} bookworm-updates main\n`,
    );
    await rm(path.join(rootfs, "var/cache/apt/archives"), { recursive: true, force: true });
    await mustRun("tar", ["-C", rootfs, "-cf", `${tarball}.tmp`, "."]);
    await rename(`${tarball}.tmp`, tarball);
    await rm(rootfs, { recursive: true, force: true });
  }
  await mustRun("sh", [
    "-c",
    `docker import -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' - ${TAGS.debian} < "$0"`,
    tarball,
  ]);
}

/** `docker build` of a small generated context (layer caching makes reruns instant). */
async function buildContext(
  dir: string,
  tag: string,
  dockerfile: string,
  files: Record<string, string>,
): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  for (const [name, source] of Object.entries(files))
    await cp(source, path.join(dir, name), { recursive: true, preserveTimestamps: true });
  await writeFile(path.join(dir, "Dockerfile"), dockerfile);
  await mustRun("docker", ["build", "--network", "host", "-t", tag, dir]);
}

/** The official node images' layout: /usr/local/bin/node, npm under /usr/local/lib/node_modules. */
async function nodeBase(dir: string): Promise<void> {
  const npm = path.resolve(path.dirname(process.execPath), "../lib/node_modules/npm");
  await buildContext(
    path.join(dir, "node-base"),
    TAGS.node,
    `FROM ${TAGS.debian}
COPY node /usr/local/bin/node
COPY npm /usr/local/lib/node_modules/npm
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \\
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \\
 && node --version && npm --version
`,
    { node: process.execPath, npm },
  );
}

/** One executable ESM file (Node 20.19+ detects the syntax) with its dependencies inside. */
async function bundle(entry: string, outfile: string): Promise<void> {
  await build({
    entryPoints: [path.join(ROOT, entry)],
    outfile,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    logLevel: "error",
    // The doubles find their fixtures from their own place in dist/test/doubles.
    define: { "import.meta.dirname": JSON.stringify(`${DOUBLES_HOME}/dist/test/doubles`) },
    banner: {
      js: 'import { createRequire as __createRequire } from "node:module"; const require = __createRequire(import.meta.url);',
    },
  });
  await chmod(outfile, 0o755);
}

/** Like the official image: imapsync at /usr/bin/imapsync, run as nobody. */
async function imapsyncBase(dir: string, world: object): Promise<void> {
  const context = path.join(dir, "imapsync-base");
  const files = path.join(dir, "imapsync-files");
  await mkdir(files, { recursive: true });
  await bundle("test/doubles/imapsync.ts", path.join(files, "imapsync"));
  await writeFile(
    path.join(files, "world.json"),
    JSON.stringify({ ...world, stateDir: BAKED_STATE }),
  );
  await buildContext(
    context,
    TAGS.imapsync,
    `FROM ${TAGS.debian}
COPY imapsync /usr/bin/imapsync
COPY fixtures ${DOUBLES_HOME}/fixtures
COPY world.json ${BAKED_WORLD}
RUN install -d -m 1777 ${BAKED_STATE} \\
 && install -m 0666 /dev/null ${BAKED_STATE}/starts.jsonl \\
 && install -m 0666 /dev/null ${BAKED_STATE}/calls.jsonl
ENV IMAPSYNC_DOUBLE_WORLD=${BAKED_WORLD}
USER nobody
WORKDIR /var/tmp
`,
    {
      imapsync: path.join(files, "imapsync"),
      "world.json": path.join(files, "world.json"),
      fixtures: FIXTURES,
    },
  );
}

async function noLibstdcxxBase(dir: string): Promise<void> {
  await buildContext(
    path.join(dir, "no-libstdcxx-base"),
    TAGS.noLibstdcxx,
    `FROM ${TAGS.imapsync}
USER root
RUN rm -f /usr/lib/*/libstdc++.so.6*
USER nobody
`,
    {},
  );
}

export function oauth2cAsset(): string {
  const arch: Record<string, string> = { x64: "x86_64", arm64: "arm64", arm: "arm" };
  const asset = arch[process.arch];
  if (!asset) throw new Error(`no oauth2c release name for ${process.arch}`);
  return `oauth2c_${OAUTH2C_VERSION}_Linux_${asset}.tar.gz`;
}

/** The oauth2c double as a release: `<tarball>` holding `oauth2c`, and checksums.txt. */
export async function packOauth2c(dir: string): Promise<{ tarball: string; checksums: string }> {
  const work = path.join(dir, "oauth2c-pack");
  await mkdir(work, { recursive: true });
  await bundle("test/doubles/oauth2c.ts", path.join(work, "oauth2c"));
  const name = oauth2cAsset();
  const tarball = path.join(dir, name);
  await mustRun("tar", ["-C", work, "-czf", tarball, "oauth2c"]);
  const sha = createHash("sha256")
    .update(await readFile(tarball))
    .digest("hex");
  // Another asset of the release, so that the lookup must pick the right line.
  const checksums = `${"0".repeat(64)}  oauth2c_${OAUTH2C_VERSION}_Darwin_arm64.tar.gz\n${sha}  ${name}\n`;
  await writeFile(path.join(dir, "checksums.txt"), checksums);
  return { tarball, checksums: path.join(dir, "checksums.txt") };
}

/** Every base image, built or found; `world` is the imapsync double's baked world (no state). */
export async function buildBases(
  dir: string,
  world: object,
  log: (line: string) => void,
): Promise<void> {
  await debianBase(log);
  await nodeBase(dir);
  await imapsyncBase(dir, world);
  await noLibstdcxxBase(dir);
}
