// Items per second the Graph source reads and converts, from the Graph stand-in (loopback): a
// mailbox of BENCH_ITEMS events and as many contacts (default 1000, every fifth with a photo).
// Not a test: `npm run bench:graph-source`. The destination's share (DAV) is measured apart.
import { loadavg } from "node:os";
import { performance } from "node:perf_hooks";
import { startGraph } from "../scripts/standin/graph.js";
import { benchSeed } from "../scripts/standin/graph-seed.js";
import { GraphSource } from "../src/graph/source.js";

const count = Number(process.env.BENCH_ITEMS ?? 1000);
const address = "big@contoso.test";
const graph = await startGraph({
  verify: async () => ({ who: "bench" }),
  seed: { [address]: benchSeed(address, count) },
});
const now = new Date();
const token = {
  accessToken: "bench",
  obtainedAt: now,
  expiresAt: new Date(now.getTime() + 3_600_000),
  claims: {},
};
const source = new GraphSource({
  address,
  settings: {
    url: graph.url,
    calendarWindow: { backYears: 2, aheadYears: 5 },
    attachmentMaxBytes: 10 * 1024 * 1024,
    vcardVersion: "3.0",
  },
  throttleBudgetMs: 600_000,
  tokens: { fresh: async () => token, renewAfterExpiry: async () => token },
});
try {
  for (const kind of ["calendar", "contacts"] as const) {
    const before = graph.requests.length;
    const started = performance.now();
    const { owned } = await source.collections(kind);
    let items = 0;
    let bytes = 0;
    for (const collection of owned)
      for await (const item of source.items(collection)) {
        items++;
        bytes += Buffer.byteLength(item.body);
      }
    const seconds = (performance.now() - started) / 1000;
    console.log(
      `${kind}: ${items} items in ${seconds.toFixed(2)} s (${Math.round(items / seconds)} items/s), ${Math.round(bytes / 1024)} KiB, ${graph.requests.length - before} requests`,
    );
  }
  console.log(
    `load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(" ")}`,
  );
} finally {
  await graph.stop();
}
