import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { eventually, tempDir } from "../../../test/support/tmp.js";
import { ForwardServer, LogStore, type StoredLine, storeEvents } from "../src/logs/index.js";

const run = promisify(execFile);
const root = join(import.meta.dirname, "../../..");

async function all<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

describe("Docker's fluentd log driver into the log sink", () => {
  const dir = tempDir("logs-docker");
  const store = new LogStore({ dir: dir.path });
  const remotes: string[] = [];
  const server = new ForwardServer({
    host: "127.0.0.1",
    port: 0,
    // dockerd itself dials the sink, from the host.
    authorize: (addr) => {
      remotes.push(addr);
      return addr === "127.0.0.1";
    },
    onEvents: storeEvents(store),
  });
  let port = 0;
  let env: NodeJS.ProcessEnv = {};
  const name = `maro-logs-test-${process.pid}`;

  before(async () => {
    const dockerHost = execFileSync("bash", [join(root, "scripts/lib/test-dockerd.sh"), "start"], {
      encoding: "utf8",
    }).trim();
    env = { ...process.env, DOCKER_HOST: dockerHost };
    ({ port } = await server.start());
  });
  after(async () => {
    await run("docker", ["rm", "--force", name], { env }).catch(() => {});
    await server.stop();
    await store.close();
    dir.remove();
  });

  test("lines land once each, stderr marked, a line over 16 KiB joined whole", async () => {
    const script = [
      "echo first line",
      "echo to stderr >&2",
      "for i in 1 2 3 4 5; do echo numbered $i; done",
      "head -c 40000 /dev/zero | tr '\\0' x; echo",
      "echo last line",
      // With fluentd-async Docker drops what is still buffered when a container stops
      // (moby#40063): stay up until the sink has every line; the test removes it then.
      "exec sleep 300",
    ].join("; ");
    await run(
      "docker",
      [
        "run",
        "--detach",
        "--rm",
        "--network",
        "none",
        "--name",
        name,
        "--log-driver",
        "fluentd",
        "--log-opt",
        `fluentd-address=127.0.0.1:${port}`,
        "--log-opt",
        "tag=maro.job1.c1",
        "--log-opt",
        "fluentd-async=true",
        "--log-opt",
        "fluentd-request-ack=true",
        "maro/busybox:test",
        "sh",
        "-c",
        script,
      ],
      { env },
    );
    const read = await eventually(
      async () => {
        const got = await all(store.read("job1"));
        return got.some((l) => l.line === "last line") ? got : null;
      },
      20_000,
      "the last line",
    );
    const byStream = (l: StoredLine) => `${l.stream}:${l.line.length > 100 ? `x*${l.line.length}` : l.line}`;
    const stdout = read.filter((l) => l.stream === "stdout").map(byStream);
    assert.deepEqual(stdout, [
      "stdout:first line",
      "stdout:numbered 1",
      "stdout:numbered 2",
      "stdout:numbered 3",
      "stdout:numbered 4",
      "stdout:numbered 5",
      "stdout:x*40000",
      "stdout:last line",
    ]);
    assert.deepEqual(read.filter((l) => l.stream === "stderr").map(byStream), ["stderr:to stderr"]);
    const long = read.find((l) => l.line.length > 100);
    assert.equal(long?.line, "x".repeat(40000));
    assert.ok(read.every((l) => l.container === "c1"));
    assert.ok(remotes.length > 0 && remotes.every((a) => a === "127.0.0.1"), remotes.join(","));
    assert.ok(server.stats().events >= 10, "the long line arrived in pieces");
  });
});
