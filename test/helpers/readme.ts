// README's fenced shell blocks, split into the commands a person would type, and the one list
// that says where each block runs in CI: `npm test` (test/e2e/readme.test.ts), the image test
// (test/image/image.test.ts, the blocks that need Docker), or nowhere, with the reason. A block
// that is in README but not here, or here but no longer in README, fails test/e2e/readme.test.ts.
import { readFileSync } from "node:fs";
import path from "node:path";
import { ROOT } from "./env.js";

export interface Command {
  /** As typed: continuation lines and heredoc bodies included. */
  text: string;
  /** From the command's comment (`# exit 1 ...`, `# ..., exit 2: ...`); 0 when it names none. */
  exitCode: number;
}

export interface Block {
  /** The heading the block is under. */
  section: string;
  /** Its first line: how the list below names it. */
  first: string;
  text: string;
  commands: Command[];
}

export type Where =
  | { runs: "npm test"; substitutes?: Record<string, string> }
  | { runs: "image test" }
  | { reason: string };

/** Every block of README, by its first line. */
export const README_BLOCKS: Record<string, Where> = {
  "docker compose run --rm demo   # the demo, nothing to configure; exit 1 by design (compose v1: docker-compose run --rm demo)":
    {
      reason:
        "CI's Docker has no bridge network: the image test runs the same demo through the host-network override (the next block), on the test's base images; the block's second line is CI itself, which runs npm test, which runs this test",
    },
  "docker compose -f docker-compose.yml -f docker-compose.host-network.yml run --rm demo   # exit 1 by design":
    { runs: "image test" },
  "docker compose --profile demo down --volumes": { runs: "image test" },
  'docker compose run --rm m365-imapsync   # in a fresh clone, exit 2: "users.csv: the users file does not exist. ... cp users.csv.example users.csv"':
    { runs: "image test" },
  "cp users.csv.example users.csv                   # one line per mailbox: source,destination,password,password_file":
    {
      reason:
        "needs a Microsoft 365 tenant and a person to sign in; the image test runs the same compose and docker run commands against the stand-in with test settings",
    },
  "# with access:": {
    reason:
      "docker pull and save need a registry, which CI cannot reach; the image test builds from vendor/oauth2c/ and from a mirror instead",
  },
  "v=1.19.0 f=oauth2c_1.19.0_Linux_x86_64.tar.gz   # arm64: oauth2c_1.19.0_Linux_arm64.tar.gz": {
    reason:
      "downloads from GitHub, which CI cannot reach; the Dockerfile makes the same checksums.txt check, which the image test runs (an unlisted tarball fails the build)",
  },
  "npm ci && npm run build && npm link          # installs the m365-imapsync command": {
    runs: "npm test",
    // The CI checkout is built already; the built CLI stands for the linked command.
    substitutes: {
      "npm ci && npm run build && npm link          # installs the m365-imapsync command": "true",
    },
  },
  "(umask 077 && mkdir -p secrets && cat > secrets/alice.pass)   # type the password, Enter, Ctrl-D":
    {
      reason:
        "a person types the passwords, then signs in to a Microsoft 365 tenant; the stand-in block below runs token and migrate",
    },
  "m365-imapsync check   --users users.csv   # preflight: every login works, every folder opens": {
    reason:
      "needs a Microsoft 365 tenant; test/e2e/check.test.ts, migrate.test.ts and verify.test.ts run these commands through the built CLI against the doubles",
  },
  "m365-imapsync migrate --users users.csv --plan --shard-count 3   # every mailbox with its shard":
    {
      reason:
        "needs a Microsoft 365 tenant for the runs; test/e2e/shards.test.ts runs the same commands through the built CLI against the doubles",
    },
  "docker build -t registry.example.org/m365-imapsync:0.1.0 . && docker push registry.example.org/m365-imapsync:0.1.0":
    {
      reason:
        "needs a registry and a Kubernetes cluster; test/unit/deploy/kubernetes.test.ts checks the manifests and the image test runs the Job's pods as containers",
    },
  "scripts/standin-start.sh       # prints the settings; also in standin/standin.env": {
    runs: "npm test",
  },
  "bash .ci/run      # what CI runs (sudo where needed): installs Dovecot, Chromium, Docker, debootstrap, then npm ci, npm test, npm run test:image":
    {
      reason: "CI itself: it runs npm test, which runs this test, and the benchmarks are not tests",
    },
};

/** A line that opens a heredoc, and the word that closes it. */
const HEREDOC = /<<-?\s*(['"]?)(\w+)\1/;

/** The commands of a block: one per line, with `\` continuations and heredoc bodies joined. */
export function commandsOf(text: string): Command[] {
  const lines = text.split("\n");
  const commands: Command[] = [];
  for (let i = 0; i < lines.length; i++) {
    const parts = [lines[i]!];
    while (parts.at(-1)!.endsWith("\\") && i + 1 < lines.length) parts.push(lines[++i]!);
    // The comment that names the exit code ends the command's own line: the last continued
    // line, before any heredoc body.
    const own = parts.at(-1)!;
    const heredoc = HEREDOC.exec(parts.join("\n"));
    if (heredoc) while (i + 1 < lines.length && lines[i] !== heredoc[2]) parts.push(lines[++i]!);
    const command = parts.join("\n");
    if (command.trim() === "" || command.trim().startsWith("#")) continue;
    const comment = /\s#\s(.*)$/.exec(own)?.[1] ?? "";
    const exit = /\bexit (\d+)/.exec(comment);
    commands.push({ text: command, exitCode: exit ? Number(exit[1]) : 0 });
  }
  return commands;
}

/** README's ```sh blocks, in order, with the heading each is under. */
export function readmeBlocks(file = path.join(ROOT, "README.md")): Block[] {
  const blocks: Block[] = [];
  let section = "";
  let body: string[] | undefined;
  for (const line of readFileSync(file, "utf8").split("\n")) {
    if (body === undefined) {
      if (line === "```sh") body = [];
      else if (line.startsWith("```")) body = undefined;
      else section = /^#{1,4} (.+)$/.exec(line)?.[1] ?? section;
    } else if (line === "```") {
      const text = body.join("\n");
      blocks.push({ section, first: body[0] ?? "", text, commands: commandsOf(text) });
      body = undefined;
    } else body.push(line);
  }
  return blocks;
}

/** The blocks a runner must run: `npm test` or `image test`. */
export function blocksRunBy(runner: "npm test" | "image test"): Block[] {
  return readmeBlocks().filter((b) => {
    const where = README_BLOCKS[b.first];
    return where !== undefined && "runs" in where && where.runs === runner;
  });
}

/** Compose v2's spelling as compose v1 (the only one on CI machines) takes it. */
export const asComposeV1 = (command: string): string =>
  command.replace(/\bdocker compose\b/g, "docker-compose");
