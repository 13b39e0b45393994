// Failure injection (f), on the docker runtime: a component killed by the
// kernel for running out of memory shows an `oom-killed` anomaly and follows
// its restart policy (on-failure, max 1: restarted once, then failed); exit
// code 65 stops the whole job; exit code 64 is never restarted, even with
// policy always.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { json, repoRoot } from "../support/cli.js";
import { docker, submit, testDockerHost, waitEnded, writeFile } from "../support/failure.js";
import { netnsUnavailable } from "../support/netns.js";
import { type AdminApi, NetnsCluster } from "../support/netns-cluster.js";
import { tempDir } from "../support/tmp.js";

interface EventJson {
  kind: string;
  job: string;
  component: string;
  state: string;
  severity: string;
  message: string;
}

describe("failure: OOM and MARO's exit codes on the docker runtime", { skip: netnsUnavailable() ?? false }, () => {
  const work = tempDir("fail-exit");
  const dockerHost = testDockerHost(repoRoot);
  let cluster: NetnsCluster | null = null;

  const jobs = {
    hungry: [
      "name: hungry",
      "components:",
      "  eater:",
      "    image: maro/busybox:test",
      "    resources: {cpu: 0.5, memory: 16m}",
      // dd (exec'd, so it is the container's main process) fills a 256 MiB
      // buffer: far past the 16 MiB limit.
      "    command: echo eating; exec dd if=/dev/zero of=/dev/null bs=256M count=1",
      "    restart: {policy: on-failure, max: 1, backoff: 100ms}",
    ],
    quits: [
      "name: quits",
      "components:",
      "  quitter:",
      "    image: maro/busybox:test",
      "    resources: {cpu: 0.25, memory: 16m}",
      "    command: sleep 2; exit 65",
      "    restart: {policy: always, max: 3, backoff: 100ms}",
      "  sleeper:",
      "    image: maro/busybox:test",
      "    resources: {cpu: 0.25, memory: 16m}",
      "    command: sleep 120",
    ],
    never: [
      "name: never",
      "components:",
      "  once:",
      "    image: maro/busybox:test",
      "    resources: {cpu: 0.25, memory: 16m}",
      "    command: echo run; exit 64",
      "    restart: {policy: always, max: 3, backoff: 100ms}",
    ],
  };
  let watch: ReturnType<AdminApi["watch"]> | null = null;
  let sinceS = 0;
  const submittedAt = new Map<string, number>();

  // The three jobs run side by side (they fit on the node together); each test checks one.
  before(async () => {
    cluster = await NetnsCluster.start({ name: "fail-exit", nodes: 1, runtime: "docker", dockerHost });
    watch = cluster.admin().watch();
    sinceS = Math.floor(Date.now() / 1000) - 1;
    for (const [name, lines] of Object.entries(jobs)) {
      const submitted = await submit(cluster, writeFile(work.path, `${name}.yml`, `${lines.join("\n")}\n`));
      submittedAt.set(name, Number(submitted.submittedAtMs));
    }
  });

  after(async () => {
    watch?.close();
    await cluster?.destroy();
    work.remove();
  });

  test("an OOM-killed component shows an oom-killed anomaly, is restarted once, then fails", async (t) => {
    const c = cluster as NetnsCluster;
    const done = await waitEnded(c, "hungry", 60_000);
    const eater = done.components[0];
    assert.ok(eater);
    t.diagnostic(`hungry: ${done.state} (${done.reason}); eater ${JSON.stringify({ ...eater, outputTail: "…" })}`);
    assert.equal(done.state, "failed");
    assert.equal(eater.oomKilled, true, "the master knows it was OOM-killed");
    assert.equal(eater.exitCode, 137);
    assert.equal(eater.restarts, 1, "restarted once (on-failure, max 1)");
    assert.equal(eater.state, "failed");
    // The agent removes ended containers; Docker's event log still has their OOMs.
    const ooms = docker(
      dockerHost,
      ...["events", "--since", String(sinceS), "--until", String(Math.ceil(Date.now() / 1000))],
      ...["--filter", "event=oom", "--filter", `container=${eater.containerName}`, "--format", "{{.Action}}"],
    )
      .split("\n")
      .filter(Boolean);
    assert.equal(ooms.length, 2, `Docker saw two OOM kills (the run and its one restart): ${ooms.join(", ")}`);

    const viaApi = await c
      .admin()
      .call<{ events: EventJson[] }>("ListEvents", { job: "hungry", anomaliesOnly: true, limit: 0 });
    const oomApi = viaApi.events.filter((e) => e.state === "oom-killed" && e.component === "eater-0");
    assert.ok(oomApi.length >= 1, `ListEvents has an oom-killed anomaly for eater-0: ${JSON.stringify(viaApi)}`);
    for (const e of oomApi) assert.equal(e.kind, "anomaly");

    const res = await c.cli(["grass", "status", c.name, "events", "--anomalies", "-o", "json"]);
    assert.equal(res.code, 0, `status events exited ${res.code}: ${res.stderr}`);
    const printed = json<EventJson[] | { events: EventJson[] }>(res);
    const list = Array.isArray(printed) ? printed : printed.events;
    assert.ok(
      list.some((e) => e.state === "oom-killed" && e.job === "hungry" && e.component === "eater-0"),
      `maro grass status events --anomalies shows it: ${res.stdout}`,
    );
  });

  test("exit code 65 stops the whole job", async (t) => {
    const c = cluster as NetnsCluster;
    const done = await waitEnded(c, "quits", 40_000);
    const took = Number(done.finishedAtMs) - (submittedAt.get("quits") ?? 0);
    t.diagnostic(`quits: ${done.state} (${done.reason}) ${took} ms after submission`);
    assert.equal(done.state, "killed", "the job was stopped");
    assert.match(done.reason, /65/);
    const quitter = done.components.find((x) => x.id === "quitter-0");
    const sleeper = done.components.find((x) => x.id === "sleeper-0");
    assert.equal(quitter?.exitCode, 65);
    assert.equal(quitter?.restarts, 0, "exit 65 is not restarted, whatever the policy");
    assert.equal(sleeper?.state, "killed", "the other component was stopped");
    const seen = (watch?.seen ?? []).map((e) => e.event).filter((e) => e.job === "quits");
    assert.ok(
      seen.some((e) => e.component === "sleeper-0" && e.state === "running"),
      `the sleeper had been running: ${JSON.stringify(seen)}`,
    );
    assert.ok(took < 60_000, "long before the sleeper's own end");
    const left = docker(dockerHost, "ps", "-q", "--filter", `name=${sleeper?.containerName}`).trim();
    assert.equal(left, "", "the sleeper's container no longer runs");
  });

  test("exit code 64 is never restarted, even with policy always", async () => {
    const c = cluster as NetnsCluster;
    const done = await waitEnded(c, "never", 30_000);
    const once = done.components[0];
    assert.equal(done.state, "failed");
    assert.equal(once?.exitCode, 64);
    assert.equal(once?.restarts, 0, "not restarted");
    assert.equal(once?.state, "failed");
    const seen = (watch?.seen ?? []).map((e) => e.event).filter((e) => e.job === "never");
    const started = seen.filter((e) => e.component === "once-0" && e.state === "running");
    assert.equal(started.length, 1, `it ran once: ${JSON.stringify(seen)}`);
    assert.ok(!seen.some((e) => e.component === "once-0" && e.state === "restarting"));
  });
});
