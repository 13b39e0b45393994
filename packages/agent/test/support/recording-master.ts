// The master's end of the real agent channel, and nothing else: mutual TLS
// with the cluster CA, Register answered with Registered, every message the
// agent sends recorded, heartbeats answered with Pongs from a clock the test
// may skew. Enough to watch a real maro-agent from a test.

import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Server, ServerCredentials, type ServerDuplexStream, status } from "@grpc/grpc-js";
import { type AgentMessageOut, loadMaroProto, type MasterMessage, PROTOCOL_VERSION } from "@maro/proto";
import type { TestPki } from "../../../../test/support/pki.js";

export class RecordingMaster {
  readonly messages: AgentMessageOut[] = [];
  /** Added to this machine's clock in every Pong (0: an honest master). */
  skewMs = 0;
  private server = new Server();
  private stream: ServerDuplexStream<AgentMessageOut, MasterMessage> | null = null;
  private waiters: Array<() => void> = [];
  port = 0;

  constructor(private readonly pki: TestPki) {}

  async start(): Promise<void> {
    const proto = loadMaroProto();
    this.server.addService(proto.maro.v1.AgentChannel.service, {
      Connect: (call: ServerDuplexStream<AgentMessageOut, MasterMessage>) => {
        this.stream = call;
        call.on("data", (msg: AgentMessageOut) => {
          this.messages.push(msg);
          if (msg.register)
            call.write({
              registered: {
                nodeId: "node-id-1",
                clusterId: "cluster-id-1",
                clusterName: msg.register.clusterName,
                heartbeatIntervalMs: 200,
                protocolVersion: PROTOCOL_VERSION,
              },
            });
          if (msg.heartbeat)
            call.write({ pong: { agentTimeMs: msg.heartbeat.timeMs, masterTimeMs: Date.now() + this.skewMs } });
          for (const wake of this.waiters.splice(0)) wake();
        });
        call.on("error", () => {});
        call.on("end", () => call.end());
      },
      Join: (_call: unknown, cb: (err: { code: number; details: string }) => void) =>
        cb({ code: status.UNIMPLEMENTED, details: "not in this test" }),
      FetchImage: (call: { emit: (e: string, err: { code: number; details: string }) => void }) =>
        call.emit("error", { code: status.UNIMPLEMENTED, details: "not in this test" }),
    });
    const creds = ServerCredentials.createSsl(
      Buffer.from(this.pki.ca.certPem),
      [{ private_key: Buffer.from(this.serverKey()), cert_chain: Buffer.from(this.serverCert()) }],
      true,
    );
    this.port = await new Promise<number>((resolve, reject) =>
      this.server.bindAsync("127.0.0.1:0", creds, (err, port) => (err ? reject(err) : resolve(port))),
    );
  }

  send(message: MasterMessage): void {
    this.stream?.write(message);
  }

  /** Resolves with the first recorded message that matches, or rejects after timeoutMs. */
  async waitFor<T>(pick: (m: AgentMessageOut) => T | undefined | null, timeoutMs: number, what: string): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (const m of this.messages) {
        const v = pick(m);
        if (v !== undefined && v !== null) return v;
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${what} within ${timeoutMs} ms; got ${this.messages.length} messages`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 250));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  stop(): void {
    this.server.forceShutdown();
  }

  private serverKey(): string {
    return readTls(this.pki.tlsDir, "server.key");
  }

  private serverCert(): string {
    return readTls(this.pki.tlsDir, "server.crt");
  }
}

function readTls(dir: string, file: string): string {
  return readFileSync(join(dir, file), "utf8");
}

const agentMain = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "src", "main.ts");
const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "..");

/** Starts the real maro-agent (from source) with a node certificate in stateDir/tls. */
export async function startAgent(options: {
  pki: TestPki;
  port: number;
  cluster: string;
  node: string;
  stateDir: string;
  args: string[];
  env?: Record<string, string>;
}): Promise<{ child: ChildProcess; output: () => string }> {
  const tls = join(options.stateDir, "tls");
  mkdirSync(tls, { recursive: true });
  const cert = await options.pki.nodeCert(options.node);
  writeFileSync(join(tls, "node.key"), cert.keyPem, { mode: 0o600 });
  writeFileSync(join(tls, "node.crt"), cert.certPem);
  const child = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      agentMain,
      "--master",
      `127.0.0.1:${options.port}`,
      "--cluster",
      options.cluster,
      "--name",
      options.node,
      "--state-dir",
      options.stateDir,
      "--ca-file",
      join(options.pki.tlsDir, "ca.crt"),
      ...options.args,
    ],
    { cwd: repoRoot, env: { ...process.env, ...options.env }, stdio: ["ignore", "pipe", "pipe"] },
  );
  let text = "";
  child.stdout?.on("data", (d: Buffer) => {
    text += d.toString();
  });
  child.stderr?.on("data", (d: Buffer) => {
    text += d.toString();
  });
  return { child, output: () => text };
}

/** SIGTERM by pid, then wait for the exit (SIGKILL after 10 s). */
export async function stopAgent(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  process.kill(child.pid, "SIGTERM");
  const timer = setTimeout(() => child.pid && process.kill(child.pid, "SIGKILL"), 10_000);
  await exited;
  clearTimeout(timer);
}
