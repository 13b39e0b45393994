// DockerRuntime across an agent crash: a real process hosting the runtime is
// killed with SIGKILL; a new runtime finds its containers by their scope
// labels (cluster + node) and follows them as its own. Real test engine.

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import Dockerode from "dockerode";
import { ownerLabels } from "../src/launch-spec.js";
import { DockerRuntime } from "../src/runtime/docker.js";
import { dockerConnection } from "../src/runtime/docker-client.js";
import type { LaunchSpec } from "../src/runtime/types.js";
import { TEST_IMAGE, testDockerHost } from "./support/docker-host.js";
import { type Host, startHost } from "./support/kill-host.js";
import { launchSpec } from "./support/launch.js";
import { EventLog, sleep } from "./support/runtime-events.js";

const run = randomBytes(4).toString("hex");
// As maro-agent scopes them: this cluster and this node. The node name is unique to the run.
const scopeLabels = { ...ownerLabels("c1", `node-${run}`), "maro.test-run": run };
const nameOf = (what: string) => `maro-test-${run}-${what}`;

/** Waits for SIGUSR1, then exits 3. PID 1 gets no default signal actions, hence the trap. */
const WAIT_FOR_USR1 = "trap 'echo got-usr1; exit 3' USR1; while :; do sleep 0.1; done";
/** Waits for SIGUSR1, then fills its memory limit. */
const OOM_ON_USR1 = "trap 'x=a; while :; do x=$x$x; done' USR1; while :; do sleep 0.1; done";

describe("DockerRuntime after the agent is killed with SIGKILL (real dockerd)", () => {
  let host = "";
  let docker: Dockerode;
  let agent: Host | undefined;
  const runtimes: DockerRuntime[] = [];

  const signalled: LaunchSpec = launchSpec(TEST_IMAGE, {
    containerName: nameOf("signalled"),
    command: [WAIT_FOR_USR1],
    labels: { "maro.job": "j1", "maro.job-id": "id1", "maro.component": "worker.0" },
  });
  const oom = launchSpec(TEST_IMAGE, {
    containerName: nameOf("oom"),
    command: [OOM_ON_USR1],
    memoryBytes: 8 * 1024 * 1024,
    labels: { "maro.job": "j1" },
  });
  const stopped = launchSpec(TEST_IMAGE, { containerName: nameOf("stopped"), labels: { "maro.job": "j1" } });
  const away = launchSpec(TEST_IMAGE, {
    containerName: nameOf("away"),
    command: ["echo bye from away; sleep 2; exit 4"],
    labels: { "maro.job": "j2" },
  });

  async function idOf(name: string): Promise<string | undefined> {
    try {
      return (await docker.getContainer(name).inspect()).Id;
    } catch {
      return undefined;
    }
  }

  before(async () => {
    host = testDockerHost();
    docker = new Dockerode(dockerConnection(host));
    agent = await startHost({
      runtime: "docker",
      dockerHost: host,
      scopeLabels,
      specs: [signalled, oom, stopped, away],
    });
    await agent.kill9();
  });

  after(async () => {
    await agent?.kill9();
    await Promise.all(runtimes.map((rt) => rt.close()));
    const left = await docker.listContainers({ all: true, filters: { label: [`maro.test-run=${run}`] } });
    await Promise.all(
      left.map((c) =>
        docker
          .getContainer(c.Id)
          .remove({ force: true })
          .catch(() => {}),
      ),
    );
  });

  it("finds its containers again, follows their exits (code, OOM), stops them, and starts nothing twice", async () => {
    assert.equal(agent?.child.signalCode, "SIGKILL");
    // `away` ends (exit 4) while no agent runs.
    await docker.getContainer(away.containerName).wait();

    const rt = new DockerRuntime({ dockerHost: host, scopeLabels, onWarning: () => {} });
    runtimes.push(rt);
    const log = new EventLog(rt);
    const listed = await rt.list(ownerLabels("c1", `node-${run}`));
    assert.deepEqual(
      listed.map((c) => [c.containerName, c.running, c.labels["maro.job"], c.labels["maro.node"]]),
      [
        [oom.containerName, true, "j1", `node-${run}`],
        [signalled.containerName, true, "j1", `node-${run}`],
        [stopped.containerName, true, "j1", `node-${run}`],
      ],
    );
    // The exit that happened while no agent ran was reported before list() answered.
    const awayExit = log.exitsOf(away.containerName);
    assert.equal(awayExit.length, 1);
    assert.equal(awayExit[0]?.exitCode, 4);
    assert.match(awayExit[0]?.outputTail ?? "", /bye from away/);
    assert.equal(await idOf(away.containerName), undefined, "reported, then removed");

    // A repeated StartContainer creates nothing: the running one is reported running.
    const before = await idOf(signalled.containerName);
    await rt.start(signalled);
    assert.equal(await idOf(signalled.containerName), before);
    const running = log.events.find((e) => e.kind === "running" && e.containerName === signalled.containerName);
    assert.ok(running, "reported as running");
    const startedAt = Date.parse((await docker.getContainer(signalled.containerName).inspect()).State.StartedAt);
    assert.equal(running.timeMs, startedAt, "with the time it really started");

    // Its later exit comes through the events stream with its exit code.
    await docker.getContainer(signalled.containerName).kill({ signal: "SIGUSR1" });
    const exited = await log.waitForExit(signalled.containerName, 10_000);
    assert.equal(exited.exitCode, 3);
    assert.equal(exited.oomKilled, false);
    assert.match(exited.outputTail, /got-usr1/);

    // And the OOM flag.
    await docker.getContainer(oom.containerName).kill({ signal: "SIGUSR1" });
    const oomExit = await log.waitForExit(oom.containerName, 20_000);
    assert.equal(oomExit.oomKilled, true);
    assert.equal(oomExit.exitCode, 137);

    // stop() works on a container the dead agent started.
    await rt.stop(stopped.containerName, 0);
    assert.equal(log.exitsOf(stopped.containerName)[0]?.exitCode, 137);
    assert.equal(await idOf(stopped.containerName), undefined);

    assert.deepEqual(await rt.list({}), []);
    await sleep(300);
    for (const s of [signalled, oom, stopped, away])
      assert.equal(log.exitsOf(s.containerName).length, 1, s.containerName);
  });

  it("removes a container a dead agent created but never started, and reports nothing for it", async () => {
    const name = nameOf("created");
    await docker.createContainer({ name, Image: TEST_IMAGE, Cmd: ["true"], Labels: { ...scopeLabels } });
    const rt = new DockerRuntime({ dockerHost: host, scopeLabels, onWarning: () => {} });
    runtimes.push(rt);
    const log = new EventLog(rt);
    assert.deepEqual(await rt.list({}), []);
    assert.equal(await idOf(name), undefined);
    await sleep(300);
    assert.deepEqual(log.events, []);
  });
});
