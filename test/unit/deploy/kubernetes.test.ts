import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, test } from "node:test";
import { Job } from "kubernetes-models/batch/v1/Job";
import { parse as parseCsv } from "csv-parse/sync";
import { checkManifests, parseManifests } from "../../helpers/kubernetes-manifests.js";

const DIR = path.resolve(import.meta.dirname, "../../../../deploy/kubernetes");
const FILES = readdirSync(DIR)
  .filter((name) => name.endsWith(".yaml"))
  .sort()
  .map((name) => ({ file: name, text: readFileSync(path.join(DIR, name), "utf8") }));

// The manifests as plain data: the checks below walk them like the API server would.
/* eslint-disable @typescript-eslint/no-explicit-any */
type Obj = Record<string, any>;
const OBJECTS: Obj[] = FILES.flatMap(({ file, text }) =>
  parseManifests(file, text).manifests.map((m) => m.object),
);

function find(kind: string, name: string): Obj {
  const found = OBJECTS.find((o) => o.kind === kind && o.metadata?.name === name);
  assert.ok(found, `no ${kind} named ${name} in deploy/kubernetes`);
  return found;
}

const settings = find("ConfigMap", "m365-imapsync-settings").data as Record<string, string>;
const migrate = find("Job", "m365-imapsync-migrate");
const merge = find("Job", "m365-imapsync-merge");
const podOf = (job: Obj): Obj => job.spec.template.spec;
const containerOf = (job: Obj): Obj => podOf(job).containers[0];
const shardCount = Number(settings.SHARD_COUNT);

function mountOf(job: Obj, volumeName: string): Obj {
  const mount = containerOf(job).volumeMounts.find((m: Obj) => m.name === volumeName);
  assert.ok(mount, `${job.metadata.name} does not mount ${volumeName}`);
  return mount;
}

function volumeOf(job: Obj, name: string): Obj {
  const volume = podOf(job).volumes.find((v: Obj) => v.name === name);
  assert.ok(volume, `${job.metadata.name} has no volume ${name}`);
  return volume;
}

/** The volume mounted at the folder that holds `file`, and the file's key inside it. */
function mountedFile(job: Obj, file: string): { volume: Obj; key: string; mount: Obj } {
  const mount = containerOf(job).volumeMounts.find((m: Obj) => path.dirname(file) === m.mountPath);
  assert.ok(mount, `nothing is mounted at ${path.dirname(file)} for ${file}`);
  return { mount, volume: volumeOf(job, mount.name), key: path.basename(file) };
}

describe("Kubernetes manifests (deploy/kubernetes)", () => {
  test("every manifest passes the API schemas strictly (kubernetes-models, no unknown field)", async () => {
    assert.ok(FILES.length >= 4, "the manifests are there");
    assert.deepEqual(await checkManifests(FILES), []);
  });

  test("a misspelled field fails the check, though kubernetes-models' validate() lets it through", async () => {
    const job = FILES.find((f) => f.file === "migrate-job.yaml");
    assert.ok(job);
    const typos: [string, string, RegExp][] = [
      [
        "backoffLimitPerIndex:",
        "backofLimitPerIndex:",
        /spec\.backofLimitPerIndex: unknown field \(did you mean backoffLimitPerIndex\?\)/,
      ],
      [
        "readOnlyRootFilesystem:",
        "readOnlyRootFileSystem:",
        /spec\.template\.spec\.containers\[0\]\.securityContext\.readOnlyRootFileSystem: unknown field/,
      ],
      [
        "subPathExpr:",
        "subpathExpr:",
        /spec\.template\.spec\.containers\[0\]\.volumeMounts\[0\]\.subpathExpr: unknown field/,
      ],
      [
        "onPodConditions:",
        "onPodCondition:",
        /podFailurePolicy\.rules\[0\]\.onPodCondition: unknown/,
      ],
    ];
    for (const [right, wrong, problem] of typos) {
      assert.ok(job.text.includes(right), right);
      const text = job.text.replace(right, wrong);
      const [manifest] = parseManifests(job.file, text).manifests;
      assert.doesNotThrow(
        () => new Job(manifest?.object as never).validate(),
        `kubernetes-models' own validate() now refuses ${wrong}: the strict walk may be redundant`,
      );
      const problems = await checkManifests([{ file: job.file, text }]);
      assert.equal(problems.length, 1, problems.join("\n"));
      assert.match(problems[0] ?? "", problem);
    }
  });

  test("wrong types, a wrong kind, duplicate keys and broken YAML fail too", async () => {
    const job = FILES.find((f) => f.file === "migrate-job.yaml")?.text ?? "";
    const cases: [string, RegExp][] = [
      [job.replace("completions: 3", "completions: three"), /spec\/completions must be integer/],
      [
        job.replace("restartPolicy: Never", "restartPolicy: Sometimes"),
        /restartPolicy must be equal to one of/,
      ],
      [job.replace("kind: Job", "kind: Jobb"), /kubernetes-models has no Jobb in batch\/v1/],
      [job.replace("  parallelism: 3", "  parallelism: 3\n  parallelism: 4"), /unique|duplicate/i],
      [job.replace("spec:\n  completionMode", "spec:\n completionMode"), /document 0/],
    ];
    for (const [text, problem] of cases) {
      const problems = await checkManifests([{ file: "migrate-job.yaml", text }]);
      assert.ok(
        problems.some((p) => problem.test(p)),
        `expected ${problem}, got:\n${problems.join("\n")}`,
      );
    }
  });
});

describe("the migration Job runs one shard per index", () => {
  test("Indexed, completions = parallelism = SHARD_COUNT, each pod `migrate --resume`", () => {
    assert.ok(shardCount >= 1);
    assert.equal(migrate.spec.completionMode, "Indexed");
    assert.equal(migrate.spec.completions, shardCount);
    assert.equal(migrate.spec.parallelism, shardCount);
    assert.equal(podOf(migrate).restartPolicy, "Never");
    const args: string[] = containerOf(migrate).args;
    assert.equal(args[0], "migrate");
    assert.ok(args.includes("--resume"), "every retry resumes");
    assert.ok(
      !args.some((a) => a.startsWith("--shard")),
      "the shard comes from JOB_COMPLETION_INDEX",
    );
    assert.deepEqual(containerOf(migrate).envFrom, [
      { configMapRef: { name: "m365-imapsync-settings" } },
    ]);
  });

  test("exit 1 and 2 fail the index at once; a disruption is retried; others up to the limit", () => {
    assert.ok(migrate.spec.backoffLimitPerIndex >= 1);
    const rules: Obj[] = migrate.spec.podFailurePolicy.rules;
    const failIndex = rules.find((r) => r.action === "FailIndex");
    assert.deepEqual(failIndex?.onExitCodes, {
      containerName: containerOf(migrate).name,
      operator: "In",
      values: [1, 2],
    });
    const ignore = rules.find((r) => r.action === "Ignore");
    assert.deepEqual(ignore?.onPodConditions, [{ type: "DisruptionTarget", status: "True" }]);
    assert.equal(rules.length, 2);
  });

  test("a drained pod has time to stop its runs and write its report", () => {
    const grace = Number(/^(\d+)s$/.exec(settings.STOP_GRACE ?? "")?.[1]);
    // STOP_GRACE, then SIGTERM, SIGKILL 2 s later, then the report is written.
    assert.ok(podOf(migrate).terminationGracePeriodSeconds >= grace + 10);
  });

  test("each index works in its own folder of one shared volume", () => {
    const work = mountOf(migrate, "work");
    assert.equal(work.mountPath, settings.WORK_DIR);
    assert.match(work.subPathExpr, /\$\(JOB_COMPLETION_INDEX\)/);
    const claim = volumeOf(migrate, "work").persistentVolumeClaim.claimName;
    const pvc = find("PersistentVolumeClaim", claim);
    assert.deepEqual(pvc.spec.accessModes, ["ReadWriteMany"], "pods of one Job span nodes");
  });

  test("unattended: client credentials, the secret from a file", () => {
    assert.equal(settings.GRANT, "client-credentials");
    assert.equal(settings.APP_SECRET, undefined, "never the secret itself in a ConfigMap");
    const { volume, key, mount } = mountedFile(migrate, settings.APP_SECRET_FILE ?? "");
    assert.equal(mount.readOnly, true);
    const secret = find("Secret", volume.secret.secretName);
    assert.ok(key in secret.stringData, `the Secret has no key ${key}`);
    assert.equal(settings.NON_INTERACTIVE, "true");
  });

  test("the users file and every password file it names are mounted, read-only", () => {
    const users = find("ConfigMap", "m365-imapsync-users");
    const args: string[] = containerOf(migrate).args;
    const usersFile = args[args.indexOf("--users") + 1] ?? "";
    const { volume, key, mount } = mountedFile(migrate, usersFile);
    assert.equal(mount.readOnly, true);
    assert.equal(volume.configMap.name, "m365-imapsync-users");
    const text: string = users.data[key];
    assert.ok(Buffer.byteLength(text) < 1024 * 1024, "a ConfigMap holds at most 1 MiB");
    const rows: Obj[] = parseCsv(text, { columns: true });
    assert.ok(rows.length > 0);
    for (const row of rows) {
      const file = mountedFile(migrate, row.password_file);
      assert.equal(file.mount.readOnly, true);
      const secret = find("Secret", file.volume.secret.secretName);
      assert.ok(file.key in secret.stringData, `${row.source}: no key ${file.key}`);
    }
  });

  test("the merge Job reads exactly the reports the shards write", () => {
    const args: string[] = containerOf(merge).args;
    assert.deepEqual(args.slice(0, 2), ["report", "merge"]);
    const work = mountOf(migrate, "work");
    const root = mountOf(merge, "work").mountPath;
    assert.equal(volumeOf(merge, "work").persistentVolumeClaim.claimName, "m365-imapsync-work");
    const expected = Array.from({ length: shardCount }, (_, index) =>
      path.posix.join(
        root,
        work.subPathExpr.replace("$(JOB_COMPLETION_INDEX)", String(index)),
        path.posix.relative(
          work.mountPath,
          path.posix.join(settings.WORK_DIR ?? "", "report.json"),
        ),
      ),
    );
    const out = args.indexOf("--out");
    assert.deepEqual(args.slice(2, out), expected);
    assert.ok(args[out + 1]?.startsWith(`${root}/`));
  });

  for (const [name, job] of [
    ["migration", migrate],
    ["merge", merge],
  ] as const) {
    test(`the ${name} pod runs as 10001:10001, non-root, read-only root, no capabilities, writable /tmp`, () => {
      const pod = podOf(job);
      assert.equal(pod.restartPolicy, "Never");
      assert.equal(pod.automountServiceAccountToken, false);
      assert.deepEqual(
        [
          pod.securityContext.runAsNonRoot,
          pod.securityContext.runAsUser,
          pod.securityContext.runAsGroup,
          pod.securityContext.fsGroup,
        ],
        [true, 10001, 10001, 10001],
      );
      const container = containerOf(job);
      assert.equal(pod.containers.length, 1);
      assert.equal(container.securityContext.readOnlyRootFilesystem, true);
      assert.equal(container.securityContext.allowPrivilegeEscalation, false);
      assert.deepEqual(container.securityContext.capabilities, { drop: ["ALL"] });
      assert.ok(volumeOf(job, mountOf(job, "tmp").name).emptyDir, "/tmp is an emptyDir");
      assert.equal(mountOf(job, "tmp").mountPath, "/tmp");
      for (const volume of pod.volumes as Obj[]) {
        if (!volume.secret) continue;
        // Readable by the owner and group 10001 (fsGroup), by nobody else, writable by none.
        assert.equal(volume.secret.defaultMode, 0o440, volume.name);
        assert.equal(mountOf(job, volume.name).readOnly, true, volume.name);
      }
    });
  }
});
