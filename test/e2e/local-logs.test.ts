import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { json, maro, repoRoot } from "../support/cli.js";
import { pidAlive } from "../support/cluster-files.js";
import { eventually, tempDir } from "../support/tmp.js";

interface LineJson {
  component: string;
  line: string;
  stream: string;
  timeMs: number;
}

const lines = (stdout: string) =>
  stdout
    .trim()
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as LineJson);

describe("job logs on a local cluster (process runtime, shipped to the master's log sink)", () => {
  const home = tempDir("e2e-logs");
  const file = (name: string, body: string) => {
    const path = join(home.path, name);
    writeFileSync(path, body);
    return path;
  };
  let recordFile = "";

  before(async () => {
    const created = await maro(home.path, [
      "grass",
      "create",
      file("deployment.yml", "mode: grass/local\nname: talk\nruntime: process\nnodes: 2\n"),
    ]);
    assert.equal(created.code, 0, created.stderr);
    recordFile = join(home.path, "clusters", "talk", "cluster.json");
  });

  after(async () => {
    if (existsSync(recordFile)) await maro(home.path, ["grass", "delete", "talk"]);
    home.remove();
  });

  test("every line of every component lands once, in order, and filters work", async () => {
    const job = file(
      "chatty.yml",
      'name: chatty\ncomponents:\n  actor:\n    resources: {cpu: 0.1, memory: 32m}\n    num: 2\n    command: for i in $(seq 1 40); do echo "$COMPONENT_ID line-$i"; done; echo oops >&2\n',
    );
    const res = await maro(home.path, ["grass", "job", "start", "talk", job, "--wait"]);
    assert.equal(res.code, 0, res.stderr);
    const all = await eventually(
      async () => {
        const got = lines((await maro(home.path, ["grass", "job", "logs", "talk", "chatty", "-o", "json"])).stdout);
        return got.length >= 82 ? got : null;
      },
      15_000,
      "all 82 lines",
    );
    assert.equal(all.length, 82);
    for (const id of ["actor-0", "actor-1"]) {
      const mine = all.filter((l) => l.component === id).map((l) => l.line);
      assert.deepEqual(mine, [...Array.from({ length: 40 }, (_, i) => `${id} line-${i + 1}`), "oops"]);
    }
    const one = lines(
      (
        await maro(home.path, [
          "grass",
          "job",
          "logs",
          "talk",
          "chatty",
          "--component",
          "actor:1",
          "--tail",
          "3",
          "-o",
          "json",
        ])
      ).stdout,
    );
    assert.deepEqual(
      one.map((l) => l.line),
      ["actor-1 line-39", "actor-1 line-40", "oops"],
    );
    const bad = await maro(home.path, ["grass", "job", "logs", "talk", "chatty", "--component", "learner"]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /no component "learner"/);
  });

  test("logs -f shows lines while the job runs and ends when the job ends", async () => {
    const job = file(
      "ticker.yml",
      "name: ticker\ncomponents:\n  t:\n    resources: {cpu: 0.1, memory: 32m}\n    command: for i in $(seq 1 15); do echo tick-$i; sleep 0.2; done\n",
    );
    assert.equal((await maro(home.path, ["grass", "job", "start", "talk", job])).code, 0);
    const follower = spawn(
      process.execPath,
      [join(repoRoot, "packages/cli/bin/maro.js"), "grass", "job", "logs", "talk", "ticker", "-f"],
      { env: { ...process.env, MARO_HOME: home.path }, stdio: ["ignore", "pipe", "pipe"] },
    );
    let out = "";
    let sawTickWhileRunning = false;
    follower.stdout.on("data", (c: Buffer) => {
      out += c.toString();
    });
    await eventually(() => out.includes("tick-2"), 10_000, "live lines");
    const state = json<{ state: string }>(
      await maro(home.path, ["grass", "job", "get", "talk", "ticker", "-o", "json"]),
    ).state;
    sawTickWhileRunning = state === "running";
    const code = await new Promise<number>((resolve) => follower.on("close", (c) => resolve(c ?? -1)));
    assert.equal(code, 0);
    assert.ok(sawTickWhileRunning, "lines arrived while the job was still running");
    for (let i = 1; i <= 15; i++) assert.match(out, new RegExp(`tick-${i}\\n`));
  });

  test("a master killed and restarted mid-job loses no line", async () => {
    const record = JSON.parse(readFileSync(recordFile, "utf8")) as { dir: string; pids: { master: number } };
    const job = file(
      "steady.yml",
      "name: steady\ncomponents:\n  s:\n    resources: {cpu: 0.1, memory: 32m}\n    command: for i in $(seq 1 60); do echo steady-$i; sleep 0.05; done\n",
    );
    assert.equal((await maro(home.path, ["grass", "job", "start", "talk", job])).code, 0);
    await eventually(
      async () =>
        lines((await maro(home.path, ["grass", "job", "logs", "talk", "steady", "-o", "json"])).stdout).length > 5,
      10_000,
      "first lines",
    );
    const argv = readFileSync(`/proc/${record.pids.master}/cmdline`, "utf8").split("\0").filter(Boolean);
    process.kill(record.pids.master, "SIGKILL");
    await eventually(() => !pidAlive(record.pids.master), 5000, "the master to die");
    await new Promise((r) => setTimeout(r, 1500)); // the job keeps writing while the master is gone
    const logFd = openSync(join(record.dir, "logs", "master.log"), "a");
    const restarted = spawn(argv[0] ?? process.execPath, argv.slice(1), {
      detached: true,
      stdio: ["ignore", logFd, logFd],
    });
    restarted.unref();
    const saved = JSON.parse(readFileSync(recordFile, "utf8"));
    saved.pids.master = restarted.pid;
    writeFileSync(recordFile, JSON.stringify(saved, null, 2));
    const got = await eventually(
      async () => {
        const r = await maro(home.path, ["grass", "job", "logs", "talk", "steady", "-o", "json"]);
        const l = r.code === 0 ? lines(r.stdout) : [];
        return new Set(l.map((x) => x.line)).size >= 60 ? l : null;
      },
      30_000,
      "every line after the restart",
    );
    const distinct = new Set(got.map((x) => x.line));
    for (let i = 1; i <= 60; i++) assert.ok(distinct.has(`steady-${i}`), `steady-${i} is there`);
    const job2 = await eventually(
      async () => {
        const j = json<{ state: string }>(
          await maro(home.path, ["grass", "job", "get", "talk", "steady", "-o", "json"]),
        );
        return j.state === "succeeded" ? j : null;
      },
      20_000,
      "the job to finish under the new master",
    );
    assert.equal(job2.state, "succeeded");
  });
});
