// A private Radicale (Debian's package `radicale`, installed by .ci/run) as the real CalDAV/CardDAV
// server of the tests and the benchmark: 127.0.0.1 on a free port, its own storage folder,
// htpasswd users named by full addresses, each owning /<user>/. Radicale never schedules. With
// `tls`, it speaks HTTPS with a throwaway self-signed certificate (selfSignedCertificate).
import { existsSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { execa, type ResultPromise } from "execa";
import { Agent } from "undici";
import { freePort } from "../../scripts/standin/ports.js";
import { tempDir } from "./env.js";

export const RADICALE = process.env.RADICALE_BIN ?? "/usr/bin/radicale";

/** Longest wait for a starting Radicale to answer (a loaded CI machine starts Python slowly). */
const START_TIMEOUT_MS = 60_000;

export interface Radicale {
  /** The server's root, `http://127.0.0.1:<port>/` (`https://` with `tls`). */
  url: string;
  port: number;
  /** Where it stores collections. */
  storage: string;
  stop(): Promise<void>;
}

/** A certificate and its key for 127.0.0.1, PEM files in `dir`, signed by themselves (openssl). */
export async function selfSignedCertificate(
  dir: string,
): Promise<{ certificate: string; key: string }> {
  const certificate = path.join(dir, "cert.pem");
  const key = path.join(dir, "key.pem");
  await execa("openssl", [
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    key,
    "-out",
    certificate,
    "-days",
    "2",
    "-subj",
    "/CN=127.0.0.1",
    "-addext",
    "subjectAltName=IP:127.0.0.1",
  ]);
  return { certificate, key };
}

/** Starts Radicale with these users (address → password); fails naming the package when absent. */
export async function startRadicale(
  users: Record<string, string>,
  opts: { tls?: { certificate: string; key: string } } = {},
): Promise<Radicale> {
  if (!existsSync(RADICALE)) {
    throw new Error(
      `${RADICALE} not found: install Debian's radicale package (apt-get install radicale, as .ci/run does), or set RADICALE_BIN`,
    );
  }
  const dir = await tempDir("radicale-");
  const port = await freePort();
  const storage = path.join(dir, "collections");
  const htpasswd = path.join(dir, "users");
  await writeFile(
    htpasswd,
    Object.entries(users)
      .map(([user, password]) => `${user}:${password}\n`)
      .join(""),
    { mode: 0o600 },
  );
  const config = path.join(dir, "config");
  await writeFile(
    config,
    [
      "[server]",
      `hosts = 127.0.0.1:${port}`,
      ...(opts.tls
        ? ["ssl = True", `certificate = ${opts.tls.certificate}`, `key = ${opts.tls.key}`]
        : []),
      "[auth]",
      "type = htpasswd",
      `htpasswd_filename = ${htpasswd}`,
      "htpasswd_encryption = plain",
      // Radicale waits about a second after a refused login; the tests refuse on purpose.
      "delay = 0",
      "[rights]",
      "type = owner_only",
      "[storage]",
      `filesystem_folder = ${storage}`,
      "[web]",
      "type = none",
      "[logging]",
      "level = warning",
      "",
    ].join("\n"),
  );
  const log = path.join(dir, "radicale.log");
  const child = execa(RADICALE, ["--config", config], {
    stdin: "ignore",
    stdout: { file: log },
    stderr: { file: log },
    reject: false,
  });
  const url = `${opts.tls ? "https" : "http"}://127.0.0.1:${port}/`;
  const stop = async () => {
    child.kill("SIGTERM");
    await child;
  };
  try {
    await answers(url, child);
  } catch (error) {
    const text = await readFile(log, "utf8").catch(() => "");
    await stop();
    throw new Error(`${(error as Error).message}; its log:\n${text}`, { cause: error });
  }
  return { url, port, storage, stop };
}

const ANY_CERTIFICATE = new Agent({ connect: { rejectUnauthorized: false } });

/** Waits until the server answers HTTP (any status), or its process ends, or the time is up. */
async function answers(url: string, child: ResultPromise): Promise<void> {
  let exited = false;
  void child.finally(() => (exited = true));
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (exited) throw new Error("Radicale exited at start");
    try {
      // Whether it answers, whatever its certificate: the tests judge that.
      await fetch(url, {
        method: "OPTIONS",
        signal: AbortSignal.timeout(5000),
        dispatcher: ANY_CERTIFICATE,
      } as RequestInit);
      return;
    } catch {
      if (Date.now() > deadline) {
        throw new Error(`Radicale did not answer on ${url} within ${START_TIMEOUT_MS / 1000} s`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}
