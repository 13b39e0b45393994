// ProcessRuntime across an agent crash: a real process hosting the runtime is
// killed with SIGKILL, and a new runtime on the same state dir takes over.

import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { ProcessRuntime, UNKNOWN_EXIT_CODE } from "../src/runtime/process.js";
import type { LaunchSpec } from "../src/runtime/types.js";
import { type Host, startHost } from "./support/kill-host.js";
import { launchSpec } from "./support/launch.js";
import { EventLog, sleep } from "./support/runtime-events.js";

const scopeLabels = { "maro.managed": "true", "maro.cluster": "c1", "maro.node": "n1" };

const spec = (overrides: Partial<LaunchSpec> & Pick<LaunchSpec, "containerName">) => launchSpec("", overrides);

/** Alive and not a zombie. */
async function runs(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
  if (stat === "") return false;
  const state = stat.slice(stat.lastIndexOf(")") + 2)[0];
  return state !== "Z" && state !== "X";
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

describe("ProcessRuntime after the agent is killed with SIGKILL", () => {
  let stateDir = "";
  let host: Host | undefined;
  const runtimes: ProcessRuntime[] = [];
  const strays: number[] = [];
  const others: ChildProcess[] = [];

  const signalled = "signalled";
  const stopped = "stopped";
  const away = "away";
  const lost = "lost";
  const sigSpec = spec({
    containerName: signalled,
    command: ["echo pid=$$; trap 'echo got-usr1; exit 3' USR1; while :; do sleep 0.1; done"],
    labels: { "maro.job": "j1", "maro.component": "worker.0" },
  });

  before(async () => {
    stateDir = await mkdtemp(join(tmpdir(), "maro-proc-restart-"));
    host = await startHost({
      runtime: "process",
      stateDir,
      scopeLabels,
      specs: [
        sigSpec,
        spec({ containerName: stopped, command: ["sleep", "1000"], shell: false, labels: { "maro.job": "j1" } }),
        spec({ containerName: away, command: ["echo bye from away; sleep 1; exit 4"], labels: { "maro.job": "j2" } }),
        spec({ containerName: lost, command: ["sleep", "1000"], shell: false, labels: { "maro.job": "j3" } }),
      ],
    });
    for (const name of [signalled, stopped, lost]) strays.push(await supervisorPid(name));
    await host.kill9();
  });

  after(async () => {
    await host?.kill9();
    for (const rt of runtimes) {
      for (const c of await rt.list({})) await rt.stop(c.containerName, 0);
      await rt.close();
    }
    for (const pid of strays) {
      try {
        process.kill(-pid, "SIGKILL");
      } catch {
        // gone
      }
    }
    for (const child of others) child.kill("SIGKILL");
    await rm(stateDir, { recursive: true, force: true });
  });

  async function supervisorPid(name: string): Promise<number> {
    const record = JSON.parse(await readFile(join(stateDir, "run", `${name}.json`), "utf8")) as { pid: number };
    return record.pid;
  }

  async function componentPid(name: string): Promise<number> {
    const text = await readFile(join(stateDir, "logs", `${name}.log`), "utf8");
    return Number(/pid=(\d+)/.exec(text)?.[1]);
  }

  it("takes over running components, reports what ended meanwhile, follows exits and stops", async () => {
    // The components outlived their agent.
    assert.equal(host?.child.signalCode, "SIGKILL");
    assert.equal(await runs(await supervisorPid(signalled)), true);
    assert.equal(await runs(await supervisorPid(stopped)), true);
    // While no agent runs: `away` ends by itself (exit 4); `lost` has its supervisor killed.
    await waitFor("away to exit", async () => !(await runs(await supervisorPid(away))), 5000);
    const lostPid = await supervisorPid(lost);
    process.kill(-lostPid, "SIGKILL");
    await waitFor("lost to die", async () => !(await runs(lostPid)), 5000);

    const rt = new ProcessRuntime({ stateDir, scopeLabels, adoptedPollMs: 100, onWarning: () => {} });
    runtimes.push(rt);
    const log = new EventLog(rt);
    const listed = await rt.list(scopeLabels);
    assert.deepEqual(
      listed.map((c) => [c.containerName, c.running, c.labels["maro.job"], c.labels["maro.node"]]),
      [
        [signalled, true, "j1", "n1"],
        [stopped, true, "j1", "n1"],
      ],
    );
    // What ended while no agent ran was reported before list() answered.
    const awayExit = log.exitsOf(away);
    assert.equal(awayExit.length, 1);
    assert.equal(awayExit[0]?.exitCode, 4);
    assert.match(awayExit[0]?.outputTail ?? "", /bye from away/);
    const lostExit = log.exitsOf(lost);
    assert.equal(lostExit[0]?.exitCode, UNKNOWN_EXIT_CODE);
    assert.match(lostExit[0]?.outputTail ?? "", /exit code of lost is unknown/);

    // A repeated start of a running component starts nothing and reports it running.
    const pidBefore = await componentPid(signalled);
    await rt.start(sigSpec);
    assert.ok(log.events.some((e) => e.kind === "running" && e.containerName === signalled));
    await sleep(300);
    const logText = await readFile(join(stateDir, "logs", `${signalled}.log`), "utf8");
    assert.equal(logText.match(/pid=/g)?.length, 1, `one run only: ${logText}`);
    assert.equal(await componentPid(signalled), pidBefore);

    // Its own exit, later, keeps its exit code.
    process.kill(pidBefore, "SIGUSR1");
    const exited = await log.waitForExit(signalled, 5000);
    assert.equal(exited.exitCode, 3);
    assert.match(exited.outputTail, /got-usr1/);

    // stop() works on a component taken over: SIGTERM to its group, exit 143.
    const stoppedPid = await supervisorPid(stopped);
    const t0 = Date.now();
    await rt.stop(stopped, 10);
    assert.ok(Date.now() - t0 < 3000, `stop took ${Date.now() - t0} ms`);
    assert.equal(log.exitsOf(stopped)[0]?.exitCode, 143);
    assert.equal(await runs(stoppedPid), false);

    assert.deepEqual(await rt.list({}), []);
    assert.deepEqual(await readdir(join(stateDir, "run")), [], "records are removed once exits are reported");
    await sleep(300);
    for (const name of [signalled, stopped, away, lost]) assert.equal(log.exitsOf(name).length, 1, name);
  });

  it("a record whose pid now belongs to another process is not taken over, nor is that process signalled", async () => {
    const other = spawn("sleep", ["1000"], { stdio: "ignore" });
    others.push(other);
    await new Promise((resolve) => other.once("spawn", resolve));
    const pid = other.pid ?? 0;
    const name = "reused";
    await writeFile(join(stateDir, "logs", `${name}.log`), "");
    await writeFile(
      join(stateDir, "run", `${name}.json`),
      JSON.stringify({
        name,
        labels: scopeLabels,
        pid,
        startTicks: "1",
        startedAtMs: Date.now(),
        logPath: join(stateDir, "logs", `${name}.log`),
        logOffset: 0,
      }),
    );
    const rt = new ProcessRuntime({ stateDir, scopeLabels, adoptedPollMs: 100, onWarning: () => {} });
    runtimes.push(rt);
    const log = new EventLog(rt);
    assert.deepEqual(await rt.list({}), []);
    assert.equal(log.exitsOf(name)[0]?.exitCode, UNKNOWN_EXIT_CODE);
    await sleep(200);
    assert.equal(await runs(pid), true, "the unrelated process still runs");
  });
});
