// Running the oauth2c test double, and the sockets its tests need.
import { createServer, type Server } from "node:net";
import path from "node:path";
import { execa, type ResultPromise } from "execa";
import { Oauth2cStderrScanner } from "../../src/token/oauth2c/output.js";
import type { Command } from "../../src/config/types.js";
import { DOUBLES } from "./env.js";

export const OAUTH2C_DOUBLE: Command = {
  file: process.execPath,
  args: [path.join(DOUBLES, "oauth2c.js")],
};

export interface DoubleRun {
  exitCode?: number;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

export interface DoubleHandle {
  child: ResultPromise;
  result: Promise<DoubleRun>;
}

/** Starts the double with raw output kept, calling `onUrl` as soon as the sign-in URL appears. */
export function startDouble(
  args: string[],
  opts: { env?: Record<string, string>; timeoutMs?: number; onUrl?: (url: string) => void } = {},
): DoubleHandle {
  const child = execa(OAUTH2C_DOUBLE.file, [...OAUTH2C_DOUBLE.args, ...args], {
    stdin: "ignore",
    env: { NO_COLOR: "1", ...opts.env },
    timeout: opts.timeoutMs ?? 30_000,
    reject: false,
    stripFinalNewline: false,
  });
  const scanner = new Oauth2cStderrScanner();
  let announced = false;
  child.stderr.on("data", (chunk: Buffer) => {
    scanner.push(chunk);
    if (scanner.url !== undefined && !announced) {
      announced = true;
      opts.onUrl?.(scanner.url);
    }
  });
  const result = child.then((r) => ({
    exitCode: r.exitCode,
    stdout: String(r.stdout),
    stderr: String(r.stderr),
    timedOut: r.timedOut,
  }));
  return { child, result };
}

export function runDouble(
  args: string[],
  opts: Parameters<typeof startDouble>[1] = {},
): Promise<DoubleRun> {
  return startDouble(args, opts).result;
}

function listen(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve(server));
  });
}

/** Holds 127.0.0.1:<port> like another program would; call the result to let go. */
export async function occupy(port: number): Promise<() => Promise<void>> {
  const server = await listen(port);
  return () => new Promise((resolve) => server.close(() => resolve()));
}
