import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { json, maro, repoRoot } from "../support/cli.js";
import { eventually, tempDir } from "../support/tmp.js";

interface ComponentJson {
  id: string;
  state: string;
  exitCode: number;
  containerName: string;
  outputTail: string;
}
interface JobJson {
  name: string;
  state: string;
  reason: string;
  components: ComponentJson[];
}

/** The test Docker engine: the one test.sh started, or start it here (idempotent). */
function dockerHost(): string {
  if (process.env.MARO_TEST_DOCKER_HOST) return process.env.MARO_TEST_DOCKER_HOST;
  return execFileSync("bash", [join(repoRoot, "scripts/lib/test-dockerd.sh"), "start"], { encoding: "utf8" }).trim();
}

describe("a local cluster on the docker runtime", () => {
  const home = tempDir("e2e-docker");
  const host = dockerHost();
  const docker = (...args: string[]) =>
    execFileSync("docker", args, { encoding: "utf8", env: { ...process.env, DOCKER_HOST: host } });
  const file = (name: string, body: string) => {
    const path = join(home.path, name);
    writeFileSync(path, body);
    return path;
  };
  const get = async (name: string) =>
    json<JobJson>(await maro(home.path, ["grass", "job", "get", "boxes", name, "-o", "json"]));

  before(async () => {
    const deployment = file(
      "deployment.yml",
      `mode: grass/local\nname: boxes\nruntime: docker\nnodes: 1\ndocker: {socket: "${host}"}\n`,
    );
    const created = await maro(home.path, ["grass", "create", deployment]);
    assert.equal(created.code, 0, created.stderr);
  });

  after(async () => {
    if (existsSync(join(home.path, "clusters", "boxes"))) await maro(home.path, ["grass", "delete", "boxes"]);
    home.remove();
  });

  test("containers carry the requested cpu and memory limits and reach the cluster's Redis from the bridge", async () => {
    const job = file(
      "limits.yml",
      [
        "name: limits",
        "components:",
        "  sleeper:",
        "    image: maro/busybox:test",
        "    resources: {cpu: 0.5, memory: 64m}",
        "    command: sleep 300",
        "  pinger:",
        "    image: maro/busybox:test",
        "    resources: {cpu: 0.25, memory: 32Mi}",
        `    command: printf 'AUTH %s\\r\\nPING\\r\\n' "$REDIS_PASSWORD" | nc -w 3 "$REDIS_HOST" "$REDIS_PORT"; echo "job=$JOB_NAME component=$COMPONENT_ID index=$COMPONENT_INDEX"`,
        "",
      ].join("\n"),
    );
    const res = await maro(home.path, ["grass", "job", "start", "boxes", job]);
    assert.equal(res.code, 0, res.stderr);
    const running = await eventually(
      async () => {
        const j = await get("limits");
        return j.components.find((c) => c.id === "sleeper-0" && c.state === "running");
      },
      20_000,
      "sleeper running",
    );
    const inspect = JSON.parse(docker("inspect", running.containerName)) as {
      HostConfig: { NanoCpus: number; Memory: number };
      Config: { Labels: Record<string, string> };
    }[];
    assert.equal(inspect[0]?.HostConfig.NanoCpus, 500_000_000);
    assert.equal(inspect[0]?.HostConfig.Memory, 64 * 1024 * 1024);
    assert.equal(inspect[0]?.Config.Labels["maro.cluster"], "boxes");
    const pinger = await eventually(
      async () => {
        const j = await get("limits");
        return j.components.find((c) => c.id === "pinger-0" && c.state === "succeeded");
      },
      20_000,
      "pinger done",
    );
    assert.match(pinger.outputTail, /\+OK/, "AUTH with REDIS_PASSWORD accepted");
    assert.match(pinger.outputTail, /\+PONG/, "Redis reachable at REDIS_HOST:REDIS_PORT from the container");
    assert.match(pinger.outputTail, /job=limits component=pinger-0 index=0/);
    const stopped = await maro(home.path, ["grass", "job", "stop", "boxes", "limits", "--wait", "-o", "json"]);
    assert.equal(json<JobJson>(stopped).state, "killed");
  });

  test("a component that exits 3 fails the job: --wait exits non-zero and job get names it", async () => {
    const job = file(
      "fails.yml",
      "name: fails\ncomponents:\n  ok:\n    image: maro/busybox:test\n    resources: {cpu: 0.1, memory: 16m}\n    command: sleep 30\n  bad:\n    image: maro/busybox:test\n    resources: {cpu: 0.1, memory: 16m}\n    command: echo about to fail; exit 3\n",
    );
    const res = await maro(home.path, ["grass", "job", "start", "boxes", job, "--wait"]);
    assert.notEqual(res.code, 0);
    assert.match(res.stdout, /bad-0 .* failed +3/);
    const j = await get("fails");
    assert.equal(j.state, "failed");
    assert.match(j.reason, /bad-0 exited with code 3/);
    const bad = j.components.find((c) => c.id === "bad-0");
    assert.equal(bad?.exitCode, 3);
    assert.match(bad?.outputTail ?? "", /about to fail/);
    await eventually(
      async () => (await get("fails")).components.find((c) => c.id === "ok-0")?.state === "killed",
      20_000,
      "the other component stopped",
    );
  });

  test("container output reaches job logs through Docker's fluentd driver, long lines joined whole", async () => {
    const job = file(
      "talker.yml",
      [
        "name: talker",
        "components:",
        "  t:",
        "    image: maro/busybox:test",
        "    resources: {cpu: 0.1, memory: 32m}",
        // Docker's fluentd driver in async mode drops lines still buffered when a
        // container stops (moby#40063), so the component lingers a moment.
        "    command: echo first; head -c 40000 /dev/zero | tr '\\0' x; echo; echo last; echo oops >&2; sleep 1",
        "",
      ].join("\n"),
    );
    const res = await maro(home.path, ["grass", "job", "start", "boxes", job, "--wait"]);
    assert.equal(res.code, 0, res.stderr);
    const lines = await eventually(
      async () => {
        const out = (await maro(home.path, ["grass", "job", "logs", "boxes", "talker", "-o", "json"])).stdout;
        const got = out
          .trim()
          .split("\n")
          .filter(Boolean)
          .map((l) => JSON.parse(l) as { line: string; stream: string });
        return got.length >= 4 ? got : null;
      },
      20_000,
      "four lines",
    );
    // Docker forwards stdout and stderr separately: order holds within a stream only.
    assert.deepEqual(
      lines.filter((l) => l.stream === "stdout").map((l) => (l.line.length > 100 ? `x*${l.line.length}` : l.line)),
      ["first", "x*40000", "last"],
    );
    assert.deepEqual(
      lines.filter((l) => l.stream === "stderr").map((l) => l.line),
      ["oops"],
    );
  });

  test("an image pushed as a tar starts a job on a node that never had it", async () => {
    const tag = `maro/pushed:e2e-${process.pid}`;
    const tar = join(home.path, "pushed.tar");
    docker("tag", "maro/busybox:test", tag);
    docker("save", "-o", tar, tag);
    docker("rmi", tag);
    assert.throws(() => docker("image", "inspect", tag), "the engine does not have it");
    const pushed = await maro(home.path, ["grass", "image", "push", "boxes", "--image-path", tar, "-o", "json"]);
    assert.equal(pushed.code, 0, pushed.stderr);
    const job = file(
      "pushed.yml",
      `name: pushed\ncomponents:\n  p:\n    image: ${tag}\n    resources: {cpu: 0.1, memory: 16m}\n    command: echo from the pushed image\n`,
    );
    const res = await maro(home.path, ["grass", "job", "start", "boxes", job, "--wait"]);
    assert.equal(res.code, 0, `${res.stdout}\n${res.stderr}`);
    assert.match(res.stdout, /from the pushed image/);
    const listed = json<{ name: string; nodes: string[] }[]>(
      await maro(home.path, ["grass", "image", "list", "boxes", "-o", "json"]),
    );
    assert.deepEqual(listed.find((i) => i.name === tag)?.nodes, ["node-1"]);
    const missing = file(
      "missing.yml",
      "name: missing\ncomponents:\n  p:\n    image: maro/nowhere:1\n    resources: {cpu: 0.1, memory: 16m}\n    command: echo never\n",
    );
    const failed = await maro(home.path, ["grass", "job", "start", "boxes", missing, "--wait"]);
    assert.notEqual(failed.code, 0);
    assert.match(failed.stdout, /maro\/nowhere:1/);
    for (const ref of docker("images", "--format", "{{.Repository}}:{{.Tag}}").split("\n"))
      if (ref.startsWith("maro/pushed:") || ref.startsWith("maro-pushed:")) docker("rmi", "-f", ref);
  });

  test("delete leaves no container of the cluster behind", async () => {
    const job = file(
      "linger.yml",
      "name: linger\ncomponents:\n  w:\n    image: maro/busybox:test\n    resources: {cpu: 0.1, memory: 16m}\n    num: 2\n    command: sleep 300\n",
    );
    assert.equal((await maro(home.path, ["grass", "job", "start", "boxes", job])).code, 0);
    await eventually(async () => (await get("linger")).state === "running", 20_000, "linger running");
    assert.equal(docker("ps", "-q", "--filter", "label=maro.cluster=boxes").trim().split("\n").length, 2);
    const res = await maro(home.path, ["grass", "delete", "boxes"]);
    assert.equal(res.code, 0, res.stderr);
    assert.equal(docker("ps", "-aq", "--filter", "label=maro.cluster=boxes").trim(), "");
  });
});
