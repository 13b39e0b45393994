// The agent's memory footprint depends on what it loads: dockerode only for
// the docker runtime, @maro/pki (and its X.509 library) never in a node that
// has its certificate. Checked on a real agent, registered with a master and
// sampling, by listing the CommonJS modules it had loaded when it stopped.
// Also: the reused-buffer /proc reader returns exactly what the file holds.

import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { makeTestPki, type TestPki } from "../../../test/support/pki.js";
import { tempDir } from "../../../test/support/tmp.js";
import { readProcFile, readProcText } from "../src/probes/proc-read.js";
import { testDockerHost } from "./support/docker-host.js";
import { RecordingMaster, startAgent, stopAgent } from "./support/recording-master.js";

const CLUSTER = "footprint";

/** NODE_OPTIONS that make a node process write the CommonJS modules it loaded to `file` when it exits. */
function moduleListOptions(file: string): string {
  const code = [
    `import { createRequire } from "node:module";`,
    `import { writeFileSync } from "node:fs";`,
    `process.on("exit", () => writeFileSync(${JSON.stringify(file)}, JSON.stringify(Object.keys(createRequire("/").cache))));`,
  ].join("\n");
  return `--import=data:text/javascript,${encodeURIComponent(code)}`;
}

const loads = (modules: string[], pkg: string) => modules.some((m) => m.includes(`/node_modules/${pkg}/`));

describe("what a running agent loads", () => {
  const dir = tempDir("agent-footprint");
  let pki: TestPki;
  let master: RecordingMaster;

  before(async () => {
    pki = await makeTestPki(dir.path, CLUSTER);
    master = new RecordingMaster(pki);
    await master.start();
  });

  after(() => {
    master?.stop();
    dir.remove();
  });

  const runAgent = async (node: string, args: string[], env: Record<string, string> = {}): Promise<string[]> => {
    const list = join(dir.path, `${node}-modules.json`);
    const agent = await startAgent({
      pki,
      port: master.port,
      cluster: CLUSTER,
      node,
      stateDir: join(dir.path, node),
      args: [...args, "--cleanup-on-exit"],
      env: { ...env, NODE_OPTIONS: moduleListOptions(list) },
    });
    try {
      await master.waitFor(
        (m) => (m.register?.nodeName === node ? m.register : undefined),
        30_000,
        `Register from ${node} (agent said: ${agent.output()})`,
      );
      const seen = master.messages.length;
      await master.waitFor(
        (m) => (master.messages.indexOf(m) >= seen && m.sample ? m.sample : undefined),
        15_000,
        `a sample from ${node} (agent said: ${agent.output()})`,
      );
    } finally {
      await stopAgent(agent.child);
    }
    return JSON.parse(readFileSync(list, "utf8")) as string[];
  };

  it("on the process runtime, with its certificate: gRPC but neither dockerode nor the X.509 library", async () => {
    const modules = await runAgent("node-p", ["--runtime", "process"]);
    assert.ok(loads(modules, "@grpc/grpc-js"), "the module list is read (gRPC is in it)");
    assert.equal(loads(modules, "dockerode"), false, "dockerode is not loaded");
    assert.equal(loads(modules, "@peculiar/x509"), false, "@peculiar/x509 is not loaded");
    assert.equal(loads(modules, "reflect-metadata"), false, "reflect-metadata is not loaded");
  });

  it("on the docker runtime: dockerode is loaded, the X.509 library still is not", async () => {
    const modules = await runAgent("node-d", ["--runtime", "docker"], { DOCKER_HOST: testDockerHost() });
    assert.ok(loads(modules, "dockerode"), "dockerode is loaded");
    assert.equal(loads(modules, "@peculiar/x509"), false, "@peculiar/x509 is not loaded");
  });
});

describe("readProcText", () => {
  const dir = tempDir("proc-read");
  after(() => dir.remove());

  it("reads /proc files and files larger than its buffer exactly", async () => {
    const status = readProcText("/proc/self/status");
    assert.match(status, /^Name:/);
    assert.match(status, /VmRSS:\s+\d+ kB\n/);
    const big = join(dir.path, "big.txt");
    const text = Array.from({ length: 20_000 }, (_, i) => `line ${i} ü`).join("\n");
    writeFileSync(big, text);
    assert.equal(readProcText(big), text);
    assert.equal(await readProcFile(big), text);
    // After a big file, small ones still read whole.
    assert.equal(readProcText("/proc/self/stat").split(" ")[0], String(process.pid));
  });

  it("fails for a file that is not there, as readFile does", async () => {
    assert.throws(() => readProcText("/proc/no-such-file"), { code: "ENOENT" });
    await assert.rejects(readProcFile(join(dir.path, "missing")), { code: "ENOENT" });
  });
});
