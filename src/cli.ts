#!/usr/bin/env -S node --max-semi-space-size=4
import yargs, { type Argv, type Options } from "yargs";
import { hideBin } from "yargs/helpers";
import { setMaxListeners } from "node:events";
import { setFlagsFromString } from "node:v8";
import { SETTINGS } from "./config/settings.js";
import type { CommandIo } from "./commands/session.js";
import { ExitCode, UserError } from "./errors.js";

/**
 * The first line's flag caps V8's young generation at 8 MB (2 × 4 MB) instead of 32 MB: it can
 * only be set when the process starts, and at 10,000 mailboxes it is 25 MB of peak RSS for no
 * measurable CPU (bench/README.md). `node dist/src/cli.js` works without it.
 *
 * For the commands that run imapsync for every mailbox: each run leaves garbage that outlives V8's
 * young generation, and V8's default heap growth lets the old space reach about four times the
 * live data before collecting it. Growing by 30 % keeps the peak near the live data (at 3,000
 * mailboxes, 198 MB peak RSS by default, 149 MB with it; bench/README.md), for a few more GCs.
 */
function boundHeapGrowth(): void {
  setFlagsFromString("--heap-growing-percent=30");
}

// The option tables keep their literal types (`satisfies`, not a type annotation): yargs infers
// each command's flags from them, so the handlers pass typed flags to the commands, uncast.

const EVENTS = {
  choices: ["jsonl"] as const,
  describe:
    "print every event (attempts, progress, outcomes, totals, concurrency changes) as JSON lines on standard output, for scripts; the summary goes to standard error",
} satisfies Options;

/** A bug, not a situation the admin can fix: ask for a report with the output. */
const INTERNAL_ERROR = 70;

const STOP_LEFTOVERS = {
  type: "boolean",
  default: false,
  describe:
    "stop imapsync processes a crashed earlier run left running (otherwise their mailboxes wait for them)",
} satisfies Options;

const USERS = {
  type: "string",
  demandOption: true,
  requiresArg: true,
  describe: "users file (CSV or imapsync bulk format; users.csv.example shows the CSV)",
} satisfies Options;

const SHARD = {
  type: "string",
  describe:
    "run only shard INDEX of COUNT (from 0, like 1/3); default from JOB_COMPLETION_INDEX and SHARD_COUNT",
} satisfies Options;

const SETTINGS_GROUP = "Settings (flag, or variable in .env or the environment):";

/**
 * Built from the settings table, so typed only as options: their values are checked by
 * loadConfig. Given to yargs before a command's own options, which it would otherwise untype.
 */
function settingOptions(): Record<string, Options> {
  // A secret never becomes a flag: every local user can read a process's command line.
  return Object.fromEntries(
    SETTINGS.filter((setting) => !setting.secret).map((setting) => [
      setting.flag,
      {
        describe: `${setting.description} [env ${setting.env}]`,
        type:
          setting.type === "number" && !setting.auto
            ? "number"
            : setting.type === "boolean"
              ? "boolean"
              : "string",
        // A list's value is several choices with commas: loadConfig checks each.
        choices: setting.type === "enum" && setting.choices ? [...setting.choices] : undefined,
        group: SETTINGS_GROUP,
      } satisfies Options,
    ]),
  );
}

/** The sign-in option, after the settings, for the commands that need a configuration. */
const SIGN_IN = {
  browser: {
    type: "boolean",
    default: true,
    describe: "let oauth2c open a browser for the sign-in (--no-browser: only print the URL)",
    group: SETTINGS_GROUP,
  },
} satisfies Record<string, Options>;

function interruptions(): { signal: AbortSignal; forceSignal: AbortSignal } {
  const first = new AbortController();
  const second = new AbortController();
  // Every running imapsync listens to both (up to 64 at once, with --max-concurrency): Node's
  // warning at 11 listeners would be printed over the live view.
  setMaxListeners(4 * 64, first.signal, second.signal);
  const onSignal = (name: NodeJS.Signals) => {
    if (!first.signal.aborted) {
      process.stderr.write(
        `\n${name} received: stopping. Running mailboxes finish their current message and are marked interrupted; press Ctrl-C again to stop at once.\n`,
      );
      first.abort(name);
    } else {
      second.abort(name);
    }
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  return { signal: first.signal, forceSignal: second.signal };
}

/** Only the long-running commands catch signals; the others die of them as usual. */
function migrationIo(): CommandIo {
  return { stdout: process.stdout, stderr: process.stderr, env: process.env, ...interruptions() };
}

/** The commands that do not catch signals. */
const io = { stdout: process.stdout, stderr: process.stderr, env: process.env };

/**
 * The inputs of `diagnose` as typed: yargs drops a lone "-" from positionals, so they are read from
 * the words after the command (options removed) and after "--" (taken as they are).
 */
function diagnoseInputs(argv: string[], afterDashes: string[]): string[] {
  const end = argv.indexOf("--");
  const words = argv.slice(argv.indexOf("diagnose") + 1, end === -1 ? undefined : end);
  return [...words.filter((word) => word === "-" || !word.startsWith("-")), ...afterDashes];
}

/** The words after "--", which yargs (populate--) keeps as they were typed. */
function wordsAfterDashes(words: unknown): string[] {
  return Array.isArray(words) ? words.map(String) : [];
}

/** What the chosen command's handler leaves for the process to exit with. */
interface Result {
  exitCode: number;
}

function defineToken(y: Argv, _result: Result): Argv {
  return y.command(
    "token",
    "Get an access token by the configured grant (sign-in, or refresh) and save it in the work directory; or --import one obtained elsewhere, or --forget it",
    (y) =>
      y
        .group(["import", "forget"], "Token:")
        .options(settingOptions())
        .options({
          ...SIGN_IN,
          import: {
            type: "string",
            describe:
              "check and save the access token in this file (its first line, or oauth2c's JSON output)",
          },
          forget: {
            type: "boolean",
            describe:
              "remove the saved access tokens ITEMS needs (IMAP, Microsoft Graph), their metadata and the refresh token, unless the other API's token still renews with it",
          },
        })
        .conflicts("import", "forget"),
    async (flags) => {
      const { loadConfig } = await import("./config/load.js");
      const { forgetCommand, importCommand, tokenCommand } = await import("./commands/token.js");
      const out = { out: (line: string) => io.stdout.write(`${line}\n`) };
      if (flags.forget || flags.import !== undefined) {
        const config = loadConfig(flags, { env: io.env, require: [] });
        if (flags.import !== undefined) await importCommand(config, String(flags.import), out);
        else await forgetCommand(config, out);
        return;
      }
      const config = loadConfig(flags, { env: io.env, require: ["oauth2c", "token"] });
      await tokenCommand(
        config,
        { callbackPort: config.callbackPort, openBrowser: flags.browser !== false },
        out,
      );
    },
  );
}

function defineCheck(y: Argv, result: Result): Argv {
  return y.command(
    "check",
    "Preflight: programs, configuration, token, then imapsync --justfoldersizes (log in, open every folder) for every mailbox at once; lists what to fix before migrating",
    (y) =>
      y
        .group(["users"], "Check:")
        .options(settingOptions())
        .options({ ...SIGN_IN, users: USERS }),
    async (flags) => {
      boundHeapGrowth();
      const { checkCommand } = await import("./commands/check.js");
      // A repeated --users arrives as an array, whatever its type says: one path, as always.
      result.exitCode = await checkCommand({ ...flags, users: String(flags.users) }, migrationIo());
    },
  );
}

function defineGrants(y: Argv, result: Result): Argv {
  return y.command(
    "grants",
    "Write the Exchange Online PowerShell scripts that enable IMAP and grant FullAccess on the mailboxes of a users file, and the one that removes it",
    (y) =>
      y
        .group(["users", "out"], "Grants:")
        .options(settingOptions())
        .options({
          users: USERS,
          out: { type: "string", describe: "folder for the two scripts (default: WORK_DIR)" },
        }),
    async (flags) => {
      const { grantsCommand } = await import("./commands/grants.js");
      result.exitCode = await grantsCommand({ ...flags, users: String(flags.users) }, io);
    },
  );
}

const MIGRATE_OPTIONS = {
  users: USERS,
  only: {
    type: "string",
    array: true,
    describe: "only mailboxes matching these patterns (e.g. '*@contoso.com')",
  },
  exclude: { type: "string", array: true, describe: "skip mailboxes matching these patterns" },
  shard: SHARD,
  resume: {
    type: "boolean",
    default: false,
    describe: "skip mailboxes already ok in the work directory's report",
  },
  "stop-leftovers": STOP_LEFTOVERS,
  events: EVENTS,
  plan: {
    type: "boolean",
    default: false,
    describe:
      "print the imapsync command of the next attempt of every mailbox and exit (no token, no connection)",
  },
  json: { type: "boolean", default: false, describe: "with --plan: one JSON object per line" },
  "dry-run": {
    type: "boolean",
    default: false,
    describe: "imapsync --dry: show what would be copied, write nothing",
  },
  verify: {
    type: "boolean",
    default: false,
    describe: "verify each mailbox once its copy ended ok (as the verify command does)",
  },
} satisfies Record<string, Options>;

const VERIFY_OPTIONS = {
  users: USERS,
  only: MIGRATE_OPTIONS.only,
  exclude: MIGRATE_OPTIONS.exclude,
  "stop-leftovers": STOP_LEFTOVERS,
} satisfies Record<string, Options>;

function defineVerify(y: Argv, result: Result): Argv {
  return y.command(
    "verify",
    "Count every folder on both sides (nothing is copied) and record whether each mailbox arrived whole",
    (y) =>
      y
        .group(Object.keys(VERIFY_OPTIONS), "Verify:")
        .epilogue("Options after -- are passed to imapsync (those the tool manages are refused).")
        .options(settingOptions())
        .options({ ...SIGN_IN, ...VERIFY_OPTIONS }),
    async (flags) => {
      const { verifyCommand } = await import("./commands/verify.js");
      result.exitCode = await verifyCommand(flags, migrationIo());
    },
  );
}

function defineMigrate(y: Argv, result: Result): Argv {
  return y.command(
    "migrate",
    "Run imapsync for every mailbox of the users file, with retries and a report",
    (y) =>
      y
        .group(Object.keys(MIGRATE_OPTIONS), "Migrate:")
        .epilogue("Options after -- are passed to imapsync (those the tool manages are refused).")
        .options(settingOptions())
        .options({ ...SIGN_IN, ...MIGRATE_OPTIONS }),
    async (flags) => {
      boundHeapGrowth();
      const { migrateCommand } = await import("./commands/migrate.js");
      result.exitCode = await migrateCommand(flags, migrationIo());
    },
  );
}

function defineRetry(y: Argv, result: Result): Argv {
  return y.command(
    "retry",
    "Rerun the mailboxes of a report that are not ok, and update that report",
    (y) =>
      y
        .group(["report", "shard", "stop-leftovers", "events"], "Retry:")
        .options(settingOptions())
        .options({
          ...SIGN_IN,
          report: {
            type: "string",
            demandOption: true,
            requiresArg: true,
            describe: "report.json written by migrate",
          },
          "stop-leftovers": STOP_LEFTOVERS,
          shard: {
            ...SHARD,
            describe:
              "rerun only shard INDEX/COUNT's mailboxes of the report, in that shard's WORK_DIR (the report is not written)",
          },
          events: EVENTS,
        }),
    async (flags) => {
      boundHeapGrowth();
      const { retryCommand } = await import("./commands/retry.js");
      result.exitCode = await retryCommand(flags, migrationIo());
    },
  );
}

function defineDiagnose(y: Argv, result: Result): Argv {
  return y.command(
    "diagnose [files..]",
    "Classify imapsync logs (or - for standard input): class, remedy and the deciding lines",
    (y) =>
      y
        .positional("files", {
          type: "string",
          array: true,
          describe: "log files, or - for stdin",
        })
        .option("json", {
          type: "boolean",
          default: false,
          describe: "one JSON object per line and input",
        }),
    async (flags) => {
      const { diagnose } = await import("./commands/diagnose.js");
      result.exitCode = await diagnose(
        diagnoseInputs(hideBin(process.argv), wordsAfterDashes(flags["--"])),
        { json: flags.json },
        { stdout: io.stdout, stdin: process.stdin },
      );
    },
  );
}

function defineReport(y: Argv, result: Result): Argv {
  return y.command("report", "Files made from reports: html, or merge the reports of shards", (y) =>
    y
      .command(
        "html",
        "Rewrite report.html and report.csv from a report.json",
        (z) =>
          z
            .option("report", {
              type: "string",
              requiresArg: true,
              describe: "report.json to read (default: WORK_DIR/report.json)",
            })
            .option("work-dir", { type: "string", describe: "work directory [env WORK_DIR]" }),
        async (flags) => {
          const { reportHtmlCommand } = await import("./commands/report.js");
          result.exitCode = await reportHtmlCommand(flags, io);
        },
      )
      .command(
        "merge <reports..>",
        "Merge shard reports into one: the JSON of --out, and the CSV and HTML next to it (merged.json, merged.csv, merged.html)",
        (z) =>
          z
            .positional("reports", {
              type: "string",
              array: true,
              describe: "the report.json of each shard",
            })
            .option("out", {
              type: "string",
              demandOption: true,
              requiresArg: true,
              describe:
                "merged report to write (.json); the .csv and .html of the same name go next to it",
            }),
        async (flags) => {
          const { reportMergeCommand } = await import("./commands/report-merge.js");
          result.exitCode = await reportMergeCommand(
            { reports: flags.reports ?? [], out: String(flags.out) },
            io,
          );
        },
      )
      .demandCommand(1, "Name a report subcommand: html or merge."),
  );
}

/** The words that name a command, as `--help` takes them: `migrate`, `report merge`. */
const COMMAND_WORDS = new Set([
  "token",
  "check",
  "grants",
  "migrate",
  "verify",
  "retry",
  "report",
  "diagnose",
]);

/**
 * yargs' own message, as a sentence, with the help of the command that was given. A flag given
 * without its value (`--users` at the end) is named as such.
 */
function usageMessage(message: string, argv: string[]): string {
  const bare = /^Not enough arguments following: (\S+)$/.exec(message);
  const sentence = bare ? `--${bare[1]} needs a value.` : message.replace(/\.?$/, ".");
  const words = argv.filter((word) => !word.startsWith("-"));
  const command = COMMAND_WORDS.has(words[0] ?? "")
    ? words[0] === "report" && ["html", "merge"].includes(words[1] ?? "")
      ? `${words[0]} ${words[1]} `
      : `${words[0]} `
    : "";
  return `${sentence} See \`m365-imapsync ${command}--help\`.`;
}

async function main(argv: string[]): Promise<number> {
  const result: Result = { exitCode: ExitCode.ok };
  const commands = [
    defineToken,
    defineCheck,
    defineGrants,
    defineMigrate,
    defineVerify,
    defineRetry,
    defineReport,
    defineDiagnose,
  ];
  const parser = commands.reduce(
    (y, add) => add(y, result),
    yargs(argv).scriptName("m365-imapsync").parserConfiguration({ "populate--": true }) as Argv,
  );
  await parser
    .demandCommand(
      1,
      "Name a command: token, check, grants, migrate, verify, retry, report or diagnose.",
    )
    .strict()
    .fail((message, error) => {
      // yargs reports some usage mistakes (a flag without its value) as its own YError.
      if (error && error.name !== "YError") throw error;
      throw new UserError(usageMessage(message || error.message, argv), ExitCode.badInput);
    })
    .epilogue(
      "Exit codes: 0 all ok; 1 a mailbox is not ok (or diagnose found a failure); 2 bad input or configuration; 3 no token; 130/143 interrupted; 70 internal error (a bug: please report it with the output).",
    )
    .help()
    .version()
    .wrap(Math.min(110, process.stdout.columns ?? 110))
    .parseAsync();
  return result.exitCode;
}

main(hideBin(process.argv)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof UserError) {
      process.stderr.write(`${error.message}\n`);
      process.exitCode = error.exitCode;
    } else {
      process.stderr.write(
        `Internal error (please report it with this output): ${String((error as Error)?.stack ?? error)}\n`,
      );
      process.exitCode = INTERNAL_ERROR;
    }
  },
);
