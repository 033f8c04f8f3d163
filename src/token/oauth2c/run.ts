// The one place oauth2c is run: the sign-in itself, `oauth2c version`, and the check that the
// callback port is free (oauth2c.md §3-§7).
import { createServer } from "node:net";
import { execa } from "execa";
import { TokenError } from "../../errors.js";
import { childEnv } from "../../secrets.js";
import type { FailureContext, TokenResponse } from "../entra.js";
import type { Command } from "../../config/types.js";
import {
  interpretOauth2cRun,
  Oauth2cStderrScanner,
  parseOauth2cVersion,
  type Oauth2cVersion,
} from "./output.js";

/**
 * Our secrets that oauth2c must never receive, not even in its environment: it gets its inputs as
 * arguments, and the grants that need a secret or a refresh token run in-process.
 */
const OAUTH2C_NEVER_NEEDS = /^(APP_SECRET|IMAPSYNC_PASSWORD\d)$/;

export interface RunOptions extends FailureContext {
  /** Our own kill timer, a little longer than oauth2c's `--browser-timeout`. */
  timeoutMs: number;
  /** Called once the URL is known; with the user code too in the device code grant. */
  onSignInUrl?: (url: string, userCode?: string) => void;
  signal?: AbortSignal;
}

/**
 * Runs oauth2c and returns the token it printed, or throws a TokenError that says what to do.
 * stderr is scanned for the sign-in URL while it streams and is never kept, shown nor logged.
 */
export async function runOauth2c(
  cmd: Command,
  args: string[],
  opts: RunOptions,
): Promise<TokenResponse> {
  const child = execa(cmd.file, [...cmd.args, ...args], {
    stdin: "ignore",
    env: childEnv(OAUTH2C_NEVER_NEEDS, { NO_COLOR: "1" }),
    extendEnv: false,
    timeout: opts.timeoutMs,
    cancelSignal: opts.signal,
    forceKillAfterDelay: 2000,
    buffer: { stdout: true, stderr: false },
    maxBuffer: { stdout: 1024 * 1024 },
    reject: false,
  });
  const scanner = new Oauth2cStderrScanner();
  const stderrDone = (async () => {
    let announced = false;
    for await (const chunk of child.stderr) {
      scanner.push(chunk as Buffer);
      if (scanner.url !== undefined && !announced) {
        announced = true;
        opts.onSignInUrl?.(scanner.url, scanner.userCode);
      }
    }
    scanner.end();
  })();
  const result = await child;
  await stderrDone;

  if (result.timedOut)
    throw new TokenError(
      `oauth2c did not finish within ${Math.round(opts.timeoutMs / 1000)} seconds and was stopped. Run the command again and complete the sign-in in time.`,
      { transient: true },
    );
  if (result.isCanceled) throw new TokenError("The sign-in was cancelled.");
  if (result.code === "ENOENT")
    throw new TokenError(
      `oauth2c was not found (${cmd.file}). Install it from https://github.com/SecureAuthCorp/oauth2c/releases and put it on PATH, or set OAUTH2C_BIN (--oauth2c-bin) to its path.`,
    );
  return interpretOauth2cRun(
    {
      exitCode: result.exitCode,
      signal: result.signal,
      stdout: String(result.stdout ?? ""),
      unknownFlag: scanner.unknownFlag,
    },
    opts,
  );
}

export async function oauth2cVersion(cmd: Command): Promise<Oauth2cVersion> {
  const result = await execa(cmd.file, [...cmd.args, "version"], {
    stdin: "ignore",
    env: childEnv(OAUTH2C_NEVER_NEEDS, { NO_COLOR: "1" }),
    extendEnv: false,
    timeout: 10_000,
    reject: false,
  });
  const version = parseOauth2cVersion(String(result.stderr ?? ""));
  if (result.exitCode === 0 && version) return version;
  throw new TokenError(
    `\`${cmd.file} version\` did not answer like oauth2c. Install oauth2c from https://github.com/SecureAuthCorp/oauth2c/releases and put it on PATH, or set OAUTH2C_BIN (--oauth2c-bin) to its path.`,
  );
}

/**
 * oauth2c binds the callback only after printing the URL, and then fails at once; checking first
 * keeps a person from signing in for nothing. oauth2c listens on 127.0.0.1 for `localhost`.
 */
export async function assertCallbackPortFree(port: number): Promise<void> {
  const error = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
    const server = createServer();
    server.once("error", resolve);
    server.listen({ port, host: "127.0.0.1", exclusive: true }, () =>
      server.close(() => resolve(undefined)),
    );
  });
  if (!error) return;
  if (error.code === "EADDRINUSE")
    throw new TokenError(
      `Port ${port} on 127.0.0.1, where the sign-in callback must arrive, is already in use: another sign-in (m365-imapsync or oauth2c) or another program is listening there. Finish or stop it (find it with \`ss -ltnp 'sport = :${port}'\`), or set CALLBACK_PORT to another port registered as redirect URI.`,
    );
  throw new TokenError(
    `Cannot listen on 127.0.0.1:${port} for the sign-in callback (${error.code ?? error.message}). Choose another CALLBACK_PORT.`,
  );
}
