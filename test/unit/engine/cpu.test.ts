// The CPU reader on fake /proc and /sys trees laid out like cgroup v2, v1 and a v1 container, and
// on this machine's own.
import assert from "node:assert/strict";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { availableParallelism } from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { CpuMeter, cpuReader } from "../../../src/engine/cpu.js";
import { tempDir } from "../../helpers/env.js";

const roots: string[] = [];
after(() => Promise.all(roots.map((r) => rm(r, { recursive: true, force: true }))));

async function tree(files: Record<string, string>): Promise<string> {
  const root = await tempDir("cpu-");
  roots.push(root);
  for (const [file, text] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(root, file)), { recursive: true });
    await writeFile(path.join(root, file), text);
  }
  return root;
}

describe("cpuReader", () => {
  it("cgroup v2: the tightest cpu.max on the way up, usage from cpu.stat", async () => {
    const root = await tree({
      "proc/self/cgroup": "0::/kubepods/pod1/app\n",
      "sys/fs/cgroup/cgroup.controllers": "cpu memory\n",
      "sys/fs/cgroup/kubepods/cpu.max": "max 100000\n",
      "sys/fs/cgroup/kubepods/pod1/cpu.max": "150000 100000\n",
      "sys/fs/cgroup/kubepods/pod1/app/cpu.max": "max 100000\n",
      "sys/fs/cgroup/kubepods/pod1/app/cpu.stat": "usage_usec 2500000\nuser_usec 2000000\n",
    });
    const reader = cpuReader(root);
    assert.equal(reader.limit, Math.min(1.5, availableParallelism()));
    assert.match(reader.source, /cgroup v2 cpu\.max \(1\.5 CPUs\)/);
    assert.equal(reader.usageMs(), 2500);
  });

  it("cgroup v2 without a limit: the machine's CPUs, and the tool's own processes, not the machine's load", async () => {
    const root = await tree({
      "proc/self/cgroup": "0::/\n",
      "proc/self/stat": "4242 (node dist/src/cli.js) S 1 2 3 4 5 6 7 8 9 10 150 50 700 100 20 0\n",
      "sys/fs/cgroup/cgroup.controllers": "cpu\n",
      "sys/fs/cgroup/cpu.stat": "usage_usec 99000000000\n",
    });
    const reader = cpuReader(root);
    assert.equal(reader.limit, availableParallelism());
    assert.match(reader.source, /CPUs of the machine, no cgroup limit/);
    // (150 + 50 + 700 + 100) ticks of 10 ms: itself and the children it waited for.
    assert.equal(reader.usageMs(), 10_000);
  });

  it("cgroup v1 in a container: the host's path is absent, the container's root holds the quota", async () => {
    const root = await tree({
      "proc/self/cgroup": "5:cpu,cpuacct:/docker/abc\n4:memory:/docker/abc\n0::/\n",
      "sys/fs/cgroup/cpu/cpu.cfs_quota_us": "100000\n",
      "sys/fs/cgroup/cpu/cpu.cfs_period_us": "100000\n",
      "sys/fs/cgroup/cpuacct/cpuacct.usage": "7000000\n",
    });
    const reader = cpuReader(root);
    assert.equal(reader.limit, 1);
    assert.match(reader.source, /cgroup v1 cpu\.cfs_quota_us \(1 CPUs\)/);
    assert.equal(reader.usageMs(), 7);
  });

  it("cgroup v1 with quota -1 (no limit) and no readable usage", async () => {
    const root = await tree({
      "proc/self/cgroup": "1:cpu:/\n",
      "sys/fs/cgroup/cpu/cpu.cfs_quota_us": "-1\n",
      "sys/fs/cgroup/cpu/cpu.cfs_period_us": "100000\n",
      "sys/fs/cgroup/cpuacct/cpuacct.usage": "99000000000\n",
    });
    const reader = cpuReader(root);
    assert.equal(reader.limit, availableParallelism());
    assert.equal(reader.usageMs(), undefined);
    assert.equal(new CpuMeter(reader).busy(), undefined);
  });

  it("this machine: a positive limit; a busy loop shows as busy CPU", (t) => {
    const reader = cpuReader();
    assert.ok(reader.limit > 0, reader.source);
    if (reader.usageMs() === undefined) {
      t.skip(`no readable cgroup CPU usage here (${reader.source})`);
      return;
    }
    let now = 0;
    const meter = new CpuMeter(reader, () => now);
    meter.busy();
    const before = process.cpuUsage();
    const until = Date.now() + 300;
    while (Date.now() < until); // busy for 300 ms of wall time, whatever share of a CPU we get
    const used = process.cpuUsage(before);
    now = 1000; // a second on the meter's clock: busy × limit is then CPU-seconds used
    const busyMs = meter.busy()! * reader.limit * 1000;
    const ownMs = (used.user + used.system) / 1000;
    // Without a limit the reader counts this process (10 ms ticks); with one, the whole cgroup.
    assert.ok(
      busyMs >= ownMs - 30,
      `meter ${busyMs.toFixed(0)} ms, process ${ownMs.toFixed(0)} ms`,
    );
  });
});

describe("CpuMeter", () => {
  it("the share of the limit used between two calls", () => {
    let now = 0;
    let usage = 0;
    const meter = new CpuMeter({ limit: 2, source: "test", usageMs: () => usage }, () => now);
    assert.equal(meter.busy(), undefined, "nothing to compare with yet");
    now = 1000;
    usage = 1500;
    assert.equal(meter.busy(), 0.75);
    now = 2000;
    usage = 3500;
    assert.equal(meter.busy(), 1);
  });
});
