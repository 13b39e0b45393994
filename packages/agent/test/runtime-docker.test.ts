// DockerRuntime against the real test engine (scripts/lib/test-dockerd.sh).

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { connect, createServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, afterEach, before, describe, it } from "node:test";
import Dockerode from "dockerode";
import { containerCreateOptions, DockerRuntime, type DockerRuntimeOptions } from "../src/runtime/docker.js";
import { dockerConnection } from "../src/runtime/docker-client.js";
import type { LaunchSpec } from "../src/runtime/types.js";
import { TEST_IMAGE, testDockerHost } from "./support/docker-host.js";
import { isRuntimeError, launchSpec } from "./support/launch.js";
import { EventLog, sleep } from "./support/runtime-events.js";

const run = randomBytes(4).toString("hex");
const scopeLabels = { "maro.managed": "true", "maro.test-run": run };
let seq = 0;
const uniqueName = (what: string) => `maro-test-${run}-${what}-${++seq}`;

const spec = (overrides: Partial<LaunchSpec> & Pick<LaunchSpec, "containerName">) => launchSpec(TEST_IMAGE, overrides);

describe("DockerRuntime (real dockerd)", () => {
  let host = "";
  let docker: Dockerode;
  const runtimes: DockerRuntime[] = [];
  const warnings: string[] = [];

  function runtime(options: DockerRuntimeOptions = {}) {
    const rt = new DockerRuntime({ dockerHost: host, scopeLabels, onWarning: (m) => warnings.push(m), ...options });
    runtimes.push(rt);
    return { rt, log: new EventLog(rt) };
  }

  async function removeTestContainers() {
    const left = await docker.listContainers({ all: true, filters: { label: [`maro.test-run=${run}`] } });
    await Promise.all(
      left.map((c) =>
        docker
          .getContainer(c.Id)
          .remove({ force: true })
          .catch(() => {}),
      ),
    );
  }

  async function exists(name: string): Promise<boolean> {
    try {
      await docker.getContainer(name).inspect();
      return true;
    } catch {
      return false;
    }
  }

  before(() => {
    host = testDockerHost();
    docker = new Dockerode(dockerConnection(host));
  });

  afterEach(async () => {
    await Promise.all(runtimes.splice(0).map((rt) => rt.close()));
    await removeTestContainers();
  });

  after(removeTestContainers);

  it("applies limits, env, labels, mount and host gateway; emits running", async () => {
    const { rt, log } = runtime();
    const name = uniqueName("limits");
    const dir = await mkdtemp(join(tmpdir(), "maro-mount-"));
    try {
      await rt.start(
        spec({
          containerName: name,
          cpuMillis: 500,
          memoryBytes: 64 * 1024 * 1024,
          env: { JOB_NAME: "j1", COMPONENT_INDEX: "0" },
          labels: { "maro.job": "j1" },
          mount: { source: dir, target: "/data" },
        }),
      );
      assert.ok(log.events.some((e) => e.kind === "running" && e.containerName === name));
      const info = await docker.getContainer(name).inspect();
      assert.equal(info.HostConfig.NanoCpus, 500_000_000);
      assert.equal(info.HostConfig.Memory, 67_108_864);
      assert.deepEqual(info.HostConfig.Binds, [`${dir}:/data`]);
      assert.deepEqual(info.HostConfig.ExtraHosts, ["host.docker.internal:host-gateway"]);
      assert.equal(info.HostConfig.NetworkMode, "bridge");
      assert.ok(info.Config.Env.includes("JOB_NAME=j1"));
      assert.ok(info.Config.Env.includes("COMPONENT_INDEX=0"));
      assert.equal(info.Config.Labels["maro.job"], "j1");
      assert.equal(info.Config.Labels["maro.managed"], "true");
      assert.deepEqual(info.Config.Cmd, ["sh", "-c", "sleep 1000"]);
      assert.equal(info.State.Running, true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("reports exit 3 promptly with stdout and stderr in the tail, then removes the container", async () => {
    const { rt, log } = runtime();
    const name = uniqueName("exit3");
    await rt.start(spec({ containerName: name, command: ["echo to-stdout; echo to-stderr >&2; exit 3"] }));
    // Timed from the engine's start, which is slow on a loaded machine: the
    // exit is event-driven, not found by polling.
    const t0 = Date.now();
    const exited = await log.waitForExit(name, 10_000);
    assert.ok(Date.now() - t0 < 5000, `exit reported ${Date.now() - t0} ms after the start`);
    assert.equal(exited.exitCode, 3);
    assert.equal(exited.oomKilled, false);
    assert.match(exited.outputTail, /to-stdout/);
    assert.match(exited.outputTail, /to-stderr/);
    assert.equal(await exists(name), false, "the container is removed after its exit is reported");
    const kinds = log.events.filter((e) => e.containerName === name).map((e) => e.kind);
    assert.deepEqual(kinds, ["running", "exited"]);
    await sleep(300);
    assert.equal(log.exitsOf(name).length, 1, "exactly one exit per start");
  });

  it("keeps the last lines of a long output, at most ~4 KiB", async () => {
    const { rt, log } = runtime();
    const name = uniqueName("tail");
    await rt.start(
      spec({
        containerName: name,
        command: ["sh", "-c", 'i=1; while [ $i -le 300 ]; do echo "line $i of the output"; i=$((i+1)); done'],
        shell: false,
      }),
    );
    const exited = await log.waitForExit(name, 10_000);
    assert.equal(exited.exitCode, 0);
    assert.ok(Buffer.byteLength(exited.outputTail) <= 4096);
    assert.match(exited.outputTail, /^line 251 of the output\n/);
    assert.match(exited.outputTail, /line 300 of the output\n$/);
  });

  it("passes env into the container and sees the mount", async () => {
    const { rt, log } = runtime();
    const name = uniqueName("env");
    const dir = await mkdtemp(join(tmpdir(), "maro-mount-"));
    try {
      await writeFile(join(dir, "hello.txt"), "from-the-host\n");
      await rt.start(
        spec({
          containerName: name,
          command: ['echo "job=$JOB_NAME"; cat /data/hello.txt'],
          env: { JOB_NAME: "j2" },
          mount: { source: dir, target: "/data" },
        }),
      );
      const exited = await log.waitForExit(name, 10_000);
      assert.equal(exited.exitCode, 0, exited.outputTail);
      assert.match(exited.outputTail, /job=j2/);
      assert.match(exited.outputTail, /from-the-host/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("reports an out-of-memory kill as oomKilled with exit 137", async () => {
    const { rt, log } = runtime();
    const name = uniqueName("oom");
    await rt.start(
      spec({ containerName: name, memoryBytes: 8 * 1024 * 1024, command: ["x=a; while true; do x=$x$x; done"] }),
    );
    const exited = await log.waitForExit(name, 20_000);
    assert.equal(exited.oomKilled, true);
    assert.equal(exited.exitCode, 137);
  });

  it("stop() kills a container that ignores SIGTERM after the grace period and reports the exit", async () => {
    const { rt, log } = runtime();
    const name = uniqueName("stop");
    // PID 1 ignores SIGTERM unless it handles it: only SIGKILL ends this one.
    await rt.start(spec({ containerName: name, command: ["sleep", "1000"], shell: false }));
    const t0 = Date.now();
    await rt.stop(name, 1);
    const took = Date.now() - t0;
    assert.ok(took >= 900 && took < 6000, `stop took ${took} ms`);
    const exited = log.exitsOf(name);
    assert.equal(exited.length, 1, "stop resolves after the exit is reported");
    assert.equal(exited[0]?.exitCode, 137);
    assert.equal(await exists(name), false);
    await sleep(300);
    assert.equal(log.exitsOf(name).length, 1);
  });

  it("asks the engine for exactly the component's GPUs; without the nvidia runtime the start fails clearly", async () => {
    const gpuSpec = spec({
      containerName: uniqueName("gpu"),
      gpuIndices: [0, 2],
      env: { CUDA_VISIBLE_DEVICES: "0,1,2,3" },
    });
    // What the engine records for the create request (it accepts it; only start needs the driver).
    const created = await docker.createContainer(
      containerCreateOptions(gpuSpec, { scopeLabels, networkMode: "bridge" }),
    );
    try {
      const info = await created.inspect();
      assert.deepEqual(
        info.HostConfig.DeviceRequests?.map((r) => [r.Driver, r.DeviceIDs, r.Capabilities, r.Count ?? 0]),
        [["nvidia", ["0", "2"], [["gpu"]], 0]],
      );
      // Host indices for the NVIDIA runtime; CUDA inside counts what it sees from 0.
      assert.ok(info.Config.Env.includes("NVIDIA_VISIBLE_DEVICES=0,2"), info.Config.Env.join(" "));
      assert.ok(info.Config.Env.includes("CUDA_VISIBLE_DEVICES=0,1"), info.Config.Env.join(" "));
      assert.ok(!info.Config.Env.includes("CUDA_VISIBLE_DEVICES=0,1,2,3"));
    } finally {
      await created.remove({ force: true });
    }
    const plain = containerCreateOptions(spec({ containerName: "x" }), { scopeLabels, networkMode: "bridge" });
    assert.equal(plain.HostConfig?.DeviceRequests, undefined);
    assert.ok(plain.Env?.includes("NVIDIA_VISIBLE_DEVICES=void"), "no GPUs for a component that asked for none");

    const { rt, log } = runtime();
    await assert.rejects(
      rt.start(gpuSpec),
      isRuntimeError(
        "START_FAILED",
        new RegExp(`${gpuSpec.containerName}.*needs GPUs.*no NVIDIA runtime.*could not select device driver.*gpu=0`),
      ),
    );
    assert.equal(await exists(gpuSpec.containerName), false, "no container is left behind");
    await sleep(300);
    assert.equal(log.events.length, 0);
  });

  it("stop() of a container removed behind the agent's back is a no-op success", async () => {
    const { rt, log } = runtime();
    const name = uniqueName("gone");
    await rt.start(spec({ containerName: name }));
    await docker.getContainer(name).remove({ force: true });
    // The removal killed it: the engine's die event carries the code.
    assert.equal((await log.waitForExit(name, 10_000)).exitCode, 137);
    await rt.stop(name, 1);
    await Promise.all([rt.stop(name, 1), rt.stop(name, 1)]);
    assert.equal(await exists(name), false);
    await sleep(300);
    assert.equal(log.exitsOf(name).length, 1, "reported once");
  });

  it("stop() of an unknown name is a no-op", async () => {
    const { rt, log } = runtime();
    await rt.stop(uniqueName("nobody"), 1);
    assert.equal(log.events.length, 0);
  });

  it("the name is free again right after the exit event", async () => {
    const { rt, log } = runtime();
    const name = uniqueName("reuse");
    await rt.start(spec({ containerName: name, command: ["exit 1"] }));
    await log.waitForExit(name, 10_000);
    await rt.start(spec({ containerName: name, command: ["exit 2"] }));
    await log.waitFor((e) => e.kind === "exited" && e.containerName === name && e.exitCode === 2, 10_000);
    assert.deepEqual(
      log.exitsOf(name).map((e) => e.exitCode),
      [1, 2],
    );
  });

  it("a missing image is IMAGE_NOT_FOUND naming the image and the fix", async () => {
    const { rt } = runtime();
    await assert.rejects(
      rt.start(spec({ containerName: uniqueName("noimage"), image: "maro/does-not-exist:1.0" })),
      isRuntimeError("IMAGE_NOT_FOUND", /maro\/does-not-exist:1\.0.*maro grass image push/),
    );
  });

  it("a repeated start of a running component creates nothing and reports it running", async () => {
    const { rt, log } = runtime();
    const name = uniqueName("dup");
    const same = spec({ containerName: name, labels: { "maro.job": "j1", "maro.job-id": "id1" } });
    await rt.start(same);
    const first = (await docker.getContainer(name).inspect()).Id;
    await Promise.all([rt.start(same), rt.start(same)]);
    assert.equal((await docker.getContainer(name).inspect()).Id, first, "the same container");
    assert.deepEqual(
      log.events.filter((e) => e.containerName === name).map((e) => e.kind),
      ["running", "running", "running"],
    );
    assert.equal((await rt.list({})).length, 1);
    // Another component under the same name is refused, and so is a container that is not ours.
    await assert.rejects(
      rt.start(spec({ containerName: name, labels: { "maro.job": "j1", "maro.job-id": "id2" } })),
      isRuntimeError("NAME_IN_USE", new RegExp(name)),
    );
    const foreign = uniqueName("foreign");
    await docker.createContainer({ name: foreign, Image: TEST_IMAGE, Cmd: ["true"], Labels: { "maro.test-run": run } });
    await assert.rejects(
      rt.start(spec({ containerName: foreign })),
      isRuntimeError("NAME_IN_USE", new RegExp(foreign)),
    );
  });

  it("a container that cannot start is START_FAILED and is not left behind", async () => {
    const { rt, log } = runtime();
    const name = uniqueName("badcmd");
    await assert.rejects(
      rt.start(spec({ containerName: name, command: ["/no/such/binary"], shell: false })),
      isRuntimeError("START_FAILED", /no\/such\/binary/),
    );
    assert.equal(await exists(name), false);
    // The image has no default command: an empty command cannot start either.
    await assert.rejects(rt.start(spec({ containerName: name, command: [] })), isRuntimeError("START_FAILED"));
    await sleep(300);
    assert.equal(log.events.length, 0);
  });

  it("an unreachable engine is RUNTIME_UNAVAILABLE naming the socket", async () => {
    const { rt } = runtime({ dockerHost: "unix:///run/maro-test/no-such-docker.sock" });
    await assert.rejects(
      rt.start(spec({ containerName: uniqueName("nodocker") })),
      isRuntimeError("RUNTIME_UNAVAILABLE", /unix:\/\/\/run\/maro-test\/no-such-docker\.sock/),
    );
    await assert.rejects(rt.list({}), isRuntimeError("RUNTIME_UNAVAILABLE"));
  });

  it("list() finds containers by labels, within its scope", async () => {
    const { rt } = runtime();
    const a = uniqueName("list-a");
    const b = uniqueName("list-b");
    await rt.start(spec({ containerName: a, labels: { "maro.job": "ja" } }));
    await rt.start(spec({ containerName: b, labels: { "maro.job": "jb" } }));
    const onlyA = await rt.list({ "maro.job": "ja" });
    assert.deepEqual(
      onlyA.map((c) => [c.containerName, c.running, c.labels["maro.job"]]),
      [[a, true, "ja"]],
    );
    assert.deepEqual(
      (await rt.list({})).map((c) => c.containerName),
      [a, b].sort(),
    );
    // Another scope sees none of them.
    const { rt: other } = runtime({ scopeLabels: { "maro.managed": "true", "maro.test-run": `${run}-other` } });
    assert.deepEqual(await other.list({}), []);
  });

  it("a new runtime (agent restart) finds, stops and reports containers started by the old one", async () => {
    const { rt: first } = runtime();
    const name = uniqueName("restart");
    await first.start(spec({ containerName: name }));
    await first.close();
    const { rt: second, log } = runtime();
    assert.deepEqual(
      (await second.list({})).map((c) => c.containerName),
      [name],
    );
    await second.stop(name, 0);
    const exited = log.exitsOf(name);
    assert.equal(exited.length, 1);
    assert.equal(exited[0]?.exitCode, 137);
    assert.equal(await exists(name), false);
  });

  it("reports, once, a container that exited while no agent was running", async () => {
    const name = uniqueName("away");
    const container = await docker.createContainer({
      name,
      Image: TEST_IMAGE,
      Cmd: ["sh", "-c", "echo left-behind; exit 5"],
      Labels: { ...scopeLabels, "maro.job": "old" },
    });
    await container.start();
    await container.wait();
    const { rt, log } = runtime();
    const exited = await log.waitForExit(name, 10_000);
    assert.equal(exited.exitCode, 5);
    assert.match(exited.outputTail, /left-behind/);
    assert.equal(await exists(name), false);
    await sleep(300);
    assert.equal(log.exitsOf(name).length, 1);
    assert.deepEqual(await rt.list({}), []);
  });

  it("misses no exit when the events stream drops", async () => {
    const dir = await mkdtemp(join(tmpdir(), "maro-proxy-"));
    const proxy = await socketProxy(new URL(host).pathname, join(dir, "docker.sock"));
    try {
      const { rt, log } = runtime({
        dockerHost: `unix://${join(dir, "docker.sock")}`,
        reconnectBackoff: { initialMs: 50, maxMs: 400 },
      });
      const name = uniqueName("drop");
      await rt.start(spec({ containerName: name, command: ["sleep 1; echo bye; exit 7"] }));
      proxy.cut(); // the events stream drops; reconnects fail while cut
      await sleep(2500); // the container dies meanwhile
      assert.equal(log.exitsOf(name).length, 0);
      proxy.resume();
      const exited = await log.waitForExit(name, 10_000);
      assert.equal(exited.exitCode, 7);
      assert.match(exited.outputTail, /bye/);
      await sleep(500);
      assert.equal(log.exitsOf(name).length, 1, "replayed and inspected exits are reported once");
      assert.ok(warnings.some((w) => /events stream/.test(w)));
    } finally {
      await proxy.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

/** A unix-socket proxy in front of dockerd whose connections a test can cut. */
async function socketProxy(target: string, path: string) {
  const open = new Set<Socket>();
  let cut = false;
  const server = createServer((client) => {
    if (cut) {
      client.destroy();
      return;
    }
    const upstream = connect(target);
    open.add(client);
    open.add(upstream);
    const end = () => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    client.on("error", end).on("close", end);
    upstream.on("error", end).on("close", end);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return {
    cut() {
      cut = true;
      for (const s of open) s.destroy();
    },
    resume() {
      cut = false;
    },
    close() {
      for (const s of open) s.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
