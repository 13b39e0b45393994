import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import fc from "fast-check";
import { SpecError, type SpecIssue } from "../src/spec/errors.js";
import { loadJob, validateJob } from "../src/spec/job.js";

const Mi = 1024 * 1024;
const dir = mkdtempSync(join(tmpdir(), "maro-spec-job-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function writeJob(name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

function issuesOf(fn: () => unknown): readonly SpecIssue[] {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof SpecError, `expected a SpecError, got ${String(error)}`);
    return error.issues;
  }
  assert.fail("expected a SpecError");
}

function messageAt(issues: readonly SpecIssue[], path: string): string {
  const found = issues.find((issue) => issue.path === path);
  assert.ok(found, `no issue at ${path}; got ${issues.map((i) => i.path).join(", ")}`);
  return found.message;
}

const HELLO = `mode: grass/local
name: hello
allocation: {mode: single-metric-compacted, metric: memory}
components:
  learner:
    image: maro/busybox:test
    resources: {cpu: 1, memory: 256m, gpu: 0}
    num: 1
    mount: {target: /mnt/data}
    command: "echo hello"
  actor:
    image: maro/busybox:test
    resources: {cpu: 500m, memory: 512Mi}
    num: 2
    command: [python, actor.py, "--seed", "5"]
`;

const NO_RESTART = { policy: "never", max: 0, backoffMs: 0 };

describe("validateJob: valid files", () => {
  it("reads restart policies: defaults, durations, and refuses bad ones", () => {
    const ok = validateJob(
      {
        name: "r",
        components: {
          a: { resources: { cpu: 1, memory: "64m" }, command: "x", restart: { policy: "on-failure" } },
          b: {
            resources: { cpu: 1, memory: "64m" },
            command: "x",
            restart: { policy: "always", max: 5, backoff: "250ms" },
          },
        },
      },
      { runtime: "process" },
    );
    assert.deepEqual(
      ok.components.map((c) => c.restart),
      [
        { policy: "on-failure", max: 3, backoffMs: 1000 },
        { policy: "always", max: 5, backoffMs: 250 },
      ],
    );
    assert.throws(
      () =>
        validateJob(
          {
            name: "r",
            components: {
              a: {
                resources: { cpu: 1, memory: "64m" },
                command: "x",
                restart: { policy: "sometimes", max: -1, backoff: "soon" },
              },
            },
          },
          { runtime: "process" },
        ),
      (err: Error) => {
        assert.match(err.message, /components\.a\.restart\.policy/);
        assert.match(err.message, /components\.a\.restart\.max/);
        assert.match(err.message, /components\.a\.restart\.backoff: "soon" is not a backoff/);
        return true;
      },
    );
  });

  it("converts to the wire JobSpec, with sourceDir the file's directory", () => {
    const file = writeJob("hello.yml", HELLO);
    assert.deepEqual(loadJob(file, { runtime: "docker" }), {
      name: "hello",
      allocationMode: "single-metric-compacted",
      allocationMetric: "memory",
      components: [
        {
          type: "learner",
          image: "maro/busybox:test",
          resources: { cpuMillis: 1000, memoryBytes: 256 * Mi, gpu: 0 },
          num: 1,
          mountTarget: "/mnt/data",
          command: ["echo hello"],
          shell: true,
          restart: NO_RESTART,
          constraints: {},
          spreadAcross: "",
        },
        {
          type: "actor",
          image: "maro/busybox:test",
          resources: { cpuMillis: 500, memoryBytes: 512 * Mi, gpu: 0 },
          num: 2,
          mountTarget: "",
          command: ["python", "actor.py", "--seed", "5"],
          shell: false,
          restart: NO_RESTART,
          constraints: {},
          spreadAcross: "",
        },
      ],
      sourceDir: dir,
      priority: 0,
    });
  });

  it("fills MARO's defaults: balanced cpu allocation, num 1, gpu 0, no mount", () => {
    const spec = validateJob(
      { name: "a", components: { worker: { resources: { cpu: 2, memory: "1G" }, command: "true" } } },
      { runtime: "process" },
    );
    assert.equal(spec.allocationMode, "single-metric-balanced");
    assert.equal(spec.allocationMetric, "cpu");
    assert.deepEqual(spec.components, [
      {
        type: "worker",
        image: "",
        resources: { cpuMillis: 2000, memoryBytes: 1e9, gpu: 0 },
        num: 1,
        mountTarget: "",
        command: ["true"],
        shell: true,
        restart: NO_RESTART,
        constraints: {},
        spreadAcross: "",
      },
    ]);
    assert.equal(spec.sourceDir, "");
    assert.equal(spec.priority, 0);
  });

  it("lets docker components leave command out (the image's default)", () => {
    const spec = validateJob(
      { name: "a", components: { worker: { image: "busybox:1.36", resources: { cpu: 1, memory: "64m" } } } },
      { runtime: "docker" },
    );
    assert.deepEqual(spec.components[0]?.command, []);
    assert.equal(spec.components[0]?.shell, false);
  });

  it("accepts every MARO grass mode, and no mode", () => {
    for (const mode of ["grass/local", "grass/azure", "grass/on-premises", undefined]) {
      const doc = { mode, name: "a", components: { w: { resources: { cpu: 1, memory: "8m" }, command: "true" } } };
      assert.equal(validateJob(doc, { runtime: "process" }).name, "a");
    }
  });
});

describe("validateJob: problems", () => {
  const BAD = `mode: grass/local
name: Hello_World
allocation: {mode: single-metric-balancd, metrc: cpu}
components:
  learner:
    image: maro/busybox:test
    resources: {cpu: 1, memory: lots, gpu: 0}
    num: 1
    mount: {target: ../etc}
    command: [python, 5]
  actor:
    resources: {cpu: 0.0001, memory: 256}
    num: 1001
    comand: "echo hi"
`;

  it("reports every problem with its YAML path and position", () => {
    const file = writeJob("bad.yml", BAD);
    let error: unknown;
    try {
      loadJob(file, { runtime: "docker" });
    } catch (caught) {
      error = caught;
    }
    assert.ok(error instanceof SpecError);
    const issues = error.issues;
    assert.deepEqual(
      issues.map((i) => i.path),
      [
        "name",
        "allocation.mode",
        "allocation.metrc",
        "components.learner.resources.memory",
        "components.learner.mount.target",
        "components.learner.command[1]",
        "components.actor.image",
        "components.actor.resources.cpu",
        "components.actor.resources.memory",
        "components.actor.num",
        "components.actor.comand",
      ],
    );
    assert.equal(
      messageAt(issues, "components.learner.resources.memory"),
      '"lots" is not a memory size; use 2048m or 2Gi',
    );
    assert.match(messageAt(issues, "components.actor.num"), /whole number from 1 to 1000, got 1001/);
    assert.match(messageAt(issues, "allocation.metrc"), /^unknown field 'metrc'; did you mean 'metric'\?$/);
    assert.match(messageAt(issues, "allocation.mode"), /did you mean single-metric-balanced\?/);
    assert.match(messageAt(issues, "name"), /did you mean "hello-world"\?/);
    assert.match(messageAt(issues, "components.actor.resources.memory"), /write 256m for 256 MiB/);
    assert.match(messageAt(issues, "components.actor.image"), /required by the docker runtime/);
    assert.match(messageAt(issues, "components.learner.command[1]"), /quote it: "5"/);
    const memory = issues.find((i) => i.path === "components.learner.resources.memory");
    assert.equal(memory?.line, 7);
    assert.equal(memory?.column, 33);
    assert.ok(
      error.message
        .split("\n")
        .includes(`components.learner.resources.memory: "lots" is not a memory size; use 2048m or 2Gi (${file}:7:33)`),
      error.message,
    );
    assert.equal(error.message.split("\n").length, issues.length);
  });

  it("requires command under the process runtime but not image", () => {
    const issues = issuesOf(() =>
      validateJob({ name: "a", components: { w: { resources: { cpu: 1, memory: "8m" } } } }, { runtime: "process" }),
    );
    assert.deepEqual(
      issues.map((i) => i.path),
      ["components.w.command"],
    );
  });

  it("requires name, components, and cpu and memory of each component", () => {
    assert.deepEqual(
      issuesOf(() => validateJob({}, { runtime: "process" })).map((i) => [i.path, i.message.split(";")[0]]),
      [
        ["name", "required"],
        ["components", "required"],
      ],
    );
    assert.deepEqual(
      issuesOf(() => validateJob({ name: "a", components: {} }, { runtime: "process" })).map((i) => i.path),
      ["components"],
    );
    const issues = issuesOf(() =>
      validateJob(
        { name: "a", components: { w: { resources: {}, command: "x" }, v: { command: "x" } } },
        { runtime: "process" },
      ),
    );
    assert.deepEqual(
      issues.map((i) => i.path),
      ["components.w.resources.cpu", "components.w.resources.memory", "components.v.resources"],
    );
  });

  it("refuses zero resources, bad mounts, empty commands and other modes", () => {
    const component = (extra: Record<string, unknown>) => ({
      name: "a",
      components: { w: { resources: { cpu: 1, memory: "8m" }, command: "x", ...extra } },
    });
    const cases: Array<[Record<string, unknown>, string, RegExp]> = [
      [{ resources: { cpu: 0, memory: "8m" } }, "components.w.resources.cpu", /more than 0/],
      [{ resources: { cpu: 1, memory: "0" } }, "components.w.resources.memory", /more than 0/],
      [{ resources: { cpu: -1, memory: "8m" } }, "components.w.resources.cpu", /negative/],
      [{ mount: { target: "../etc" } }, "components.w.mount.target", /not an absolute path/],
      [{ mount: { target: "/data/../etc" } }, "components.w.mount.target", /contains '\.\.'/],
      [{ mount: { target: "/" } }, "components.w.mount.target", /cannot be \//],
      [{ mount: {} }, "components.w.mount.target", /required/],
      [{ command: "" }, "components.w.command", /empty/],
      [{ command: [] }, "components.w.command", /empty list/],
      [{ command: { run: "x" } }, "components.w.command", /got a mapping/],
      [{ num: 1.5 }, "components.w.num", /whole number/],
      [{ image: "-rm" }, "components.w.image", /not an image reference/],
    ];
    for (const [extra, path, message] of cases) {
      const issues = issuesOf(() => validateJob(component(extra), { runtime: "process" }));
      assert.match(messageAt(issues, path), message, JSON.stringify(extra));
    }
    const k8s = issuesOf(() => validateJob({ ...component({}), mode: "k8s/aks" }, { runtime: "process" }));
    assert.match(messageAt(k8s, "mode"), /maro k8s job start/);
  });

  it("caps the job at 10,000 replicas", () => {
    const components: Record<string, unknown> = {};
    for (let i = 0; i < 11; i++) components[`c${i}`] = { resources: { cpu: 1, memory: "8m" }, num: 1000, command: "x" };
    const issues = issuesOf(() => validateJob({ name: "a", components }, { runtime: "process" }));
    assert.match(messageAt(issues, "components"), /11000 replicas.*10000/);
  });

  it("refuses a document that is not a mapping", () => {
    for (const doc of [null, [], "name: a", 5]) {
      assert.deepEqual(
        issuesOf(() => validateJob(doc, { runtime: "docker" })).map((i) => i.path),
        [""],
      );
    }
  });
});

describe("validateJob: arbitrary input", () => {
  const opts = [{ runtime: "docker" as const }, { runtime: "process" as const }];

  it("throws nothing but SpecError for arbitrary JSON values", () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.constantFrom(...opts), (doc, options) => {
        try {
          validateJob(doc, options);
        } catch (error) {
          assert.ok(error instanceof SpecError, String(error));
        }
      }),
      { numRuns: 500 },
    );
  });

  it("throws nothing but SpecError for job-shaped documents with arbitrary values", () => {
    const anything = fc.jsonValue({ maxDepth: 2 });
    const component = fc.record(
      {
        image: fc.oneof(fc.string(), anything),
        resources: fc.oneof(
          fc.record(
            { cpu: fc.oneof(fc.double(), fc.string(), anything), memory: fc.oneof(fc.string(), fc.double(), anything) },
            { requiredKeys: [] },
          ),
          anything,
        ),
        num: fc.oneof(fc.integer(), anything),
        mount: fc.oneof(fc.record({ target: fc.oneof(fc.string(), anything) }), anything),
        command: fc.oneof(fc.string(), fc.array(fc.oneof(fc.string(), anything)), anything),
      },
      { requiredKeys: [] },
    );
    const doc = fc.record(
      {
        mode: fc.oneof(fc.constantFrom("grass/local", "k8s/aks"), anything),
        name: fc.oneof(fc.string(), anything),
        allocation: fc.oneof(fc.record({ mode: anything, metric: anything }, { requiredKeys: [] }), anything),
        components: fc.oneof(fc.dictionary(fc.string(), component, { maxKeys: 3 }), anything),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(doc, fc.constantFrom(...opts), (value, options) => {
        try {
          const spec = validateJob(value, options);
          for (const c of spec.components) {
            assert.ok(Number.isSafeInteger(c.resources.cpuMillis) && c.resources.cpuMillis > 0);
            assert.ok(Number.isSafeInteger(c.resources.memoryBytes) && c.resources.memoryBytes > 0);
          }
        } catch (error) {
          assert.ok(error instanceof SpecError, String(error));
          assert.ok(error.issues.length > 0);
        }
      }),
      { numRuns: 500 },
    );
  });
});
