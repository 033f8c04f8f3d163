import type { Config } from "../../src/config/types.js";

/**
 * A complete Config as loadConfig would give it, for tests of the modules below the CLI: the
 * recipe's defaults with programs found on PATH; each test overrides what it is about.
 */
export function testConfig(overrides: Partial<Config> = {}): Config {
  return {
    source: {},
    destination: { host: "imap.example.net", tls: "ssl" },
    oauth2c: { file: "oauth2c", args: [] },
    imapsync: { file: "imapsync", args: [] },
    workDir: "/var/tmp/work",
    callbackPort: 9876,
    tokenMarginMs: 0,
    concurrency: 1,
    maxConcurrency: 16,
    sliceAboveBytes: "auto",
    maxSlices: 4,
    maxAttempts: 3,
    maxBackoffMs: 600_000,
    throttleGiveUpMs: 12 * 3_600_000,
    dryRun: false,
    passthrough: [],
    items: ["mail"],
    includeNonMailFolders: false,
    grant: "implicit",
    nonInteractive: false,
    certificates: { source: { verify: true }, destination: { verify: true } },
    stopGraceMs: 5000,
    stallTimeoutMs: 0,
    graph: {
      url: "https://graph.microsoft.com/v1.0",
      calendarWindow: { backYears: 2, aheadYears: 5 },
      attachmentMaxBytes: 10 * 1024 * 1024,
      vcardVersion: "3.0",
    },
    ...overrides,
  };
}
