// A real maro-agent process (packages/agent/bin, built) for the benchmarks,
// with its node certificate already in its state dir (no join needed).
// Stopped or killed by its PID; its components are found by their environment.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BENCH_CLUSTER, type BenchPki, type NodeCert } from "./bench-pki.js";
import { onInterrupt } from "./cleanup.js";
import { AGENT_BIN } from "./master-daemon.js";
import { sleep } from "./report-io.js";

let sampleFlag: boolean | undefined;

/** True when this maro-agent build has --sample-interval. */
export function agentHasSampleInterval(): boolean {
  if (sampleFlag === undefined) {
    try {
      sampleFlag = execFileSync(process.execPath, [AGENT_BIN, "--help"], { encoding: "utf8" }).includes(
        "--sample-interval",
      );
    } catch {
      sampleFlag = false;
    }
  }
  return sampleFlag;
}

export interface RealAgentOptions {
  master: string;
  cert: NodeCert;
  runtime: "process" | "docker";
  /** e.g. "cpu=2,memory=4096m" */
  resources: string;
  dockerHost?: string;
  sampleIntervalMs?: number;
  /** Extra node flags before the script, e.g. --cpu-prof. */
  nodeArgs?: string[];
}

export class RealAgent {
  private exited = false;

  private constructor(
    private readonly child: ChildProcess,
    readonly name: string,
    readonly stateDir: string,
  ) {
    const forget = onInterrupt(child.pid ?? 0, () => this.killHard());
    child.once("exit", () => {
      this.exited = true;
      forget();
    });
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  static start(pki: BenchPki, o: RealAgentOptions): RealAgent {
    const stateDir = mkdtempSync(join(tmpdir(), `maro-bench-agent-${o.cert.name}-`));
    const tls = join(stateDir, "tls");
    mkdirSync(tls, { recursive: true, mode: 0o700 });
    writeFileSync(join(tls, "node.key"), o.cert.keyPem, { mode: 0o600 });
    writeFileSync(join(tls, "node.crt"), o.cert.certPem);
    writeFileSync(join(stateDir, "ca.crt"), pki.ca.certPem);
    const args = [
      ...(o.nodeArgs ?? []),
      AGENT_BIN,
      "--master",
      o.master,
      "--cluster",
      BENCH_CLUSTER,
      "--name",
      o.cert.name,
      "--runtime",
      o.runtime,
      "--state-dir",
      stateDir,
      "--ca-file",
      join(stateDir, "ca.crt"),
      "--resources",
      o.resources,
      "--address",
      "127.0.0.1",
      "--cleanup-on-exit",
      ...(o.dockerHost ? ["--docker-socket", o.dockerHost] : []),
      ...(o.sampleIntervalMs && agentHasSampleInterval() ? ["--sample-interval", String(o.sampleIntervalMs)] : []),
    ];
    const fd = openSync(join(stateDir, "agent.log"), "a");
    const child = spawn(process.execPath, args, { stdio: ["ignore", fd, fd] });
    return new RealAgent(child, o.cert.name, stateDir);
  }

  log(): string {
    try {
      return readFileSync(join(this.stateDir, "agent.log"), "utf8");
    } catch {
      return "";
    }
  }

  /** PIDs of this node's component processes (process runtime): they carry NODE_NAME and CLUSTER_NAME. */
  componentPids(): number[] {
    const found: number[] = [];
    for (const entry of readdirSync("/proc")) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const env = readFileSync(`/proc/${entry}/environ`, "utf8").split("\0");
        if (env.includes(`NODE_NAME=${this.name}`) && env.includes(`CLUSTER_NAME=${BENCH_CLUSTER}`))
          found.push(Number(entry));
      } catch {}
    }
    return found;
  }

  /** kill -9 the agent and its component processes, as a node that loses power. */
  killHard(): void {
    const components = this.componentPids();
    if (!this.exited) this.child.kill("SIGKILL");
    for (const pid of components) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {}
    }
  }

  /** SIGTERM (the agent stops its components: --cleanup-on-exit), SIGKILL after 10 s; then removes its state. */
  async stop(): Promise<void> {
    if (!this.exited) {
      this.child.kill("SIGTERM");
      const deadline = Date.now() + 10_000;
      while (!this.exited && Date.now() < deadline) await sleep(50);
      if (!this.exited) this.killHard();
      while (!this.exited) await sleep(50);
    }
    for (const pid of this.componentPids()) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {}
    }
    rmSync(this.stateDir, { recursive: true, force: true });
  }
}
