import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { networkInterfaces } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { createLogger } from "@maro/proto";
import { AGENT_VERSION, MasterChannel, RefusedError } from "./channel.js";
import { EnrolError, ensureNodeCertificate } from "./enrol.js";
import { fetchImageStream } from "./images/fetch.js";
import type { ImageLoader } from "./images/loader.js";
import { ownerLabels } from "./launch-spec.js";
import { LogShipper } from "./logs/shipper.js";
import { parseNodeLabels } from "./node-labels.js";
import { NodeMonitor } from "./probes/monitor.js";
import { applyReservation, measureNode, parseReservation } from "./resources/index.js";
import type { DockerRuntime } from "./runtime/docker.js";
import { ProcessRuntime } from "./runtime/process.js";
import { type ContainerRuntime, RuntimeError } from "./runtime/types.js";

const USAGE = `usage: maro-agent --master HOST:PORT --cluster NAME --name NODE [options]

  --master HOST:PORT     the master's gRPC address
  --cluster NAME         the cluster to join
  --name NODE            this node's name (DNS label)
  --runtime R            docker or process (default docker)
  --docker-socket S      Docker Engine socket (default $DOCKER_HOST or /var/run/docker.sock)
  --state-dir DIR        the agent's own files: tls/ (node key and certificate), logs, scratch dirs
  --ca-file FILE         the cluster CA certificate (ca.crt), to verify the master
  --token-file FILE      a join token, needed until the node has its certificate
                         (or MARO_JOIN_TOKEN in the environment; never on the command line)
  --resources SPEC       what this node offers: cpu=all|N,memory=all|2048m,gpu=all|N (default all)
  --address ADDR         address peers use to reach components here (default: first non-loopback IPv4)
  --cleanup-on-exit      stop this node's components when the agent is stopped (local clusters)
  --labels K=V,...       this node's labels, matched by job constraints (e.g. gpu_model=A100,zone=a)
  --sample-interval MS   how often resource usage is sampled and sent (default 1000)
  --hung-after MS        report a component that used no cpu and wrote no output this long (default off)
  --version              print the version`;

function fail(message: string): never {
  process.stderr.write(`maro-agent: ${message}\n\n${USAGE}\n`);
  process.exit(2);
}

let shareNoted = false;

/**
 * Components see the cluster's shared data at mount.target. This node reaches
 * it only when it shares the master's filesystem (a local cluster): CIFS
 * mounts are not used. Said once, clearly; a start that cannot have it fails.
 */
function checkShare(source: string, log: ReturnType<typeof createLogger>): void {
  if (!existsSync(source))
    throw new RuntimeError(
      "START_FAILED",
      `the cluster's shared data directory ${source} is not on this node; run the node on the master's filesystem (CIFS mounts are not supported yet)`,
    );
  if (!shareNoted) {
    shareNoted = true;
    log.info("binding the shared data directory directly: this node shares the master's filesystem", { source });
  }
}

function splitHostPort(address: string): [string, number] {
  const i = address.lastIndexOf(":");
  return i > 0 ? [address.slice(0, i), Number(address.slice(i + 1))] : ["", 0];
}

function defaultAddress(): string {
  for (const list of Object.values(networkInterfaces()))
    for (const a of list ?? []) if (a.family === "IPv4" && !a.internal) return a.address;
  return "127.0.0.1";
}

async function main() {
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      options: {
        master: { type: "string" },
        cluster: { type: "string" },
        name: { type: "string" },
        runtime: { type: "string", default: "docker" },
        "docker-socket": { type: "string" },
        "state-dir": { type: "string" },
        "ca-file": { type: "string" },
        "token-file": { type: "string" },
        resources: { type: "string", default: "cpu=all,memory=all,gpu=all" },
        address: { type: "string" },
        "cleanup-on-exit": { type: "boolean" },
        labels: { type: "string" },
        "sample-interval": { type: "string", default: "1000" },
        "hung-after": { type: "string" },
        version: { type: "boolean" },
        help: { type: "boolean" },
      },
      strict: true,
    }).values;
  } catch (err) {
    fail(err instanceof Error ? err.message : String(err));
  }
  if (values.help) return void process.stdout.write(`${USAGE}\n`);
  if (values.version) return void process.stdout.write(`${AGENT_VERSION}\n`);
  const str = (k: string) => (typeof values[k] === "string" ? (values[k] as string) : undefined);
  const master = str("master") ?? fail("--master is required");
  const cluster = str("cluster") ?? fail("--cluster is required");
  const nodeName = str("name") ?? fail("--name is required");
  const runtimeKind = str("runtime");
  if (runtimeKind !== "docker" && runtimeKind !== "process")
    fail(`--runtime: "${runtimeKind}" is not docker or process`);
  let reservation: ReturnType<typeof parseReservation>;
  try {
    reservation = parseReservation(str("resources") ?? "");
  } catch (err) {
    fail(`--resources: ${err instanceof Error ? err.message : String(err)}`);
  }
  let labels: Record<string, string>;
  try {
    labels = parseNodeLabels(str("labels") ?? "");
  } catch (err) {
    fail(`--labels: ${err instanceof Error ? err.message : String(err)}`);
  }
  const millis = (flag: string, min: number): number | undefined => {
    const text = str(flag);
    if (text === undefined) return undefined;
    const n = Number(text);
    if (!/^\d+$/.test(text.trim()) || n < min)
      fail(`--${flag}: "${text}" is not a whole number of milliseconds >= ${min}`);
    return n;
  };
  const sampleIntervalMs = millis("sample-interval", 100) ?? 1000;
  const hungAfterMs = millis("hung-after", 1000) ?? 0;
  const stateDir = str("state-dir") ?? fail("--state-dir is required");
  const caFile = str("ca-file") ?? fail("--ca-file is required: the agent only talks TLS to its master");
  let caPem: string;
  let token = process.env.MARO_JOIN_TOKEN;
  try {
    caPem = readFileSync(caFile, "utf8");
    const tokenFile = str("token-file");
    if (tokenFile) token = readFileSync(tokenFile, "utf8").trim();
  } catch (err) {
    fail(err instanceof Error ? err.message : String(err));
  }
  const log = createLogger("maro-agent");
  const measured = await measureNode();
  let offer: ReturnType<typeof applyReservation>;
  try {
    offer = applyReservation(measured, reservation);
  } catch (err) {
    fail(`--resources: ${err instanceof Error ? err.message : String(err)}`);
  }
  const owner = ownerLabels(cluster, nodeName);
  let runtime: ContainerRuntime;
  // dockerode and what uses it (~15 MB of memory) are loaded only for the docker runtime.
  let docker: DockerRuntime | null = null;
  if (runtimeKind === "docker") {
    const { DockerRuntime } = await import("./runtime/docker.js");
    runtime = docker = new DockerRuntime({
      dockerHost: str("docker-socket") ?? process.env.DOCKER_HOST,
      scopeLabels: owner,
      onWarning: (message) => log.warn(message),
    });
  } else {
    mkdirSync(stateDir, { recursive: true });
    runtime = new ProcessRuntime({ stateDir, scopeLabels: owner, onWarning: (message) => log.warn(message) });
  }
  let nodeCert: Awaited<ReturnType<typeof ensureNodeCertificate>>;
  try {
    nodeCert = await ensureNodeCertificate({
      master,
      cluster,
      nodeName,
      caPem,
      tlsDir: join(stateDir, "tls"),
      token,
      log,
    });
  } catch (err) {
    if (!(err instanceof EnrolError)) throw err;
    process.stderr.write(`maro-agent: ${err.message}\n`);
    await runtime.close();
    process.exit(3);
  }
  // Components' output goes to the master's log sink: Docker's fluentd driver
  // for containers, the shipper (files as disk buffer) for processes.
  const shipper =
    runtime.kind === "process"
      ? new LogShipper({
          logsDir: join(stateDir, "logs"),
          stateFile: join(stateDir, "log-offsets.json"),
          nodeName,
          log,
        })
      : null;
  runtime.onEvent((event) => {
    if (event.kind === "exited") shipper?.ended(event.containerName);
  });
  // Resource samples and anomalies go to the master over the channel.
  const monitor: NodeMonitor = new NodeMonitor({
    nodeName,
    runtime,
    owner,
    stateDir,
    dockerHost: docker?.dockerHost,
    intervalMs: sampleIntervalMs,
    detector: { hungAfterMs },
    sendSample: (sample) => channel.sendSample(sample),
    sendAnomaly: (anomaly) => {
      const fields = { kind: anomaly.kind, severity: anomaly.severity, message: anomaly.message };
      if (anomaly.severity === "info") log.info("anomaly cleared", fields);
      else log.warn("anomaly", fields);
      channel.reportAnomaly(anomaly);
    },
    log,
  });
  // Pushed images are loaded from the master before a component needs them.
  let loader: ImageLoader | null = null;
  const channel = new MasterChannel({
    master,
    caPem,
    nodeCert,
    onRegistered: (registered) => {
      monitor.registered();
      const [host, port] = splitHostPort(registered.logSinkAddress);
      if (!host) return;
      docker?.setLogConfig({
        type: "fluentd",
        config: { "fluentd-address": `${host}:${port}`, "fluentd-async": "true", "fluentd-request-ack": "true" },
      });
      shipper?.setSink({ host, port, sharedKey: registered.logSinkSharedKey });
    },
    labels,
    onPong: (pong, receivedMs) => monitor.pong(pong.agentTimeMs, pong.masterTimeMs, receivedMs),
    onStop: (containerName) => monitor.stopping(containerName),
    beforeStart: async (start) => {
      monitor.starting(start.containerName, { jobId: start.jobId, componentId: start.componentId });
      if (start.spec?.mountTarget && start.mountSource) checkShare(start.mountSource, log);
      if (loader && start.imageSha256 && start.spec?.image) await loader.ensure(start.spec.image, start.imageSha256);
      shipper?.track(start.containerName, start.jobName);
    },
    cluster,
    nodeName,
    address: str("address") ?? defaultAddress(),
    allocatable: { cpuMillis: offer.cpuMillis, memoryBytes: offer.memoryBytes, gpu: offer.gpuIndices.length },
    gpuIndices: offer.gpuIndices,
    runtime,
    log,
  });
  if (docker) {
    const { ImageLoader } = await import("./images/loader.js");
    loader = new ImageLoader({
      dockerHost: docker.dockerHost,
      fetch: (sha256) => fetchImageStream(channel.agentClient, sha256),
      onStatus: (status) => channel.reportImage(status),
      log,
    });
  }
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info("stopping", { signal, cleanup: Boolean(values["cleanup-on-exit"]) });
    monitor.stop();
    channel.close();
    shipper?.close();
    if (values["cleanup-on-exit"]) {
      const mine = await runtime.list(owner).catch(() => []);
      await Promise.allSettled(mine.map((c) => runtime.stop(c.containerName, 5)));
    }
    await runtime.close();
    process.exit(0);
  };
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));
  log.info("agent starting", { node: nodeName, master, runtime: runtime.kind, offer, labels });
  monitor.start();
  try {
    await channel.run();
  } catch (err) {
    if (err instanceof RefusedError) {
      log.error("the master refused this agent", { code: err.code, reason: err.message });
      process.stderr.write(`maro-agent: refused by the master (${err.code}): ${err.message}\n`);
      await runtime.close();
      process.exit(3);
    }
    throw err;
  }
}

main().catch((err) => {
  process.stderr.write(`maro-agent: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
