// ProcessRuntime with real child processes.

import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, afterEach, before, describe, it } from "node:test";
import { MOUNT_ENV, ProcessRuntime } from "../src/runtime/process.js";
import type { LaunchSpec } from "../src/runtime/types.js";
import { isRuntimeError, launchSpec } from "./support/launch.js";
import { EventLog, sleep } from "./support/runtime-events.js";

let seq = 0;
const uniqueName = (what: string) => `proc-${what}-${++seq}`;

const spec = (overrides: Partial<LaunchSpec> & Pick<LaunchSpec, "containerName">) => launchSpec("", overrides);

/** Gone, or a zombie nobody reaped yet (it no longer runs). */
async function isGone(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch {
    return true;
  }
  try {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z");
  } catch {
    return true;
  }
}

async function waitForLine(path: string, pattern: RegExp, timeoutMs: number): Promise<RegExpExecArray> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = await readFile(path, "utf8").catch(() => "");
    const match = pattern.exec(text);
    if (match) return match;
    if (Date.now() > deadline) throw new Error(`${path} has no line matching ${pattern}: ${text}`);
    await sleep(20);
  }
}

describe("ProcessRuntime", () => {
  let stateDir = "";
  const runtimes: ProcessRuntime[] = [];
  const pids: number[] = [];

  function runtime(options: { baseEnv?: Record<string, string> } = {}) {
    const rt = new ProcessRuntime({ stateDir, ...options });
    runtimes.push(rt);
    return { rt, log: new EventLog(rt) };
  }

  before(async () => {
    stateDir = await mkdtemp(join(tmpdir(), "maro-proc-"));
  });

  afterEach(async () => {
    for (const rt of runtimes.splice(0)) {
      const left = await rt.list({});
      await Promise.all(left.map((c) => rt.stop(c.containerName, 0)));
      await rt.close();
    }
    for (const pid of pids.splice(0)) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // gone
      }
    }
  });

  after(async () => {
    await rm(stateDir, { recursive: true, force: true });
  });

  it("reports exit codes of argv commands and emits running first", async () => {
    const { rt, log } = runtime();
    const name = uniqueName("exit");
    await rt.start(spec({ containerName: name, command: ["sh", "-c", "exit 3"], shell: false }));
    const exited = await log.waitForExit(name, 5000);
    assert.equal(exited.exitCode, 3);
    assert.equal(exited.oomKilled, false);
    assert.deepEqual(
      log.events.filter((e) => e.containerName === name).map((e) => e.kind),
      ["running", "exited"],
    );
    assert.deepEqual(await rt.list({}), []);
  });

  it("runs shell commands with sh -c, and argv without a shell", async () => {
    const { rt, log } = runtime();
    const shell = uniqueName("shell");
    await rt.start(spec({ containerName: shell, command: ["echo sum=$((1+2)) | tr = :"] }));
    assert.match((await log.waitForExit(shell, 5000)).outputTail, /^sum:3\n$/);
    const argv = uniqueName("argv");
    await rt.start(spec({ containerName: argv, command: ["echo", "$HOME", "a|b"], shell: false }));
    assert.equal((await log.waitForExit(argv, 5000)).outputTail, "$HOME a|b\n");
  });

  it("gives the component PATH, HOME, LANG and its own env, not the rest of the agent's", async () => {
    process.env.MARO_AGENT_SECRET_FOR_TEST = "do-not-leak";
    try {
      const { rt, log } = runtime();
      const name = uniqueName("env");
      await rt.start(
        spec({
          containerName: name,
          command: [
            'test -n "$PATH" && echo "job=$JOB_NAME secret=[$MARO_AGENT_SECRET_FOR_TEST] path=set mount=$MARO_MOUNT"',
          ],
          env: { JOB_NAME: "j1" },
          mount: { source: "/srv/maro/data", target: "/data" },
        }),
      );
      const exited = await log.waitForExit(name, 5000);
      assert.equal(exited.outputTail, "job=j1 secret=[] path=set mount=/srv/maro/data\n");
      assert.equal(MOUNT_ENV, "MARO_MOUNT");
    } finally {
      delete process.env.MARO_AGENT_SECRET_FOR_TEST;
    }
  });

  it("runs in spec.workdir when it exists, else in a scratch dir under the state dir", async () => {
    const { rt, log } = runtime();
    const here = uniqueName("cwd");
    const workdir = await mkdtemp(join(tmpdir(), "maro-workdir-"));
    try {
      await rt.start(spec({ containerName: here, command: ["pwd"], workdir }));
      assert.equal((await log.waitForExit(here, 5000)).outputTail, `${workdir}\n`);
    } finally {
      await rm(workdir, { recursive: true, force: true });
    }
    const elsewhere = uniqueName("cwd");
    await rt.start(spec({ containerName: elsewhere, command: ["pwd"], workdir: "/no/such/dir/on/this/host" }));
    assert.equal((await log.waitForExit(elsewhere, 5000)).outputTail, `${join(stateDir, "work", elsewhere)}\n`);
  });

  it("logs all output to the state dir and reports only this run's last lines, at most ~4 KiB", async () => {
    const { rt, log } = runtime();
    const name = uniqueName("tail");
    await rt.start(spec({ containerName: name, command: ["echo first run"] }));
    await log.waitForExit(name, 5000);
    await rt.start(
      spec({
        containerName: name,
        command: ['i=1; while [ $i -le 200 ]; do echo "line $i"; echo "err $i" >&2; i=$((i+1)); done'],
      }),
    );
    await log.waitFor(() => log.exitsOf(name).length === 2, 5000);
    const exited = log.exitsOf(name)[1];
    assert.ok(exited);
    const lines = exited.outputTail.trimEnd().split("\n");
    assert.equal(lines.length, 50);
    assert.equal(lines[0], "line 176");
    assert.equal(lines.at(-1), "err 200");
    assert.ok(Buffer.byteLength(exited.outputTail) <= 4096);
    assert.doesNotMatch(exited.outputTail, /first run/);
    const file = await readFile(join(stateDir, "logs", `${name}.log`), "utf8");
    assert.match(file, /^first run\nline 1\nerr 1\n/);
    assert.match(file, /err 200\n$/);
  });

  it("maps a death by signal to 128+signo", async () => {
    const { rt, log } = runtime();
    const name = uniqueName("signal");
    await rt.start(spec({ containerName: name, command: ["kill -9 $$"] }));
    assert.equal((await log.waitForExit(name, 5000)).exitCode, 137);
  });

  it("stop() signals the whole process group: a child the shell spawned dies too", async () => {
    const { rt, log } = runtime();
    const name = uniqueName("group");
    await rt.start(spec({ containerName: name, command: ["sleep 1000 & echo child=$!; wait"] }));
    const match = await waitForLine(join(stateDir, "logs", `${name}.log`), /child=(\d+)/, 5000);
    const child = Number(match[1]);
    pids.push(child);
    assert.equal(await isGone(child), false);
    const t0 = Date.now();
    await rt.stop(name, 10);
    assert.ok(Date.now() - t0 < 3000, "SIGTERM was enough; no need to wait for the grace period");
    const exits = log.exitsOf(name);
    assert.equal(exits.length, 1, "stop resolves after the exit is reported");
    assert.equal(exits[0]?.exitCode, 143);
    assert.equal(await isGone(child), true, `child ${child} still runs`);
    assert.deepEqual(await rt.list({}), []);
  });

  it("stop() sends SIGKILL after the grace period to a group that ignores SIGTERM", async () => {
    const { rt, log } = runtime();
    const name = uniqueName("stubborn");
    await rt.start(spec({ containerName: name, command: ["trap '' TERM; sleep 1000 & echo child=$!; wait"] }));
    const match = await waitForLine(join(stateDir, "logs", `${name}.log`), /child=(\d+)/, 5000);
    const child = Number(match[1]);
    pids.push(child);
    const t0 = Date.now();
    await rt.stop(name, 1);
    const took = Date.now() - t0;
    assert.ok(took >= 900 && took < 4000, `stop took ${took} ms`);
    assert.equal(log.exitsOf(name)[0]?.exitCode, 137);
    assert.equal(await isGone(child), true, `child ${child} still runs`);
  });

  it("kills what a component left behind when its main process exits", async () => {
    const { rt, log } = runtime();
    const name = uniqueName("orphan");
    await rt.start(spec({ containerName: name, command: ["sleep 1000 & echo child=$!; exit 0"] }));
    const exited = await log.waitForExit(name, 5000);
    const child = Number(/child=(\d+)/.exec(exited.outputTail)?.[1]);
    pids.push(child);
    assert.equal(exited.exitCode, 0);
    assert.equal(await isGone(child), true);
  });

  it("stop() of an unknown name is a no-op", async () => {
    const { rt, log } = runtime();
    await rt.stop("nobody", 1);
    assert.equal(log.events.length, 0);
  });

  it("a command that does not exist is START_FAILED naming it; the name stays free", async () => {
    const { rt, log } = runtime();
    const name = uniqueName("missing");
    await assert.rejects(
      rt.start(spec({ containerName: name, command: ["maro-no-such-command", "--flag"], shell: false })),
      isRuntimeError("START_FAILED", /^command not found: maro-no-such-command$/),
    );
    await assert.rejects(rt.start(spec({ containerName: name, command: [] })), isRuntimeError("START_FAILED"));
    await sleep(100);
    assert.equal(log.events.length, 0);
    await rt.start(spec({ containerName: name, command: ["true"], shell: false }));
    assert.equal((await log.waitForExit(name, 5000)).exitCode, 0);
  });

  it("a repeated start of a running component starts nothing and reports it running", async () => {
    const { rt, log } = runtime();
    const name = uniqueName("dup");
    const same = spec({ containerName: name, command: ["echo started; sleep 1000"], labels: { "maro.job": "j1" } });
    await rt.start(same);
    await rt.start(same);
    assert.deepEqual(
      log.events.filter((e) => e.containerName === name).map((e) => e.kind),
      ["running", "running"],
    );
    await sleep(200);
    const output = await readFile(join(stateDir, "logs", `${name}.log`), "utf8");
    assert.equal(output, "started\n", "one process only");
    assert.equal((await rt.list({})).length, 1);
    // Another component under the same name is refused.
    await assert.rejects(
      rt.start(spec({ containerName: name, labels: { "maro.job": "j2" } })),
      isRuntimeError("NAME_IN_USE", new RegExp(name)),
    );
    await assert.rejects(rt.start(spec({ containerName: "../escape" })), isRuntimeError("START_FAILED"));
  });

  it("stop() of a component that already exited, or twice at once, is a no-op success", async () => {
    const { rt, log } = runtime();
    const name = uniqueName("stopgone");
    await rt.start(spec({ containerName: name, command: ["exit 2"] }));
    await log.waitForExit(name, 5000);
    await rt.stop(name, 1);
    const long = uniqueName("stoptwice");
    await rt.start(spec({ containerName: long, command: ["sleep", "1000"], shell: false }));
    await Promise.all([rt.stop(long, 5), rt.stop(long, 5)]);
    assert.deepEqual(
      log.events.filter((e) => e.kind === "exited").map((e) => e.containerName),
      [name, long],
    );
  });

  it("narrows CUDA to the component's GPUs (by PCI bus order) and hides them from the others", async () => {
    const { rt, log } = runtime();
    // "set" tells an empty value from none at all.
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell parameter expansion
    const show = ['echo "cuda=[$CUDA_VISIBLE_DEVICES] set=${CUDA_VISIBLE_DEVICES+yes} order=$CUDA_DEVICE_ORDER"'];
    const gpu = uniqueName("gpu");
    // The component's own env cannot widen its devices.
    await rt.start(
      spec({ containerName: gpu, command: show, gpuIndices: [1, 3], env: { CUDA_VISIBLE_DEVICES: "0,1,2,3" } }),
    );
    assert.equal((await log.waitForExit(gpu, 5000)).outputTail, "cuda=[1,3] set=yes order=PCI_BUS_ID\n");
    const cpu = uniqueName("nogpu");
    await rt.start(spec({ containerName: cpu, command: show }));
    assert.equal((await log.waitForExit(cpu, 5000)).outputTail, "cuda=[] set=yes order=PCI_BUS_ID\n");
  });

  it("runs argv exactly: argv[0] as given, no shell builtin in its place", async () => {
    const { rt, log } = runtime();
    const name = uniqueName("argv0");
    // sh's builtin echo would turn a backslash-n into a newline; /bin/echo prints it as is.
    await rt.start(spec({ containerName: name, command: ["echo", "a\\nb", "*", "$(id)"], shell: false }));
    assert.equal((await log.waitForExit(name, 5000)).outputTail, "a\\nb * $(id)\n");
    const zero = uniqueName("argv0");
    await rt.start(spec({ containerName: zero, command: ["sh", "-c", 'echo "$0"'], shell: false }));
    assert.equal((await log.waitForExit(zero, 5000)).outputTail, "sh\n");
  });

  it("list() returns running components whose labels match", async () => {
    const { rt } = runtime();
    const a = uniqueName("list-a");
    const b = uniqueName("list-b");
    await rt.start(spec({ containerName: a, labels: { "maro.job": "ja" } }));
    await rt.start(spec({ containerName: b, labels: { "maro.job": "jb" } }));
    assert.deepEqual(await rt.list({ "maro.job": "ja" }), [
      { containerName: a, running: true, labels: { "maro.job": "ja", "maro.managed": "true" } },
    ]);
    assert.deepEqual(
      (await rt.list({ "maro.managed": "true" })).map((c) => c.containerName),
      [a, b],
    );
  });
});
