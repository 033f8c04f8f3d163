// A browser for the stand-in, installed as `xdg-open` first on PATH (see `openerDir`): oauth2c
// hands it the authorize URL; it signs in at once (the stand-in auto-logs `login_hint` in) and
// lets the form_post page reach oauth2c's callback. Like a real opener it returns immediately,
// because oauth2c starts its callback server only after the opener has returned; a detached copy
// of this script does the browsing.
import { spawn } from "node:child_process";
import { chmod, mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { signInHeadless } from "./oauth-server.js";

const BROWSING = "STANDIN_BROWSER_BROWSING";

/** Writes `<dir>/xdg-open` running this script; put `dir` first on PATH. */
export async function openerDir(dir: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  const opener = path.join(dir, "xdg-open");
  const script = fileURLToPath(import.meta.url);
  await writeFile(
    opener,
    `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(script)} "$@"\n`,
  );
  await chmod(opener, 0o755);
  return dir;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const url = process.argv[2];
  if (!url) {
    console.error("Usage: browser.js <authorize URL>");
    process.exit(2);
  }
  if (process.env[BROWSING]) {
    await signInHeadless(url);
  } else {
    spawn(process.execPath, [process.argv[1]!, url], {
      detached: true,
      stdio: "ignore",
      env: { ...process.env, [BROWSING]: "1" },
    }).unref();
  }
}
