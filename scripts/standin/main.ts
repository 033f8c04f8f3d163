// `node dist/scripts/standin/main.js start|stop|serve` — what scripts/standin-start.sh and
// scripts/standin-stop.sh run. `start` launches `serve` detached (pidfile <dir>/standin.pid) and
// returns once the stand-in is ready; `stop` ends exactly that process and the Dovecot instances
// it started (their master.pid files), and waits until they are gone.
//
// Environment: STANDIN_DIR (default ./standin), STANDIN_TOKEN_TTL (seconds, default 3600),
// STANDIN_BIG_COUNT (default 4000), STANDIN_THROTTLE_AFTER (FETCH/APPEND commands per session
// before throttling; off by default) with STANDIN_THROTTLE_MAILBOXES (comma-separated) and
// STANDIN_THROTTLE_WINDOW_MS (count per mailbox across connections, then refuse it that long),
// STANDIN_LOAD_THROTTLE (commands per second, all sessions together, above which FETCH/APPEND are
// throttled; off by default), STANDIN_THROTTLE_BACKOFF_MS (the suggested backoff, default 299609),
// STANDIN_COMMAND_DELAY_MS (a delay before every IMAP command, default 0), STANDIN_EQUAL_MAILBOXES
// (that many equal mailboxes, listed alone in <dir>/users-equal.csv; default 0),
// STANDIN_DEVICE_SIGN_IN=auto (the admin signs every device code in by itself: the Docker demo),
// STANDIN_GRAPH_BENCH_COUNT (events and contacts in big@contoso.test's Graph mailbox; default 0),
// and the ports STANDIN_OAUTH_PORT (11180), STANDIN_IMAP_PORT (13001, the front = the
// "Microsoft 365" source), STANDIN_SOURCE_PORT (13002, Dovecot behind the front),
// STANDIN_DEST_PORT (13003), STANDIN_GRAPH_PORT (13004, Microsoft Graph). A port that is taken
// stops `serve` at once, naming its variable.
import { spawn } from "node:child_process";
import { existsSync, openSync } from "node:fs";
import { createServer } from "node:net";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { dovecotMissing, instanceDirs, stopDovecot, waitGone } from "./dovecot.js";
import { freePort, PORT_VARIABLES } from "./ports.js";
import { startStandin, type StandinPorts } from "./standin.js";

const dir = path.resolve(process.env.STANDIN_DIR ?? "standin");
const pidFile = path.join(dir, "standin.pid");
const readyFile = path.join(dir, "ready");
const logFile = path.join(dir, "standin.log");

const num = (name: string, fallback: number) => {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(value) || value < 0) {
    console.error(`${name} must be a whole number, not "${process.env[name]}".`);
    process.exit(2);
  }
  return value;
};

async function runningPid(): Promise<number | undefined> {
  try {
    const pid = Number((await readFile(pidFile, "utf8")).trim());
    process.kill(pid, 0);
    return pid;
  } catch {
    return undefined;
  }
}

const listenable = (port: number) =>
  new Promise<boolean>((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });

/** Each port from its variable; a taken one stops everything, saying which and what to do. */
async function ports(): Promise<StandinPorts> {
  const chosen: StandinPorts = { oauth: 0, front: 0, source: 0, destination: 0, graph: 0 };
  for (const [key, name, fallback] of PORT_VARIABLES) chosen[key] = num(name, fallback);
  for (const [key, name] of PORT_VARIABLES) {
    if (chosen[key] === 0 || (await listenable(chosen[key]))) continue;
    console.error(
      `Port ${chosen[key]} of 127.0.0.1 is taken (${name}): another program listens there, perhaps another stand-in. Give the stand-in a free port: ${name}=${await freePort()} in the environment.`,
    );
    process.exit(2);
  }
  return chosen;
}

async function serve(): Promise<void> {
  await rm(readyFile, { force: true });
  const throttleAfter = process.env.STANDIN_THROTTLE_AFTER;
  const backoffMs = process.env.STANDIN_THROTTLE_BACKOFF_MS
    ? num("STANDIN_THROTTLE_BACKOFF_MS", 0)
    : undefined;
  const loadRate = num("STANDIN_LOAD_THROTTLE", 0);
  const equalCount = num("STANDIN_EQUAL_MAILBOXES", 0);
  const standin = await startStandin({
    dir,
    ports: await ports(),
    tokenTtlSec: num("STANDIN_TOKEN_TTL", 3600),
    bigCount: num("STANDIN_BIG_COUNT", 4000),
    throttle: throttleAfter
      ? {
          afterCommands: num("STANDIN_THROTTLE_AFTER", 100),
          backoffMs,
          mailboxes: process.env.STANDIN_THROTTLE_MAILBOXES?.split(",").map((m) => m.trim()),
          windowMs: process.env.STANDIN_THROTTLE_WINDOW_MS
            ? num("STANDIN_THROTTLE_WINDOW_MS", 0)
            : undefined,
        }
      : undefined,
    load: loadRate > 0 ? { commandsPerSecond: loadRate, backoffMs } : undefined,
    commandDelayMs: num("STANDIN_COMMAND_DELAY_MS", 0),
    equal: equalCount > 0 ? { count: equalCount } : undefined,
    approveDeviceCodes: process.env.STANDIN_DEVICE_SIGN_IN === "auto",
    graphBenchCount: num("STANDIN_GRAPH_BENCH_COUNT", 0),
  });
  const stop = () => {
    void standin
      .stop()
      .then(() => rm(readyFile, { force: true }))
      .then(() => process.exit(0));
  };
  process.on("SIGTERM", stop).on("SIGINT", stop);
  await writeFile(readyFile, "");
}

async function start(): Promise<void> {
  const missing = dovecotMissing();
  if (missing) {
    console.error(`Cannot start the stand-in: ${missing}.`);
    process.exit(1);
  }
  const pid = await runningPid();
  if (pid) {
    console.error(`The stand-in already runs (pid ${pid}); stop it with scripts/standin-stop.sh.`);
    process.exit(1);
  }
  await rm(readyFile, { force: true });
  await mkdir(dir, { recursive: true });
  const log = openSync(logFile, "w");
  const child = spawn(process.execPath, [process.argv[1]!, "serve"], {
    detached: true,
    stdio: ["ignore", log, log],
    env: process.env,
  });
  await writeFile(pidFile, `${child.pid}\n`);
  child.unref();
  const deadline = Date.now() + 60_000;
  while (!existsSync(readyFile)) {
    if (child.exitCode !== null || Date.now() > deadline) {
      console.error(
        `The stand-in did not start; see ${logFile}:\n${await readFile(logFile, "utf8")}`,
      );
      await stop();
      process.exit(1);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const settings = await readFile(path.join(dir, "standin.env"), "utf8");
  console.log(`Microsoft 365 stand-in running (state in ${dir}, log ${logFile}).`);
  console.log(`Settings (also in ${path.join(dir, "standin.env")}), for .env:\n`);
  console.log(settings);
  console.log(`Users file: ${path.join(dir, "users.csv")}`);
  console.log("Stop it with scripts/standin-stop.sh.");
}

async function stop(): Promise<void> {
  const pid = await runningPid();
  if (pid) {
    process.kill(pid, "SIGTERM");
    if (!(await waitGone([pid], 20_000))) {
      process.kill(pid, "SIGKILL");
      await waitGone([pid], 5000);
    }
  }
  // Dovecot of a stand-in that did not get to stop it (killed, crashed).
  for (const name of ["source", "destination"]) await stopDovecot(instanceDirs(dir, name));
  await rm(pidFile, { force: true });
  await rm(readyFile, { force: true });
  console.log(pid ? `Stand-in stopped (pid ${pid}).` : "The stand-in was not running.");
}

const command = process.argv[2];
if (command === "serve") await serve();
else if (command === "start") await start();
else if (command === "stop") await stop();
else {
  console.error("Usage: main.js start|stop|serve");
  process.exit(2);
}
