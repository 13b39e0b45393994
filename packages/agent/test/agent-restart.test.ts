// A real maro-agent (process runtime) killed with SIGKILL and started again:
// its components run on, and the new agent's Register tells the master which
// still run and, with its exit code, which one ended while no agent ran.

import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { AgentMessageOut, MasterMessage } from "@maro/proto";
import { makeTestPki, type TestPki } from "../../../test/support/pki.js";
import { tempDir } from "../../../test/support/tmp.js";
import { RecordingMaster, startAgent, stopAgent } from "./support/recording-master.js";
import { sleep } from "./support/runtime-events.js";

const CLUSTER = "restart";
const NODE = "node-1";

function startMessage(name: string, command: string): MasterMessage {
  return {
    start: {
      containerName: name,
      jobId: "job-id-1",
      jobName: "j1",
      componentId: `${name}.0`,
      componentType: name,
      componentIndex: 0,
      spec: { type: name, image: "", command: [command], shell: true, num: 1 },
      env: {},
      gpuIndices: [],
    },
  };
}

describe("maro-agent restarted after kill -9 (process runtime)", () => {
  const dir = tempDir("agent-restart");
  const stateDir = join(dir.path, "agent");
  let pki: TestPki;
  let master: RecordingMaster;
  const agents: ChildProcess[] = [];

  const agent = async () => {
    const started = await startAgent({
      pki,
      port: master.port,
      cluster: CLUSTER,
      node: NODE,
      stateDir,
      args: ["--runtime", "process", "--cleanup-on-exit"],
    });
    agents.push(started.child);
    return started;
  };
  const registers = () => master.messages.filter((m): m is AgentMessageOut & { register: object } => !!m.register);
  const statusOf = (name: string, state: string, from = 0) =>
    master.waitFor(
      (m) =>
        master.messages.indexOf(m) >= from && m.status?.containerName === name && m.status.state === state
          ? m.status
          : undefined,
      30_000,
      `${name} ${state}`,
    );

  before(async () => {
    pki = await makeTestPki(dir.path, CLUSTER);
    master = new RecordingMaster(pki);
    await master.start();
  });

  after(async () => {
    for (const child of agents) if (child.signalCode === null) await stopAgent(child);
    master?.stop();
    // Whatever a failed run left behind: the record names its process group.
    const runDir = join(stateDir, "run");
    for (const file of existsSync(runDir) ? readdirSync(runDir).filter((f) => f.endsWith(".json")) : []) {
      const { pid } = JSON.parse(readFileSync(join(runDir, file), "utf8")) as { pid: number };
      try {
        process.kill(-pid, "SIGKILL");
      } catch {
        // gone
      }
    }
    dir.remove();
  });

  it("reports the running components and the exit code of the one that ended meanwhile", async () => {
    const first = await agent();
    await master.waitFor((m) => m.register, 60_000, `Register (agent said: ${first.output()})`);
    master.send(startMessage("keep", "sleep 1000"));
    master.send(startMessage("ends", "sleep 2; echo done; exit 4"));
    await statusOf("keep", "running");
    await statusOf("ends", "running");
    // The recording master needs no heartbeat to count the agent as alive: kill it now.
    const pid = first.child.pid ?? 0;
    const dead = new Promise((resolve) => first.child.once("exit", resolve));
    process.kill(pid, "SIGKILL");
    await dead;
    // `ends` finishes while no agent runs.
    const deadline = Date.now() + 15_000;
    while (!existsSync(join(stateDir, "run", "ends.exit"))) {
      assert.ok(Date.now() < deadline, "ends did not finish");
      await sleep(50);
    }

    const seen = master.messages.length;
    const second = await agent();
    await master.waitFor(
      () => (registers().length >= 2 ? true : undefined),
      60_000,
      `a second Register (agent said: ${second.output()})`,
    );
    const register = registers()[1]?.register;
    assert.ok(register);
    const byName = new Map(register.containers.map((c) => [c.containerName, c]));
    assert.equal(byName.get("keep")?.state, "running");
    const ends = byName.get("ends");
    assert.equal(ends?.state, "exited");
    assert.equal(ends?.hasExitCode, true);
    assert.equal(ends?.exitCode, 4);
    assert.match(ends?.outputTail ?? "", /done/);
    // Told once: not again after the registration.
    await sleep(500);
    assert.equal(
      master.messages.slice(seen).filter((m) => m.status?.containerName === "ends").length,
      0,
      "the exit went in the Register, not after it",
    );

    // The new agent stops what the old one started.
    master.send({ stop: { containerName: "keep", graceSeconds: 5 } });
    const stopped = await statusOf("keep", "exited", seen);
    assert.equal(stopped.exitCode, 143);
  });
});
