// A real maro-agent (docker runtime, the test engine) connected over mutual
// TLS to a recording master: what it sends about its node and components.

import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import Dockerode from "dockerode";
import { makeTestPki, type TestPki } from "../../../test/support/pki.js";
import { tempDir } from "../../../test/support/tmp.js";
import { dockerConnection } from "../src/runtime/docker-client.js";
import { TEST_IMAGE, testDockerHost } from "./support/docker-host.js";
import { RecordingMaster, startAgent, stopAgent } from "./support/recording-master.js";

const CLUSTER = "probes";
const NODE = "node-1";
const MiB = 1024 ** 2;

describe("maro-agent reports samples and anomalies to its master", () => {
  const dir = tempDir("agent-probe");
  let pki: TestPki;
  let master: RecordingMaster;
  let agent: { child: ChildProcess; output: () => string };
  let dockerHost: string;
  const oomName = `${CLUSTER}-oom-w-0-${process.pid}`;

  before(async () => {
    dockerHost = testDockerHost();
    pki = await makeTestPki(dir.path, CLUSTER);
    master = new RecordingMaster(pki);
    await master.start();
    agent = await startAgent({
      pki,
      port: master.port,
      cluster: CLUSTER,
      node: NODE,
      stateDir: `${dir.path}/agent`,
      args: ["--runtime", "docker", "--labels", "zone=eu-1,gpu_model=none", "--cleanup-on-exit"],
      env: { DOCKER_HOST: dockerHost },
    });
  });

  after(async () => {
    if (agent) await stopAgent(agent.child);
    master?.stop();
    const docker = new Dockerode(dockerConnection(dockerHost));
    await docker
      .getContainer(oomName)
      .remove({ force: true })
      .catch(() => {});
    dir.remove();
  });

  it("registers with its --labels", async () => {
    const register = await master.waitFor((m) => m.register, 30_000, `Register (agent said: ${agent.output()})`);
    assert.deepEqual({ ...register.labels }, { zone: "eu-1", gpu_model: "none" });
  });

  it("sends a sample every interval, whose node memory total is /proc/meminfo's MemTotal", async () => {
    const sample = await master.waitFor((m) => m.sample, 15_000, "a sample");
    const memTotalKb = Number(/^MemTotal:\s+(\d+) kB/m.exec(readFileSync("/proc/meminfo", "utf8"))?.[1]);
    assert.equal(sample.node?.memoryTotalBytes, memTotalKb * 1024);
    assert.ok((sample.node?.memoryUsedBytes ?? 0) > 0);
    assert.ok((sample.node?.cpuCapacityMillis ?? 0) >= 1000);
    assert.ok((sample.node?.diskTotalBytes ?? 0) > 0);
    const before = master.messages.filter((m) => m.sample).length;
    await new Promise((r) => setTimeout(r, 3500));
    const samples = master.messages.filter((m) => m.sample).map((m) => m.sample);
    assert.ok(samples.length - before >= 2, `about one sample a second: ${samples.length - before} in 3.5 s`);
    assert.equal(samples[0]?.full, true, "the first sample is full");
  });

  it("an OOM-killed component yields an oom-killed anomaly naming it", async () => {
    master.send({
      start: {
        containerName: oomName,
        jobId: "job-oom-1",
        jobName: "oom",
        componentId: "w-0",
        componentType: "w",
        componentIndex: 0,
        spec: {
          image: TEST_IMAGE,
          resources: { cpuMillis: 500, memoryBytes: 16 * MiB },
          command: ['x=$(head -c 64m /dev/zero | tr "\\0" a); sleep 1'],
          shell: true,
        },
        env: { CONTAINER_NAME: oomName },
      },
    });
    const status = await master.waitFor(
      (m) => (m.status?.containerName === oomName && m.status.state === "exited" ? m.status : null),
      60_000,
      "the component's exit",
    );
    assert.equal(status.oomKilled, true, "it really ran out of memory");
    const anomaly = await master.waitFor(
      (m) => (m.anomaly?.containerName === oomName ? m.anomaly : null),
      10_000,
      "an anomaly about it",
    );
    assert.equal(anomaly.kind, "oom-killed");
    assert.equal(anomaly.severity, "critical");
    assert.equal(anomaly.node, NODE);
    assert.equal(anomaly.jobId, "job-oom-1");
    assert.equal(anomaly.componentId, "w-0");
    assert.match(anomaly.message, /out of memory/);
    const kinds = master.messages.filter((m) => m.anomaly?.containerName === oomName).map((m) => m.anomaly?.kind);
    assert.deepEqual(kinds, ["oom-killed"], "one anomaly, not also a crash");
  });

  it("a master clock 2 s ahead is reported as clock skew, once", async () => {
    master.skewMs = 2000;
    const skew = await master.waitFor((m) => (m.anomaly?.kind === "clock-skew" ? m.anomaly : null), 10_000, "skew");
    assert.equal(skew.severity, "warning");
    // Measured at the round trip's midpoint: off by at most half the round trip.
    const ms = Number(/the master's clock is (\d+) ms ahead of this node's/.exec(skew.message)?.[1]);
    assert.ok(ms > 1500 && ms < 2500, skew.message);
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(master.messages.filter((m) => m.anomaly?.kind === "clock-skew").length, 1, "edge-triggered");
    master.skewMs = 0;
    await master.waitFor(
      (m) => (m.anomaly?.kind === "clock-skew" && m.anomaly.severity === "info" ? m.anomaly : null),
      10_000,
      "the skew clearing",
    );
  });
});
