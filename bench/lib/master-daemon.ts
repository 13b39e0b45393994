// The real maro-master daemon (packages/master/bin, built) in its own process,
// with the Redis it starts, so its CPU and memory can be read from /proc apart
// from the simulated agents and clients. Stopped by PID only.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadMaroProto, MASTER_CHANNEL_OPTIONS, type MasterClient } from "@maro/proto";
import type { BenchPki } from "./bench-pki.js";
import { BENCH_CLUSTER } from "./bench-pki.js";
import { onInterrupt } from "./cleanup.js";
import { BENCH_ROOT, sleep } from "./report-io.js";

export const MASTER_BIN = join(BENCH_ROOT, "packages", "master", "bin", "maro-master.js");
export const AGENT_BIN = join(BENCH_ROOT, "packages", "agent", "bin", "maro-agent.js");

export interface MasterDaemonOptions {
  heartbeatIntervalMs?: number;
  heartbeatTtlMs?: number;
  /** Write a V8 CPU profile (node --cpu-prof) into this directory when the master exits. */
  cpuProfDir?: string;
  /** Run a log sink (default true). */
  logSink?: boolean;
  /** Seconds between SIGTERM and SIGKILL when a component is stopped (default 1). */
  stopGraceSeconds?: number;
}

export interface MasterInfo {
  pid: number;
  address: string;
  redisPid: number | null;
  logSinkAddress: string;
}

export class MasterDaemon {
  private exited = false;

  private constructor(
    private readonly child: ChildProcess,
    readonly info: MasterInfo,
    readonly dataDir: string,
    readonly logFile: string,
  ) {
    const forget = onInterrupt(info.pid, () => {
      child.kill("SIGKILL");
      if (info.redisPid) process.kill(info.redisPid, "SIGKILL");
    });
    child.once("exit", () => {
      this.exited = true;
      forget();
    });
  }

  get pid(): number {
    return this.info.pid;
  }

  static async start(pki: BenchPki, options: MasterDaemonOptions = {}): Promise<MasterDaemon> {
    if (!existsSync(join(BENCH_ROOT, "packages", "master", "dist", "main.js")))
      throw new Error("maro-master is not built: run `npx turbo run build` first");
    const dataDir = mkdtempSync(join(tmpdir(), "maro-bench-master-"));
    const logFile = join(dataDir, "master.log");
    const fd = openSync(logFile, "a");
    const args = [
      ...(options.cpuProfDir ? ["--cpu-prof", `--cpu-prof-dir=${options.cpuProfDir}`] : []),
      MASTER_BIN,
      "--cluster",
      BENCH_CLUSTER,
      "--data-dir",
      dataDir,
      "--tls-dir",
      pki.tlsDir,
      "--host",
      "127.0.0.1",
      "--port",
      "0",
      "--no-smb",
      "--stop-grace",
      String(options.stopGraceSeconds ?? 1),
      "--heartbeat-interval",
      String(options.heartbeatIntervalMs ?? 1000),
      "--heartbeat-ttl",
      String(options.heartbeatTtlMs ?? 3000),
      ...(options.logSink === false ? ["--no-log-sink"] : ["--log-port", "0"]),
    ];
    const child = spawn(process.execPath, args, { stdio: ["ignore", fd, fd] });
    const infoFile = join(dataDir, "master.json");
    const deadline = Date.now() + 30_000;
    while (!existsSync(infoFile)) {
      if (child.exitCode !== null || Date.now() > deadline)
        throw new Error(`maro-master did not start:\n${readFileSync(logFile, "utf8").slice(-2000)}`);
      await sleep(50);
    }
    const info = JSON.parse(readFileSync(infoFile, "utf8")) as MasterInfo;
    return new MasterDaemon(child, info, dataDir, logFile);
  }

  /** An admin client of the Master service. */
  adminClient(pki: BenchPki): MasterClient {
    const proto = loadMaroProto();
    return new proto.maro.v1.Master(this.info.address, pki.adminCreds(), MASTER_CHANNEL_OPTIONS);
  }

  /** SIGTERM (the master stops its Redis and, with --cpu-prof, writes the profile); SIGKILL after 10 s. */
  async stop(): Promise<void> {
    if (!this.exited) {
      this.child.kill("SIGTERM");
      const deadline = Date.now() + 10_000;
      while (!this.exited && Date.now() < deadline) await sleep(50);
      if (!this.exited) this.child.kill("SIGKILL");
      while (!this.exited) await sleep(50);
    }
    // A master killed before it stopped its Redis leaves it running: stop it by its PID.
    const redis = this.info.redisPid;
    if (redis) {
      try {
        const cmd = readFileSync(`/proc/${redis}/cmdline`, "utf8");
        if (cmd.includes("redis-server")) process.kill(redis, "SIGKILL");
      } catch {}
    }
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}
