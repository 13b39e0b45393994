import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import fc from "fast-check";
import { loadDeployment, nodeResourcesFlag, validateDeployment } from "../src/spec/deployment.js";
import { SpecError, type SpecIssue } from "../src/spec/errors.js";

const Mi = 1024 * 1024;
const dir = mkdtempSync(join(tmpdir(), "maro-spec-deployment-"));
after(() => rmSync(dir, { recursive: true, force: true }));

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
  assert.ok(found, `no issue at ${path}; got ${issues.map((i) => `${i.path}: ${i.message}`).join(" | ")}`);
  return found.message;
}

const ALL = { cpuMillis: "all", memoryBytes: "all", gpu: "all" } as const;

describe("validateDeployment: valid files", () => {
  it("reads the issue's example and fills the defaults", () => {
    const file = join(dir, "deployment.yml");
    writeFileSync(
      file,
      `mode: grass/local
name: demo              # cluster name: DNS label
runtime: process        # or docker
nodes: 2                # local agents to start
master:                 # all optional; port 0 = any free port
  api_server: {port: 0}
  redis: {port: 0}
`,
    );
    assert.deepEqual(loadDeployment(file), {
      mode: "grass/local",
      name: "demo",
      runtime: "process",
      nodes: [
        { name: "node-1", resources: ALL },
        { name: "node-2", resources: ALL },
      ],
      master: { apiServer: { port: 0 }, redis: { port: 0 } },
    });
  });

  it("defaults to one node, the process runtime and any free ports", () => {
    assert.deepEqual(validateDeployment({ mode: "grass/local", name: "a" }), {
      mode: "grass/local",
      name: "a",
      runtime: "process",
      nodes: [{ name: "node-1", resources: ALL }],
      master: { apiServer: { port: 0 }, redis: { port: 0 } },
    });
  });

  it("reads a list of nodes with resources, and the docker socket", () => {
    const deployment = validateDeployment({
      mode: "grass/local",
      name: "gpu-box",
      runtime: "docker",
      nodes: [
        { name: "big", resources: { cpu: 4, memory: "8192m", gpu: "all" } },
        { name: "small", resources: { cpu: "500m", memory: "512Mi", gpu: 0 } },
        { name: "rest" },
      ],
      master: { api_server: { port: 50051 }, redis: { port: 6380 } },
      docker: { socket: "unix:///run/maro-test/docker.sock" },
    });
    assert.deepEqual(deployment.nodes, [
      { name: "big", resources: { cpuMillis: 4000, memoryBytes: 8192 * Mi, gpu: "all" } },
      { name: "small", resources: { cpuMillis: 500, memoryBytes: 512 * Mi, gpu: 0 } },
      { name: "rest", resources: ALL },
    ]);
    assert.deepEqual(deployment.master, { apiServer: { port: 50051 }, redis: { port: 6380 } });
    assert.deepEqual(deployment.docker, { socket: "unix:///run/maro-test/docker.sock" });
    assert.deepEqual(
      deployment.nodes.map((n) => nodeResourcesFlag(n.resources)),
      ["cpu=4,memory=8Gi,gpu=all", "cpu=0.5,memory=512Mi,gpu=0", "cpu=all,memory=all,gpu=all"],
    );
  });
});

describe("validateDeployment: problems", () => {
  it("reports every problem with its path, and suggests fixes for typos", () => {
    const file = join(dir, "bad.yml");
    writeFileSync(
      file,
      `mode: grass/local
name: Demo
runtime: dokcer
nodez: 3
nodes:
  - name: a
  - name: a
    resources: {cpu: lots, memory: 2048, gpu: x}
master:
  api_server: {port: 8080}
  redis: {port: 8080}
docker: {socket: relative.sock}
`,
    );
    const issues = issuesOf(() => loadDeployment(file));
    assert.deepEqual(
      issues.map((i) => i.path),
      [
        "name",
        "runtime",
        "nodez",
        "nodes[1].name",
        "nodes[1].resources.cpu",
        "nodes[1].resources.memory",
        "nodes[1].resources.gpu",
        "master.redis.port",
        "docker.socket",
      ],
    );
    assert.equal(messageAt(issues, "nodez"), "unknown field 'nodez'; did you mean 'nodes'?");
    assert.match(messageAt(issues, "runtime"), /did you mean docker\?/);
    assert.match(messageAt(issues, "nodes[1].name"), /already the name of nodes\[0\]/);
    assert.match(messageAt(issues, "nodes[1].resources.memory"), /write 2048m for 2048 MiB/);
    assert.match(messageAt(issues, "master.redis.port"), /also master.api_server.port/);
    assert.equal(issues.find((i) => i.path === "nodez")?.line, 4);
  });

  it("requires mode grass/local and says other modes are not supported yet", () => {
    assert.match(
      messageAt(
        issuesOf(() => validateDeployment({ name: "a" })),
        "mode",
      ),
      /required; use grass\/local/,
    );
    for (const mode of ["grass/azure", "grass/on-premises", "k8s/aks"]) {
      assert.equal(
        messageAt(
          issuesOf(() => validateDeployment({ mode, name: "a" })),
          "mode",
        ),
        `${mode} is not supported yet by this version; use grass/local`,
      );
    }
    assert.match(
      messageAt(
        issuesOf(() => validateDeployment({ mode: "grass/locl", name: "a" })),
        "mode",
      ),
      /did you mean grass\/local\?/,
    );
  });

  it("refuses node counts outside 1..64 and empty or oversized lists", () => {
    for (const nodes of [0, 65, -1, 1.5, "two", [], null]) {
      const message = messageAt(
        issuesOf(() => validateDeployment({ mode: "grass/local", name: "a", nodes })),
        "nodes",
      );
      assert.ok(message.length > 0, String(nodes));
    }
    const many = Array.from({ length: 65 }, (_, i) => ({ name: `n${i}` }));
    assert.match(
      messageAt(
        issuesOf(() => validateDeployment({ mode: "grass/local", name: "a", nodes: many })),
        "nodes",
      ),
      /more than 64/,
    );
  });

  it("refuses bad ports and unknown keys at every level", () => {
    const issues = issuesOf(() =>
      validateDeployment({
        mode: "grass/local",
        name: "a",
        nodes: [{ name: "n", resources: { cpu: 1, memroy: "1Gi" } }],
        master: { api_server: { port: 70000 }, redis: { prot: 1 } },
      }),
    );
    assert.deepEqual(
      issues.map((i) => i.path),
      ["nodes[0].resources.memroy", "master.api_server.port", "master.redis.prot"],
    );
    assert.match(messageAt(issues, "nodes[0].resources.memroy"), /did you mean 'memory'\?/);
  });

  it("throws nothing but SpecError for arbitrary values", () => {
    const anything = fc.jsonValue({ maxDepth: 2 });
    const doc = fc.record(
      {
        mode: fc.oneof(fc.constant("grass/local"), anything),
        name: fc.oneof(fc.constant("a"), fc.string(), anything),
        runtime: fc.oneof(fc.constantFrom("process", "docker"), anything),
        nodes: fc.oneof(
          fc.integer({ min: -2, max: 70 }),
          fc.array(
            fc.record(
              {
                name: fc.oneof(fc.constantFrom("a", "b"), anything),
                resources: fc.oneof(
                  fc.record(
                    { cpu: anything, memory: fc.oneof(fc.string(), anything), gpu: anything },
                    { requiredKeys: [] },
                  ),
                  anything,
                ),
              },
              { requiredKeys: [] },
            ),
            { maxLength: 3 },
          ),
          anything,
        ),
        master: fc.oneof(
          fc.record(
            { api_server: fc.record({ port: anything }), redis: fc.record({ port: anything }) },
            { requiredKeys: [] },
          ),
          anything,
        ),
        docker: fc.oneof(fc.record({ socket: fc.oneof(fc.string(), anything) }), anything),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(fc.oneof(doc, fc.jsonValue()), (value) => {
        try {
          const deployment = validateDeployment(value);
          assert.ok(deployment.nodes.length >= 1 && deployment.nodes.length <= 64);
          assert.equal(new Set(deployment.nodes.map((n) => n.name)).size, deployment.nodes.length);
        } catch (error) {
          assert.ok(error instanceof SpecError, String(error));
          assert.ok(error.issues.length > 0);
        }
      }),
      { numRuns: 1000 },
    );
  });
});
