// What the benchmarks that time real imapsync runs share: where the built CLI is, and the real
// imapsync they need (never in the repository: IMAPSYNC_BIN names one fetched by hand).
import path from "node:path";

export const root = path.resolve(import.meta.dirname, "../..");
export const cli = path.join(root, "dist/src/cli.js");

/** IMAPSYNC_BIN, or the benchmark stops with what to set. */
export function realImapsync(): string {
  const imapsync = process.env.IMAPSYNC_BIN;
  if (imapsync) return imapsync;
  console.error("Set IMAPSYNC_BIN to a real imapsync (this benchmark measures real runs).");
  process.exit(2);
}
