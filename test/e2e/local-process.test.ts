import assert from "node:assert/strict";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { json, maro } from "../support/cli.js";
import { listening, pidAlive, processesWithEnv } from "../support/cluster-files.js";
import { eventually, tempDir } from "../support/tmp.js";

interface ComponentJson {
  id: string;
  state: string;
  exitCode: number;
  hasExitCode: boolean;
  outputTail: string;
  nodeName: string;
}
interface JobJson {
  name: string;
  state: string;
  reason: string;
  components: ComponentJson[];
}

describe("a local cluster on the process runtime", () => {
  const home = tempDir("e2e-process");
  const deployment = join(home.path, "deployment.yml");
  let record: {
    dir: string;
    masterAddress: string;
    pids: { master: number; redis: number; agents: Record<string, number> };
  };

  before(async () => {
    writeFileSync(deployment, "mode: grass/local\nname: peers\nruntime: process\nnodes: 2\n");
    const created = await maro(home.path, ["grass", "create", deployment]);
    assert.equal(created.code, 0, created.stderr);
    record = JSON.parse(readFileSync(join(home.path, "clusters", "peers", "cluster.json"), "utf8"));
  });

  after(async () => {
    if (existsSync(join(home.path, "clusters", "peers"))) await maro(home.path, ["grass", "delete", "peers"]);
    home.remove();
  });

  test("both agents are registered and ready", async () => {
    const nodes = json<{ name: string; state: string }[]>(
      await maro(home.path, ["grass", "node", "list", "peers", "-o", "json"]),
    );
    assert.deepEqual(
      nodes.map((n) => [n.name, n.state]),
      [
        ["node-1", "ready"],
        ["node-2", "ready"],
      ],
    );
    const status = json<{ nodesReady: number }>(await maro(home.path, ["grass", "status", "peers", "-o", "json"]));
    assert.equal(status.nodesReady, 2);
  });

  test("hello-peers: three components find each other through Redis and exchange greetings", async () => {
    const res = await maro(home.path, [
      "grass",
      "job",
      "start",
      "peers",
      "examples/hello-peers/job.yml",
      "--wait",
      "-o",
      "json",
    ]);
    assert.equal(res.code, 0, `${res.stdout}\n${res.stderr}`);
    const job = json<JobJson>(res);
    assert.equal(job.state, "succeeded");
    assert.equal(job.components.length, 3);
    const ids = job.components.map((c) => c.id).sort();
    for (const c of job.components) {
      assert.equal(c.exitCode, 0);
      const greeting = /received "hello from ([a-z]+-\d)"/.exec(c.outputTail);
      assert.ok(greeting, `${c.id} printed a greeting it received:\n${c.outputTail}`);
      assert.ok(ids.includes(greeting[1] ?? ""), "the greeting came from a peer of this job");
      assert.notEqual(greeting[1], c.id);
    }
    const spread = new Set(job.components.map((c) => c.nodeName));
    assert.equal(spread.size, 2, "balanced placement used both nodes");
  });

  test("a replica that fails once is restarted with its identity and the job succeeds", async () => {
    const marker = join(home.path, "failed-once");
    const job = join(home.path, "flaky.yml");
    writeFileSync(
      job,
      `name: flaky\ncomponents:\n  w:\n    resources: {cpu: 0.1, memory: 16m}\n    command: echo "$COMPONENT_ID $CONTAINER_NAME"; if [ ! -e ${marker} ]; then touch ${marker}; exit 1; fi\n    restart: {policy: on-failure, max: 2, backoff: 100ms}\n`,
    );
    const res = await maro(home.path, ["grass", "job", "start", "peers", job, "--wait", "-o", "json"]);
    assert.equal(res.code, 0, `${res.stdout}\n${res.stderr}`);
    const done = json<JobJson & { components: (ComponentJson & { restarts: number; containerName: string })[] }>(res);
    assert.equal(done.state, "succeeded");
    assert.equal(done.components[0]?.restarts, 1);
    assert.match(done.components[0]?.outputTail ?? "", new RegExp(`w-0 ${done.components[0]?.containerName}`));
    const logged = await eventually(
      async () => {
        const out = (await maro(home.path, ["grass", "job", "logs", "peers", "flaky", "-o", "json"])).stdout;
        const l = out.trim().split("\n").filter(Boolean);
        return l.length >= 2 ? l : null;
      },
      10_000,
      "both runs' lines",
    );
    await new Promise((r) => setTimeout(r, 500));
    const again = (await maro(home.path, ["grass", "job", "logs", "peers", "flaky", "-o", "json"])).stdout
      .trim()
      .split("\n");
    assert.equal(again.length, 2, `each run's line exactly once: ${again.join(" | ")}`);
    assert.equal(logged.length, 2);
  });

  test("a bad job file is refused with every problem by YAML path, exit 2, and nothing is submitted", async () => {
    const bad = join(home.path, "bad.yml");
    writeFileSync(
      bad,
      "name: broken\ncomponents:\n  learner:\n    resources: {cpu: 1, memory: lots}\n    num: 0\n    command: echo\n",
    );
    const before = json<JobJson[]>(await maro(home.path, ["grass", "job", "list", "peers", "-o", "json"]));
    const res = await maro(home.path, ["grass", "job", "start", "peers", bad]);
    assert.equal(res.code, 2);
    assert.match(res.stderr, /components\.learner\.resources\.memory: "lots" is not a memory size/);
    assert.match(res.stderr, /components\.learner\.num/);
    const afterList = json<JobJson[]>(await maro(home.path, ["grass", "job", "list", "peers", "-o", "json"]));
    assert.deepEqual(afterList, before);
  });

  test("usage errors exit 2", async () => {
    assert.equal((await maro(home.path, ["grass", "job", "frobnicate"])).code, 2);
    assert.equal((await maro(home.path, ["grass", "job", "list", "peers", "-o", "yaml"])).code, 2);
  });

  test("keys and tokens are private, and no secret shows in -o json output or the daemons' logs", async () => {
    for (const rel of ["tls/admin.key", "join-token", "master/tls/ca.key", "master/redis/redis.password"])
      assert.equal(statSync(join(record.dir, rel)).mode & 0o777, 0o600, `${rel} is 0600`);
    for (const node of Object.keys(record.pids.agents))
      assert.equal(statSync(join(record.dir, "agents", node, "tls", "node.key")).mode & 0o777, 0o600);
    const password = readFileSync(join(record.dir, "master", "redis", "redis.password"), "utf8").trim();
    const token = readFileSync(join(record.dir, "join-token"), "utf8").trim();
    const outputs = [
      (await maro(home.path, ["grass", "status", "peers", "-o", "json"])).stdout,
      (await maro(home.path, ["grass", "node", "list", "peers", "-o", "json"])).stdout,
      (await maro(home.path, ["grass", "job", "list", "peers", "-o", "json"])).stdout,
      ...["master", ...Object.keys(record.pids.agents)].map((n) =>
        readFileSync(join(record.dir, "logs", `${n}.log`), "utf8"),
      ),
    ];
    for (const text of outputs) {
      assert.equal(text.includes(password), false, "no Redis password");
      assert.equal(text.includes(token), false, "no join token");
    }
    for (const pid of [record.pids.master, ...Object.values(record.pids.agents)]) {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
      assert.equal(cmdline.includes(token) || cmdline.includes(password), false, "no secret on a command line");
    }
  });

  test("join tokens: shown, rotated, revoked from the CLI", async () => {
    const shown = json<{ token: string }>(
      await maro(home.path, ["grass", "node", "join-token", "peers", "-o", "json"]),
    );
    assert.match(shown.token, /^maro1\.[a-z0-9]{8}\./);
    const again = json<{ token: string }>(
      await maro(home.path, ["grass", "node", "join-token", "peers", "-o", "json"]),
    );
    assert.equal(again.token, shown.token, "showing does not rotate");
    const rotated = json<{ token: string }>(
      await maro(home.path, ["grass", "node", "join-token", "peers", "--rotate", "-o", "json"]),
    );
    assert.notEqual(rotated.token, shown.token);
    const revoked = await maro(home.path, ["grass", "node", "join-token", "peers", "--revoke"]);
    assert.equal(revoked.code, 0);
    assert.match(revoked.stdout, /revoked/);
    assert.equal((await maro(home.path, ["grass", "node", "join-token", "peers", "--rotate", "--revoke"])).code, 2);
  });

  test("delete stops every daemon, component and port of the cluster", async () => {
    const job = join(home.path, "sleepy.yml");
    writeFileSync(
      job,
      "name: sleepy\ncomponents:\n  w:\n    resources: {cpu: 0.1, memory: 16m}\n    num: 2\n    command: sleep 300\n",
    );
    assert.equal((await maro(home.path, ["grass", "job", "start", "peers", job])).code, 0);
    let components: number[] = [];
    for (let i = 0; i < 100 && components.length < 2; i++) {
      components = processesWithEnv("CLUSTER_NAME", "peers");
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(components.length >= 2, "the sleepy components run as processes");
    const [host, port] = record.masterAddress.split(":");
    const redis = JSON.parse(readFileSync(join(record.dir, "master", "master.json"), "utf8")) as { redisPort: number };
    assert.equal(await listening(host ?? "", Number(port)), true);

    const res = await maro(home.path, ["grass", "delete", "peers"]);
    assert.equal(res.code, 0, res.stderr);
    for (const pid of [record.pids.master, record.pids.redis, ...Object.values(record.pids.agents), ...components])
      assert.equal(pidAlive(pid), false, `pid ${pid} is gone`);
    assert.deepEqual(processesWithEnv("CLUSTER_NAME", "peers"), []);
    assert.equal(await listening(host ?? "", Number(port)), false, "master port closed");
    assert.equal(await listening("127.0.0.1", redis.redisPort), false, "redis port closed");
    assert.equal(existsSync(record.dir), false, "record removed");
    assert.equal((await maro(home.path, ["grass", "status", "peers"])).code, 1);
  });
});
