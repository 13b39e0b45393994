// A cluster whose agents are separate hosts: the master (and the Redis it
// starts) on the host side of a test network, listening on the bridge
// address; each agent in its own network namespace, started the way
// `maro grass create` starts it (same flags, join token in MARO_JOIN_TOKEN,
// own state dir, TLS to the master). A cluster record under its own
// MARO_HOME lets the real `maro` CLI drive it. Every daemon is stopped by
// its PID in destroy().

import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createCa, issueClientCert, issueServerCert } from "@maro/pki";
import { freePort, type JoinTokenOut, MASTER_TLS_NAME, type NodeOut } from "@maro/proto";
import { AdminApi } from "./admin-api.js";
import { type CliResult, maro, repoRoot } from "./cli.js";

export { AdminApi, type SeenEvent } from "./admin-api.js";

import { createTestNetwork, type NetHost, type TestNetwork } from "./netns.js";
import { eventually, sleep, tempDir } from "./tmp.js";

const masterBin = join(repoRoot, "packages", "master", "bin", "maro-master.js");
const agentBin = join(repoRoot, "packages", "agent", "bin", "maro-agent.js");

export interface NetnsClusterOptions {
  name: string;
  nodes: number;
  runtime: "process" | "docker";
  /** Required for the docker runtime: the engine's socket (a unix socket works from any namespace). */
  dockerHost?: string;
  heartbeatIntervalMs?: number;
  heartbeatTtlMs?: number;
  stopGraceSeconds?: number;
  /** What each node offers (maro-agent --resources). */
  nodeResources?: string;
}

export interface AgentHandle {
  name: string;
  host: NetHost;
  pid: number;
  child: ChildProcess | null;
}

function pidRuns(pid: number, marker: string): boolean {
  try {
    process.kill(pid, 0);
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
    return cmdline !== "" && cmdline.includes(marker);
  } catch {
    return false;
  }
}

async function gone(pid: number, marker: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!pidRuns(pid, marker)) return true;
    await sleep(25);
  }
  return !pidRuns(pid, marker);
}

/** SIGTERM, then SIGKILL after graceMs; only while pid still runs `marker`. */
async function stopPid(pid: number, marker: string, graceMs: number): Promise<void> {
  if (!pid || !pidRuns(pid, marker)) return;
  process.kill(pid, "SIGTERM");
  if (await gone(pid, marker, graceMs)) return;
  try {
    process.kill(pid, "SIGKILL");
  } catch {}
  await gone(pid, marker, 2000);
}

export class NetnsCluster {
  readonly home = tempDir("netns");
  readonly dir: string;
  readonly masterDataDir: string;
  readonly net: TestNetwork;
  /** options.name plus the network's id: Docker labels and Redis keys stay apart between parallel runs. */
  readonly name: string;
  readonly agents = new Map<string, AgentHandle>();
  masterPid = 0;
  masterAddress = "";
  api: AdminApi | null = null;
  private masterArgs: string[] = [];
  private joinToken = "";
  private readonly adminTls = { caPem: "", keyPem: "", certPem: "" };

  private constructor(readonly options: Required<Omit<NetnsClusterOptions, "dockerHost">> & { dockerHost?: string }) {
    this.net = createTestNetwork();
    this.name = `${options.name}-${this.net.id}`;
    this.dir = join(this.home.path, "clusters", this.name);
    this.masterDataDir = join(this.dir, "master");
    process.once("exit", this.killOnExit);
  }

  /** Last resort when the test process exits without destroy(): no daemon outlives it. */
  private readonly killOnExit = () => {
    const redisPidFile = join(this.masterDataDir, "redis", "redis.pid");
    const targets: [number, string][] = [
      ...[...this.agents.values()].map((a): [number, string] => [a.pid, "maro-agent"]),
      [this.masterPid, "maro-master"],
      [existsSync(redisPidFile) ? Number(readFileSync(redisPidFile, "utf8").trim()) || 0 : 0, "redis-server"],
    ];
    for (const [pid, marker] of targets)
      if (pid && pidRuns(pid, marker)) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {}
      }
  };

  /** Starts the network, the master and one agent per node, and waits until every node is ready. */
  static async start(options: NetnsClusterOptions): Promise<NetnsCluster> {
    if (options.runtime === "docker" && !options.dockerHost) throw new Error("dockerHost is required for docker");
    const cluster = new NetnsCluster({
      heartbeatIntervalMs: 1000,
      heartbeatTtlMs: 3000,
      stopGraceSeconds: 2,
      nodeResources: "cpu=2,memory=2048m,gpu=0",
      ...options,
    });
    try {
      await cluster.init();
    } catch (err) {
      await cluster.destroy();
      throw err;
    }
    return cluster;
  }

  get masterLog(): string {
    return join(this.dir, "logs", "master.log");
  }

  agentLog(name: string): string {
    return join(this.dir, "logs", `${name}.log`);
  }

  /** The redis-server the master started (or adopted), from its pidfile. */
  redisPid(): number {
    return Number(readFileSync(join(this.masterDataDir, "redis", "redis.pid"), "utf8").trim());
  }

  get redisConf(): string {
    return join(this.masterDataDir, "redis", "redis.conf");
  }

  /** Runs the real CLI against this cluster. */
  cli(args: string[], timeoutMs?: number): Promise<CliResult> {
    return maro(this.home.path, args, {}, timeoutMs);
  }

  private async init(): Promise<void> {
    const { name } = this;
    mkdirSync(join(this.dir, "logs"), { recursive: true, mode: 0o700 });
    const ca = await createCa({ clusterName: name });
    const server = await issueServerCert(ca, {
      clusterName: name,
      dnsNames: [MASTER_TLS_NAME, "localhost"],
      ipAddresses: [this.net.hostIp, "127.0.0.1"],
    });
    const admin = await issueClientCert(ca, { kind: "admin", name: "admin" });
    const tlsDir = join(this.masterDataDir, "tls");
    const secret = (file: string, text: string) => {
      mkdirSync(join(file, ".."), { recursive: true, mode: 0o700 });
      writeFileSync(file, text, { mode: 0o600 });
    };
    secret(join(tlsDir, "ca.crt"), ca.certPem);
    secret(join(tlsDir, "ca.key"), ca.keyPem);
    secret(join(tlsDir, "server.crt"), server.certPem);
    secret(join(tlsDir, "server.key"), server.keyPem);
    secret(join(this.dir, "tls", "ca.crt"), ca.certPem);
    secret(join(this.dir, "tls", "admin.crt"), admin.certPem);
    secret(join(this.dir, "tls", "admin.key"), admin.keyPem);
    Object.assign(this.adminTls, { caPem: ca.certPem, keyPem: admin.keyPem, certPem: admin.certPem });

    const host = this.net.hostIp;
    // Fixed ports, so a restarted master comes back on the same addresses.
    const ports = new Set<number>();
    while (ports.size < 3) ports.add(await freePort(host));
    const [api, redis, logs] = [...ports] as [number, number, number];
    this.masterArgs = [
      ...["--cluster", name, "--data-dir", this.masterDataDir, "--tls-dir", tlsDir],
      ...["--host", host, "--port", String(api), "--redis-port", String(redis)],
      ...["--redis-bind", `${host},127.0.0.1`, "--log-port", String(logs), "--no-smb"],
      ...["--heartbeat-interval", String(this.options.heartbeatIntervalMs)],
      ...["--heartbeat-ttl", String(this.options.heartbeatTtlMs)],
      ...["--stop-grace", String(this.options.stopGraceSeconds)],
    ];
    await this.startMaster();
    const token = await this.admin().call<JoinTokenOut>("RotateJoinToken", {});
    this.joinToken = token.token;
    for (let i = 1; i <= this.options.nodes; i++) {
      const nodeName = `node-${i}`;
      this.agents.set(nodeName, { name: nodeName, host: this.net.addHost(nodeName), pid: 0, child: null });
      this.startAgent(nodeName);
    }
    await this.waitReady([...this.agents.keys()], 30_000);
  }

  admin(): AdminApi {
    if (!this.api) throw new Error("the master is not running");
    return this.api;
  }

  private writeRecord(): void {
    const record = {
      name: this.name,
      mode: "grass/local",
      runtime: this.options.runtime,
      createdAt: new Date().toISOString(),
      masterAddress: this.masterAddress,
      dir: this.dir,
      pids: {
        master: this.masterPid,
        redis: existsSync(join(this.masterDataDir, "redis", "redis.pid")) ? this.redisPid() : null,
        smbd: null,
        agents: Object.fromEntries([...this.agents.values()].map((a) => [a.name, a.pid])),
      },
      ...(this.options.dockerHost ? { dockerHost: this.options.dockerHost } : {}),
    };
    writeFileSync(join(this.dir, "cluster.json"), `${JSON.stringify(record, null, 2)}\n`, { mode: 0o600 });
  }

  /** Starts maro-master with the same arguments every time; resolves when it wrote its master.json. */
  async startMaster(): Promise<void> {
    const fd = openSync(this.masterLog, "a", 0o600);
    let child: ChildProcess;
    try {
      child = spawn(process.execPath, [masterBin, ...this.masterArgs], { detached: true, stdio: ["ignore", fd, fd] });
    } finally {
      closeSync(fd);
    }
    child.unref();
    const pid = child.pid ?? 0;
    this.masterPid = pid;
    const infoFile = join(this.masterDataDir, "master.json");
    const info = await eventually(
      () => {
        if (!pidRuns(pid, "maro-master")) throw new Error(`maro-master exited:\n${tail(this.masterLog)}`);
        if (!existsSync(infoFile)) return null;
        const parsed = JSON.parse(readFileSync(infoFile, "utf8")) as { pid: number; address: string };
        return parsed.pid === pid ? parsed : null;
      },
      20_000,
      "maro-master to write master.json",
    );
    this.masterAddress = info.address;
    this.api?.close();
    this.api = new AdminApi(info.address, this.adminTls);
    this.writeRecord();
  }

  /** kill -9 of the master process only (its Redis keeps running, as after a crash). */
  async killMaster(): Promise<void> {
    process.kill(this.masterPid, "SIGKILL");
    if (!(await gone(this.masterPid, "maro-master", 5000))) throw new Error("maro-master survived SIGKILL");
    this.api?.close();
    this.api = null;
  }

  /** Starts (or restarts, with the same arguments) the agent of `name` inside its namespace. */
  startAgent(name: string): AgentHandle {
    const agent = this.agents.get(name);
    if (!agent) throw new Error(`no node ${name}`);
    const args = [
      ...["--master", this.masterAddress, "--cluster", this.name, "--name", name],
      ...["--runtime", this.options.runtime, "--state-dir", join(this.dir, "agents", name)],
      ...["--ca-file", join(this.dir, "tls", "ca.crt"), "--resources", this.options.nodeResources],
      ...["--address", agent.host.ip, "--cleanup-on-exit"],
      ...(this.options.dockerHost ? ["--docker-socket", this.options.dockerHost] : []),
    ];
    const fd = openSync(this.agentLog(name), "a", 0o600);
    try {
      // `ip netns exec` execs the command, so the child's PID is the agent's.
      const [cmd, ...rest] = agent.host.exec as [string, ...string[]];
      agent.child = spawn(cmd, [...rest, process.execPath, agentBin, ...args], {
        detached: true,
        stdio: ["ignore", fd, fd],
        env: { ...process.env, MARO_JOIN_TOKEN: this.joinToken },
      });
    } finally {
      closeSync(fd);
    }
    agent.child.unref();
    agent.pid = agent.child.pid ?? 0;
    this.writeRecord();
    return agent;
  }

  /** kill -9 of the agent process only; what it started keeps running. */
  async killAgent(name: string): Promise<void> {
    const agent = this.agents.get(name);
    if (!agent) throw new Error(`no node ${name}`);
    process.kill(agent.pid, "SIGKILL");
    if (!(await gone(agent.pid, "maro-agent", 5000))) throw new Error(`agent ${name} survived SIGKILL`);
  }

  /** The node dies: kill -9 of every process in its namespace (the agent and all its components). */
  async killNode(name: string): Promise<number[]> {
    const agent = this.agents.get(name);
    if (!agent) throw new Error(`no node ${name}`);
    const pids = agent.host.pids();
    for (const pid of pids) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {}
    }
    await eventually(() => agent.host.pids().length === 0, 5000, `every process on ${name} to die`);
    return pids;
  }

  async nodes(): Promise<NodeOut[]> {
    return (await this.admin().call<{ nodes: NodeOut[] }>("ListNodes", {})).nodes;
  }

  async waitReady(names: string[], timeoutMs: number): Promise<void> {
    await eventually(
      async () => {
        const ready = new Set((await this.nodes()).filter((n) => n.state === "ready").map((n) => n.name));
        return names.every((n) => ready.has(n));
      },
      timeoutMs,
      `nodes ${names.join(", ")} to be ready`,
    );
  }

  /** Stops agents (they stop their components), the master, its Redis; removes the network and files. */
  async destroy(): Promise<void> {
    process.off("exit", this.killOnExit);
    this.api?.close();
    this.api = null;
    await Promise.all([...this.agents.values()].map((a) => stopPid(a.pid, "maro-agent", 8000)));
    await stopPid(this.masterPid, "maro-master", 8000);
    const redisPidFile = join(this.masterDataDir, "redis", "redis.pid");
    if (existsSync(redisPidFile)) await stopPid(this.redisPid(), "redis-server", 5000);
    if (this.options.dockerHost) removeContainers(this.options.dockerHost, this.name);
    this.net.destroy();
    this.home.remove();
  }
}

/** Containers this cluster's agents started that are still there (an agent killed with -9 leaves them). */
function removeContainers(dockerHost: string, cluster: string): void {
  const docker = (...args: string[]) =>
    execFileSync("docker", args, { encoding: "utf8", env: { ...process.env, DOCKER_HOST: dockerHost } });
  try {
    const ids = docker("ps", "-aq", "--filter", `label=maro.cluster=${cluster}`).split("\n").filter(Boolean);
    if (ids.length > 0) docker("rm", "-f", ...ids);
  } catch {}
}

function tail(file: string): string {
  try {
    return readFileSync(file, "utf8").trimEnd().split("\n").slice(-10).join("\n");
  } catch {
    return "";
  }
}
