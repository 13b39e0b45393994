import assert from "node:assert/strict";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { json, maro } from "../support/cli.js";
import { eventually, tempDir } from "../support/tmp.js";

interface JobJson {
  name: string;
  state: string;
  reason: string;
}

describe("capacity: a job that does not fit waits, says why, and starts when capacity frees", () => {
  const home = tempDir("e2e-pending");
  const file = (name: string, body: string) => {
    const path = join(home.path, name);
    writeFileSync(path, body);
    return path;
  };

  before(async () => {
    const deployment = file(
      "deployment.yml",
      "mode: grass/local\nname: small\nruntime: process\nnodes:\n  - name: only\n    resources: {cpu: 1, memory: 512m}\n",
    );
    const created = await maro(home.path, ["grass", "create", deployment]);
    assert.equal(created.code, 0, created.stderr);
  });

  after(async () => {
    if (existsSync(join(home.path, "clusters", "small"))) await maro(home.path, ["grass", "delete", "small"]);
    home.remove();
  });

  const get = async (name: string) =>
    json<JobJson>(await maro(home.path, ["grass", "job", "get", "small", name, "-o", "json"]));

  test("the second job is pending with the reason while the first holds the cpu, and runs once it is stopped", async () => {
    const first = file(
      "first.yml",
      "name: first\ncomponents:\n  w:\n    resources: {cpu: 1, memory: 64m}\n    command: sleep 300\n",
    );
    const second = file(
      "second.yml",
      "name: second\ncomponents:\n  w:\n    resources: {cpu: 1, memory: 64m}\n    command: echo second ran\n",
    );
    assert.equal((await maro(home.path, ["grass", "job", "start", "small", first])).code, 0);
    await eventually(async () => (await get("first")).state === "running", 10_000, "first running");
    assert.equal((await maro(home.path, ["grass", "job", "start", "small", second])).code, 0);
    const waiting = await eventually(async () => {
      const j = await get("second");
      return j.state === "pending" && j.reason.includes("needs") ? j : null;
    });
    assert.match(waiting.reason, /w-0 needs 1 cpu/);
    assert.match(waiting.reason, /1 insufficient cpu/, "the reason counts the node that lacks cpu");
    const table = await maro(home.path, ["grass", "job", "get", "small", "second"]);
    assert.match(table.stdout, /state: +pending \(.*needs 1 cpu/);
    assert.equal((await get("second")).state, "pending", "still waiting while first runs");
    assert.equal((await maro(home.path, ["grass", "job", "stop", "small", "first"])).code, 0);
    await eventually(async () => (await get("second")).state === "succeeded", 15_000, "second to succeed");
    assert.equal((await get("first")).state, "killed");
  });

  test("a job larger than any node says it cannot run here; stopping it ends it as killed", async () => {
    const huge = file(
      "huge.yml",
      "name: huge\ncomponents:\n  w:\n    resources: {cpu: 64, memory: 64m}\n    command: echo never\n",
    );
    assert.equal((await maro(home.path, ["grass", "job", "start", "small", huge])).code, 0);
    const j = await eventually(async () => {
      const x = await get("huge");
      return x.reason.includes("64") ? x : null;
    });
    assert.equal(j.state, "pending");
    assert.match(j.reason, /cannot run on this cluster/);
    const stopped = await maro(home.path, ["grass", "job", "stop", "small", "huge", "-o", "json"]);
    assert.equal(json<JobJson>(stopped).state, "killed");
  });
});
