// A lean simulated agent: the real agent channel (gRPC AgentChannel/Connect over
// HTTP/2 + mTLS with its own node certificate) spoken directly with node:http2,
// so thousands fit in one process. Messages are encoded and decoded by the same
// protobuf definitions the master uses; the runtime is fake: a StartContainer is
// answered at once with status "running".
import { type ClientHttp2Session, type ClientHttp2Stream, connect } from "node:http2";
import { createSecureContext, type SecureContext } from "node:tls";
import {
  type AgentMessage,
  loadMaroProto,
  MASTER_TLS_NAME,
  type MasterMessageOut,
  PROTOCOL_VERSION,
} from "@maro/proto";
import type { NodeCert } from "./bench-pki.js";

interface MethodCodec {
  requestSerialize(m: AgentMessage): Buffer;
  responseDeserialize(b: Buffer): MasterMessageOut;
}

let codec: MethodCodec | undefined;
function connectCodec(): MethodCodec {
  if (!codec) {
    const service = (loadMaroProto().maro.v1.AgentChannel as unknown as { service: { Connect: MethodCodec } }).service;
    codec = service.Connect;
  }
  return codec;
}

export interface SimAgentHooks {
  /** A StartContainer arrived (after the agent reported it running, when autoRun). */
  onStart?(agent: SimAgent, containerName: string, jobId: string): void;
  /** A Pong arrived: round trip from the Heartbeat it answers. */
  onPong?(rttMs: number): void;
  /** A StopContainer arrived; probe is true for an answer to a fallback probe. */
  onStop?(agent: SimAgent, containerName: string): void;
  onRegistered?(agent: SimAgent): void;
  onEnded?(agent: SimAgent, reason: string): void;
}

export interface SimAgentOptions {
  address: string;
  caPem: string;
  cert: NodeCert;
  cluster: string;
  allocatable: { cpuMillis: number; memoryBytes: number; gpu: number };
  hooks?: SimAgentHooks;
  /** Send a ResourceSample every this many ms (0: none). Full every 10th, deltas between. */
  sampleIntervalMs?: number;
  /** Answer StartContainer with status running at once (default true). */
  autoRun?: boolean;
  /**
   * This agent's TLS context (its own key and certificate, the cluster CA), built
   * beforehand with agentSecureContext: a real agent builds it once when it starts,
   * so the benchmark keeps that work out of the connect phase.
   */
  secureContext?: SecureContext;
  /** Give up (end) when the master has not answered Register within this many ms (default 60 s). */
  registerTimeoutMs?: number;
}

const COMPONENTS = 4;

/** What a real agent loads at start-up: its own key and certificate, and the cluster CA it trusts. */
export function agentSecureContext(caPem: string, cert: NodeCert): SecureContext {
  return createSecureContext({ ca: caPem, key: cert.keyPem, cert: cert.certPem });
}

export class SimAgent {
  private session: ClientHttp2Session;
  private stream: ClientHttp2Stream;
  private pending: Buffer = Buffer.alloc(0);
  private timers: NodeJS.Timeout[] = [];
  private samples = 0;
  registered = false;
  ended = false;
  heartbeatIntervalMs = 0;
  heartbeatsSent = 0;
  readonly name: string;
  /** performance.now() when created, when its TLS session was up, when Registered arrived (0: not yet). */
  readonly createdAt = performance.now();
  connectedAt = 0;
  registeredAt = 0;

  constructor(private readonly options: SimAgentOptions) {
    this.name = options.cert.name;
    this.session = connect(`https://${options.address}`, {
      secureContext: options.secureContext ?? agentSecureContext(options.caPem, options.cert),
      servername: MASTER_TLS_NAME,
    });
    this.session.once("connect", () => {
      this.connectedAt = performance.now();
    });
    this.session.on("error", (err) => this.end(`session: ${err.message}`));
    this.session.on("goaway", () => this.end("goaway"));
    this.stream = this.session.request({
      ":method": "POST",
      ":path": "/maro.v1.AgentChannel/Connect",
      ":authority": MASTER_TLS_NAME,
      "content-type": "application/grpc",
      te: "trailers",
    });
    this.stream.on("data", (chunk: Buffer) => this.receive(chunk));
    this.stream.on("trailers", (t) =>
      this.end(`stream ended: grpc-status ${t["grpc-status"]} ${t["grpc-message"] ?? ""}`),
    );
    this.stream.on("error", (err) => this.end(`stream: ${err.message}`));
    this.stream.on("close", () => this.end("stream closed"));
    const giveUp = setTimeout(() => {
      if (!this.registered) this.end(`no Registered within ${options.registerTimeoutMs ?? 60_000} ms`);
    }, options.registerTimeoutMs ?? 60_000);
    giveUp.unref();
    this.timers.push(giveUp);
    this.send({
      register: {
        protocolVersion: PROTOCOL_VERSION,
        agentVersion: "bench-sim",
        nodeName: this.name,
        clusterName: options.cluster,
        address: "127.0.0.1",
        allocatable: options.allocatable,
        gpuIndices: [],
        runtime: "process",
        containers: [],
      },
    });
  }

  send(message: AgentMessage): void {
    if (this.ended) return;
    const body = connectCodec().requestSerialize(message);
    const frame = Buffer.allocUnsafe(5 + body.length);
    frame.writeUInt8(0, 0);
    frame.writeUInt32BE(body.length, 1);
    body.copy(frame, 5);
    this.stream.write(frame);
  }

  running(containerName: string, jobId: string, componentId: string): void {
    this.send({ status: { containerName, state: "running", timeMs: Date.now(), jobId, componentId } });
  }

  close(): void {
    this.end("closed");
  }

  private end(reason: string): void {
    if (this.ended) return;
    this.ended = true;
    for (const t of this.timers) clearTimeout(t);
    this.stream.close();
    this.session.close();
    this.session.destroy();
    this.options.hooks?.onEnded?.(this, reason);
  }

  private receive(chunk: Buffer): void {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    while (this.pending.length >= 5) {
      const len = this.pending.readUInt32BE(1);
      if (this.pending.length < 5 + len) return;
      const message = connectCodec().responseDeserialize(this.pending.subarray(5, 5 + len));
      this.pending = this.pending.subarray(5 + len);
      this.handle(message);
    }
  }

  private handle(m: MasterMessageOut): void {
    const hooks = this.options.hooks;
    if (m.registered) {
      this.registered = true;
      this.registeredAt = performance.now();
      this.heartbeatIntervalMs = m.registered.heartbeatIntervalMs;
      this.timers.push(
        setInterval(() => {
          this.heartbeatsSent++;
          this.send({ heartbeat: { timeMs: Date.now() } });
        }, this.heartbeatIntervalMs),
      );
      const every = this.options.sampleIntervalMs ?? 0;
      if (every > 0) this.timers.push(setInterval(() => this.sample(), every));
      hooks?.onRegistered?.(this);
    } else if (m.start) {
      const s = m.start;
      if (this.options.autoRun !== false) this.running(s.containerName, s.jobId, s.componentId);
      hooks?.onStart?.(this, s.containerName, s.jobId);
    } else if (m.stop) {
      hooks?.onStop?.(this, m.stop.containerName);
    } else if (m.pong) {
      hooks?.onPong?.(Date.now() - Number(m.pong.agentTimeMs));
    } else if (m.refused) {
      this.end(`refused: ${m.refused.code} ${m.refused.message}`);
    }
  }

  /** A ResourceSample like the real agent's: every 10th full, else only the components that changed. */
  private sample(): void {
    const full = this.samples % 10 === 0;
    const k = this.samples++;
    const components = [];
    for (let i = 0; i < COMPONENTS; i++)
      if (full || (i + k) % 2 === 0)
        components.push({
          containerName: `${this.name}-c${i}`,
          cpuMillis: 100 + ((k * 7 + i * 13) % 400),
          memoryBytes: (256 + ((k + i) % 32)) * 2 ** 20,
        });
    this.send({
      sample: {
        timeMs: Date.now(),
        full,
        node: {
          cpuMillis: 800 + (k % 200),
          cpuCapacityMillis: this.options.allocatable.cpuMillis,
          memoryUsedBytes: (2048 + (k % 64)) * 2 ** 20,
          memoryTotalBytes: this.options.allocatable.memoryBytes,
          diskUsedBytes: 20 * 2 ** 30,
          diskTotalBytes: 100 * 2 ** 30,
          netRxBytesPerS: 1000 + k,
          netTxBytesPerS: 2000 + k,
          gpus: [],
        },
        components,
        gone: [],
      },
    });
  }
}
