import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync, statfsSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import Dockerode from "dockerode";
import { parseNodeLabels } from "../src/node-labels.js";
import {
  type ComponentTarget,
  DiskProbe,
  DockerStatsProbe,
  GpuProbe,
  NetworkProbe,
  NodeCpuProbe,
  NodeMemoryProbe,
  type NodeProbe,
  type NodeReading,
  ProcessStatsProbe,
  parseNvidiaSmi,
  SampleEncoder,
  Sampler,
} from "../src/probes/index.js";
import { parsePidStat } from "../src/probes/proc-parse.js";
import { dockerConnection } from "../src/runtime/docker-client.js";
import { TEST_IMAGE, testDockerHost } from "./support/docker-host.js";
import { sleep } from "./support/runtime-events.js";

const MiB = 1024 ** 2;

function meminfoKb(field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(readFileSync("/proc/meminfo", "utf8"));
  assert.ok(m?.[1], `/proc/meminfo has ${field}`);
  return Number(m[1]);
}

const target = (containerName: string): ComponentTarget => ({
  containerName,
  running: true,
  labels: { "maro.job-id": "job-1", "maro.component": `${containerName}-0` },
});

describe("node probes on this machine's /proc", () => {
  it("cpu: capacity is one core per cpu line of /proc/stat, usage within it", async () => {
    const cpus = readFileSync("/proc/stat", "utf8")
      .split("\n")
      .filter((l) => /^cpu\d+ /.test(l)).length;
    const probe = new NodeCpuProbe();
    await probe.read();
    // Keep this process busy for a while: usage over the interval must show it.
    const end = Date.now() + 400;
    while (Date.now() < end) {}
    const r = await probe.read();
    assert.equal(r.cpuCapacityMillis, cpus * 1000);
    assert.ok((r.cpuMillis ?? 0) >= 500, `a busy core shows: ${r.cpuMillis} millicores`);
    assert.ok((r.cpuMillis ?? 0) <= cpus * 1000);
  });

  it("memory: total is MemTotal, used is total less MemAvailable", async () => {
    const r = await new NodeMemoryProbe().read();
    assert.equal(r.memoryTotalBytes, meminfoKb("MemTotal") * 1024);
    const used = (meminfoKb("MemTotal") - meminfoKb("MemAvailable")) * 1024;
    assert.ok(Math.abs((r.memoryUsedBytes ?? 0) - used) < 64 * MiB, `${r.memoryUsedBytes} vs ${used}`);
  });

  it("disk: the state directory's filesystem", async () => {
    const s = statfsSync("/tmp");
    const r = await new DiskProbe("/tmp").read();
    assert.equal(r.diskTotalBytes, s.blocks * s.bsize);
    assert.ok((r.diskUsedBytes ?? 0) > 0 && (r.diskUsedBytes ?? 0) <= (r.diskTotalBytes ?? 0));
    assert.deepEqual(await new DiskProbe("/no/such/dir").read(), { diskTotalBytes: 0, diskUsedBytes: 0 });
  });

  it("network: rates from /proc/net/dev deltas, zero before the first interval", async () => {
    const probe = new NetworkProbe();
    assert.deepEqual(await probe.read(0), { netRxBytesPerS: 0, netTxBytesPerS: 0 });
    await sleep(200);
    const r = await probe.read(200);
    assert.ok(Number.isInteger(r.netRxBytesPerS) && (r.netRxBytesPerS ?? -1) >= 0);
    assert.ok(Number.isInteger(r.netTxBytesPerS) && (r.netTxBytesPerS ?? -1) >= 0);
  });

  it("gpu: no nvidia-smi means no GPUs and no error; a failing one is an error, not a throw", async () => {
    assert.deepEqual(await new GpuProbe({ binary: null }).read(), { gpus: [], gpuErrors: [] });
    const failing = await new GpuProbe({ binary: "/bin/false" }).read();
    assert.deepEqual(failing.gpus, []);
    assert.equal(failing.gpuErrors?.[0]?.index, null);
    assert.match(failing.gpuErrors?.[0]?.message ?? "", /nvidia-smi failed/);
  });

  it("parses nvidia-smi's CSV, with devices in error apart", () => {
    assert.deepEqual(parseNvidiaSmi("0, 1024, 16384, 35\n1, [N/A], 16384, [N/A]\n2, [GPU requires reset], 0, 0\n"), {
      gpus: [
        { index: 0, memoryUsedBytes: 1024 * MiB, memoryTotalBytes: 16384 * MiB, utilizationPercent: 35 },
        { index: 1, memoryUsedBytes: 0, memoryTotalBytes: 16384 * MiB, utilizationPercent: 0 },
      ],
      gpuErrors: [{ index: 2, message: "GPU requires reset" }],
    });
    assert.equal(parseNvidiaSmi("No devices were found\n").gpuErrors[0]?.index, null);
  });

  it("parses /proc/<pid>/stat whatever the command name holds", () => {
    const line = "4242 (my (odd) name) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 1 0 98765 1000 50";
    assert.deepEqual(parsePidStat(line), { ppid: 1, pgrp: 4242, cpuTicks: 300, startTime: 98765 });
    assert.equal(parsePidStat("garbage"), null);
  });
});

describe("process components from /proc", () => {
  const children: ChildProcess[] = [];
  after(() => {
    for (const c of children) if (c.pid) process.kill(c.pid, "SIGKILL");
  });

  it("a busy loop shows cpu, and its memory shows", async () => {
    const spin = spawn("sh", ["-c", "while :; do :; done"], {
      env: { PATH: process.env.PATH, CONTAINER_NAME: "probe-spin" },
      stdio: "ignore",
    });
    children.push(spin);
    const idle = spawn("sh", ["-c", "sleep 60"], {
      env: { PATH: process.env.PATH, CONTAINER_NAME: "probe-idle" },
      stdio: "ignore",
    });
    children.push(idle);
    const probe = new ProcessStatsProbe({ targets: async () => [target("probe-spin"), target("probe-idle")] });
    await sleep(100);
    assert.deepEqual(await probe.read(0), [], "the first reading only primes the cpu deltas");
    await sleep(1000);
    const readings = await probe.read(1000);
    const spinning = readings.find((r) => r.containerName === "probe-spin");
    const sleeping = readings.find((r) => r.containerName === "probe-idle");
    assert.ok(spinning && sleeping, JSON.stringify(readings));
    // The machine may be busy with other work: the loop gets some cpu, far more than a sleeper.
    assert.ok(spinning.cpuMillis > 20, `busy loop: ${spinning.cpuMillis} millicores`);
    assert.ok(spinning.cpuMillis > 4 * sleeping.cpuMillis, `${spinning.cpuMillis} vs ${sleeping.cpuMillis}`);
    assert.ok(spinning.memoryBytes > 0);
    assert.ok(sleeping.memoryBytes > 0, "sleep and its shell hold some memory");
    assert.equal(spinning.jobId, "job-1");
    assert.equal(spinning.componentId, "probe-spin-0");
  });

  it("reads nothing when no component runs", async () => {
    const probe = new ProcessStatsProbe({ targets: async () => [] });
    assert.deepEqual(await probe.read(0), []);
  });
});

describe("docker components from the Engine API", () => {
  let docker: Dockerode;
  let dockerHost: string;
  const names = [`probe-spin-${process.pid}`, `probe-mem-${process.pid}`, `probe-idle-${process.pid}`];

  before(async () => {
    dockerHost = testDockerHost();
    docker = new Dockerode(dockerConnection(dockerHost));
    for (const name of names)
      await docker
        .getContainer(name)
        .remove({ force: true })
        .catch(() => {});
    const run = async (name: string, script: string) => {
      const c = await docker.createContainer({ name, Image: TEST_IMAGE, Cmd: ["sh", "-c", script] });
      await c.start();
    };
    await run(names[0] ?? "", "while :; do :; done");
    // The shell must outlive the sleep (busybox sh execs a last command), or x is freed.
    await run(names[1] ?? "", 'x=$(head -c 48m /dev/zero | tr "\\0" a); sleep 100; echo "$x" | wc -c');
    await run(names[2] ?? "", "sleep 100");
  });

  after(async () => {
    for (const name of names)
      await docker
        .getContainer(name)
        .remove({ force: true })
        .catch(() => {});
  });

  it("a busy container shows cpu; one holding 48 MiB shows that memory", async () => {
    const probe = new DockerStatsProbe({ dockerHost, targets: async () => names.map(target) });
    await probe.read();
    // Building the 48 MiB string takes a while on a busy machine: read until it is held.
    let readings = await probe.read();
    for (let i = 0; i < 40; i++) {
      await sleep(500);
      readings = await probe.read();
      if ((readings.find((r) => r.containerName === names[1])?.memoryBytes ?? 0) > 40 * MiB) break;
    }
    const spin = readings.find((r) => r.containerName === names[0]);
    const mem = readings.find((r) => r.containerName === names[1]);
    const idle = readings.find((r) => r.containerName === names[2]);
    assert.ok(spin && mem && idle, JSON.stringify(readings));
    assert.ok(spin.cpuMillis > 20, `busy loop: ${spin.cpuMillis} millicores`);
    assert.ok(spin.cpuMillis > 4 * idle.cpuMillis, `busy ${spin.cpuMillis} vs sleeping ${idle.cpuMillis}`);
    assert.ok(idle.memoryBytes > 0 && idle.memoryBytes < 10 * MiB, `sleep holds little: ${idle.memoryBytes}`);
    assert.ok(spin.memoryBytes > 0);
    assert.ok(mem.memoryBytes > 40 * MiB, `holding 48 MiB: ${mem.memoryBytes} bytes`);
  });

  it("a container that is gone reads as nothing, not as an error", async () => {
    const probe = new DockerStatsProbe({ dockerHost, targets: async () => [target("no-such-container-here")] });
    assert.deepEqual(await probe.read(), []);
  });
});

describe("SampleEncoder", () => {
  const node: NodeReading = {
    cpuMillis: 100,
    cpuCapacityMillis: 2000,
    memoryUsedBytes: 1,
    memoryTotalBytes: 2,
    diskUsedBytes: 3,
    diskTotalBytes: 4,
    netRxBytesPerS: 5,
    netTxBytesPerS: 6,
    gpus: [],
    gpuErrors: [],
  };
  const c = (containerName: string, cpuMillis: number, memoryBytes = 100 * MiB) => ({
    containerName,
    cpuMillis,
    memoryBytes,
  });

  it("sends the first sample full, then only what moved, what ended, and every 10th in full", () => {
    const enc = new SampleEncoder();
    const names = (s: ReturnType<SampleEncoder["encode"]>) => s.components.map((x) => x.containerName);
    const first = enc.encode(0, node, [c("a", 500), c("b", 0)]);
    assert.equal(first.full, true);
    assert.deepEqual(names(first), ["a", "b"]);
    assert.equal(first.node?.memoryTotalBytes, 2);
    const quiet = enc.encode(1, node, [c("a", 505), c("b", 3, 100 * MiB + 1000)]);
    assert.equal(quiet.full, false);
    assert.deepEqual(names(quiet), [], "small moves are not sent");
    const moved = enc.encode(2, node, [c("a", 900), c("b", 3, 110 * MiB), c("new", 1)]);
    assert.deepEqual(names(moved), ["a", "b", "new"]);
    const ended = enc.encode(3, node, [c("a", 900)]);
    assert.deepEqual(ended.gone, ["b", "new"]);
    assert.deepEqual(names(ended), []);
    for (let i = 4; i < 10; i++) assert.equal(enc.encode(i, node, [c("a", 900)]).full, false);
    const tenth = enc.encode(10, node, [c("a", 901)]);
    assert.equal(tenth.full, true);
    assert.deepEqual(names(tenth), ["a"]);
    // Changes add up against what was last sent, not the last reading.
    for (let cpu = 910; cpu <= 1000; cpu += 10) enc.encode(cpu, node, [c("a", cpu)]);
    assert.ok(enc.encode(99, node, [c("a", 1000)]).components.length === 0);
  });
});

describe("Sampler", () => {
  it("skips a tick while the last one is still reading, and never throws for a failing probe", async () => {
    let reads = 0;
    const slow: NodeProbe = {
      name: "slow",
      read: async () => {
        reads++;
        await sleep(300);
        return { memoryTotalBytes: 42 };
      },
    };
    const broken: NodeProbe = {
      name: "broken",
      read: async () => {
        throw new Error("boom");
      },
    };
    const samples: number[] = [];
    const sampler = new Sampler({
      intervalMs: 100,
      nodeProbes: [slow, broken],
      onSample: (s) => samples.push(Number(s.node?.memoryTotalBytes)),
    });
    const first = sampler.tick();
    assert.equal(await sampler.tick(), false, "the second tick is skipped");
    assert.equal(await first, true);
    assert.equal(reads, 1);
    assert.equal(sampler.skipped, 1);
    assert.deepEqual(samples, [42]);
  });

  it("refuses a silly interval", () => {
    assert.throws(() => new Sampler({ intervalMs: 0, nodeProbes: [], onSample: () => {} }), /interval 0 ms/);
  });
});

describe("--labels", () => {
  it("reads k=v pairs", () => {
    assert.deepEqual(parseNodeLabels("gpu_model=A100, zone=eu-1"), { gpu_model: "A100", zone: "eu-1" });
    assert.deepEqual(parseNodeLabels(""), {});
  });
  for (const [text, pattern] of [
    ["zone", /"zone" is not key=value/],
    ["zone=", /label zone has an empty value/],
    ["-bad=x", /label key "-bad" is not valid/],
    ["zone=a b", /value "a b" is not valid/],
    ["zone=a,zone=b", /label zone is given twice/],
  ] as const) {
    it(`refuses ${JSON.stringify(text)}`, () => assert.throws(() => parseNodeLabels(text), pattern));
  }
});
