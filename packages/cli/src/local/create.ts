import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { JoinTokenOut, ListNodesResponseOut } from "@maro/proto";
import { MasterApi } from "../client.js";
import { CliError } from "../errors.js";
import { adminTls, type ClusterRecord, clusterDir, RECORD_FILES, writeCluster, writeSecret } from "../home.js";
import { type LocalDeployment, nodeResourcesFlag } from "../spec/deployment.js";
import { probeDocker } from "./docker-probe.js";
import { createClusterPki } from "./pki-setup.js";
import { concretePort, daemonBin, isAlive, spawnDaemon, stopPid, tailFile } from "./processes.js";

export interface Progress {
  step(message: string): void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The master runs these daemons; say how to get them before starting anything. */
function requireDaemons(): void {
  for (const [binary, pkg, args] of [
    ["redis-server", "redis-server", ["--version"]],
    ["smbd", "samba", ["--version"]],
  ] as const) {
    try {
      execFileSync(binary, [...args], { stdio: "ignore" });
    } catch {
      throw new CliError(
        `${binary} is not installed; the master needs it (apt-get install -y ${pkg}, or npm run quickstart which installs it)`,
      );
    }
  }
}

interface MasterJson {
  pid: number;
  address: string;
  redisPid: number | null;
  smbPid: number | null;
}

async function waitForMaster(dir: string, pid: number, logFile: string, timeoutMs: number): Promise<MasterJson> {
  const file = join(dir, "master", "master.json");
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (existsSync(file)) {
      const info = JSON.parse(readFileSync(file, "utf8")) as MasterJson;
      if (info.pid === pid) return info;
    }
    if (!isAlive(pid, dir)) throw new CliError(`maro-master exited during start:\n${tailFile(logFile)}`);
    await sleep(50);
  }
  throw new CliError(`maro-master did not come up within ${timeoutMs / 1000}s:\n${tailFile(logFile)}`);
}

async function waitForAgents(
  api: MasterApi,
  record: ClusterRecord,
  progress: Progress,
  timeoutMs: number,
): Promise<void> {
  const wanted = Object.keys(record.pids.agents);
  const deadline = Date.now() + timeoutMs;
  let lastCount = -1;
  while (Date.now() < deadline) {
    const res = await api.call<object, ListNodesResponseOut>("ListNodes", {});
    const ready = new Set(res.nodes.filter((n) => n.state === "ready").map((n) => n.name));
    const count = wanted.filter((n) => ready.has(n)).length;
    if (count !== lastCount) progress.step(`${count}/${wanted.length} agents registered`);
    lastCount = count;
    if (count === wanted.length) return;
    for (const [name, pid] of Object.entries(record.pids.agents)) {
      if (!isAlive(pid, record.dir))
        throw new CliError(
          `maro-agent ${name} exited during start:\n${tailFile(join(record.dir, "logs", `${name}.log`))}`,
        );
    }
    await sleep(100);
  }
  throw new CliError(`agents did not register within ${timeoutMs / 1000}s; see ${join(record.dir, "logs")}`);
}

/**
 * Starts a local cluster: a master (which starts its Redis) and one agent per
 * node, all detached. On any failure everything started is stopped again and
 * the cluster directory removed, so nothing is left half-started.
 */
export async function createLocalCluster(deployment: LocalDeployment, progress: Progress): Promise<ClusterRecord> {
  const dir = clusterDir(deployment.name);
  if (existsSync(join(dir, "cluster.json")))
    throw new CliError(
      `cluster "${deployment.name}" already exists; delete it first (maro grass delete ${deployment.name})`,
    );
  requireDaemons();
  const masterBin = daemonBin("maro-master");
  const agentBin = daemonBin("maro-agent");
  const redisBind = ["127.0.0.1"];
  let dockerHost: string | undefined;
  if (deployment.runtime === "docker") {
    dockerHost = deployment.docker?.socket ?? process.env.DOCKER_HOST ?? "unix:///var/run/docker.sock";
    progress.step(`checking the Docker engine at ${dockerHost}`);
    const probe = await probeDocker(dockerHost).catch((err: Error) => {
      throw new CliError(err.message);
    });
    if (probe.bridgeGateway) redisBind.push(probe.bridgeGateway);
  }
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, "logs"), { recursive: true, mode: 0o700 });
  const record: ClusterRecord = {
    name: deployment.name,
    mode: "grass/local",
    runtime: deployment.runtime,
    createdAt: new Date().toISOString(),
    masterAddress: "",
    dir,
    pids: { master: 0, redis: null, smbd: null, agents: {} },
    ...(dockerHost ? { dockerHost } : {}),
  };
  let api: MasterApi | null = null;
  try {
    progress.step("making the cluster's CA and certificates");
    const masterTlsDir = join(dir, "master", "tls");
    await createClusterPki({
      clusterName: deployment.name,
      recordDir: dir,
      masterTlsDir,
      masterAddresses: ["127.0.0.1"],
    });
    progress.step("starting maro-master and its Redis");
    const taken = new Set<number>();
    const ports = {
      api: await concretePort("127.0.0.1", deployment.master.apiServer.port, taken),
      redis: await concretePort("127.0.0.1", deployment.master.redis.port, taken),
      logs: await concretePort("127.0.0.1", 0, taken),
      smb: await concretePort("127.0.0.1", 0, taken),
    };
    const masterLog = join(dir, "logs", "master.log");
    record.pids.master = spawnDaemon(
      masterBin,
      [
        "--cluster",
        deployment.name,
        "--data-dir",
        join(dir, "master"),
        "--tls-dir",
        masterTlsDir,
        "--host",
        "127.0.0.1",
        "--port",
        String(ports.api),
        "--redis-port",
        String(ports.redis),
        "--redis-bind",
        redisBind.join(","),
        "--log-port",
        String(ports.logs),
        "--smb-port",
        String(ports.smb),
      ],
      masterLog,
    );
    const info = await waitForMaster(dir, record.pids.master, masterLog, 20_000);
    record.masterAddress = info.address;
    record.pids.redis = info.redisPid;
    record.pids.smbd = info.smbPid;
    api = new MasterApi(info.address, adminTls(record));
    const token = await api.call<object, JoinTokenOut>("RotateJoinToken", {});
    writeSecret(join(dir, RECORD_FILES.joinToken), token.token);
    progress.step(`master listening on ${info.address}; starting ${deployment.nodes.length} agent(s)`);
    for (const node of deployment.nodes) {
      const args = [
        "--master",
        info.address,
        "--cluster",
        deployment.name,
        "--name",
        node.name,
        "--runtime",
        deployment.runtime,
        "--state-dir",
        join(dir, "agents", node.name),
        "--ca-file",
        join(dir, RECORD_FILES.caCert),
        "--resources",
        nodeResourcesFlag(node.resources),
        "--address",
        "127.0.0.1",
        "--cleanup-on-exit",
      ];
      if (dockerHost) args.push("--docker-socket", dockerHost);
      // The token goes in the environment, never on a command line others can read.
      const env = { ...process.env, MARO_JOIN_TOKEN: token.token };
      record.pids.agents[node.name] = spawnDaemon(agentBin, args, join(dir, "logs", `${node.name}.log`), env);
    }
    writeCluster(record);
    await waitForAgents(api, record, progress, 30_000);
    return record;
  } catch (err) {
    progress.step("start failed; stopping what was started");
    await stopLocalDaemons(record);
    rmSync(dir, { recursive: true, force: true });
    throw err;
  } finally {
    api?.close();
  }
}

function readPidFile(file: string): number | null {
  try {
    const pid = Number(readFileSync(file, "utf8").trim());
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

/** Stops agents first (they stop their components), then the master (it stops Redis). */
export async function stopLocalDaemons(record: ClusterRecord): Promise<string[]> {
  const forced: string[] = [];
  const agents = Object.entries(record.pids.agents);
  const results = await Promise.all(agents.map(([, pid]) => stopPid(pid, record.dir, 20_000)));
  results.forEach((r, i) => {
    if (r === "killed") forced.push(`agent ${agents[i]?.[0]}`);
  });
  if (record.pids.master && (await stopPid(record.pids.master, record.dir, 10_000)) === "killed") forced.push("master");
  // The master restarts its Redis if it dies, so the live pid is in Redis's own pidfile.
  const redisPid = readPidFile(join(record.dir, "master", "redis", "redis.pid")) ?? record.pids.redis;
  if (redisPid && (await stopPid(redisPid, "redis-server", 5_000)) !== "gone") forced.push("redis-server");
  if (record.pids.smbd && (await stopPid(record.pids.smbd, record.dir, 5_000)) !== "gone") forced.push("smbd");
  return forced;
}
