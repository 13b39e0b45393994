import { type ClientDuplexStream, credentials, Metadata } from "@grpc/grpc-js";
import type { CertBundle } from "@maro/pki";
import type { AgentChannelClient, Logger, RegisteredOut, StartContainerOut } from "@maro/proto";
import {
  type AgentMessage,
  type ContainerStatus,
  loadMaroProto,
  MASTER_CHANNEL_OPTIONS,
  type MasterMessageOut,
  PROTOCOL_VERSION,
  type Resources,
} from "@maro/proto";
import { ownerLabels, toLaunchSpec } from "./launch-spec.js";
import type { ResourceSample } from "./probes/delta.js";
import type { AnomalyMessage } from "./probes/monitor.js";
import { type ContainerRuntime, RuntimeError, type RuntimeEvent } from "./runtime/types.js";

export const AGENT_VERSION = "0.1.0";

export interface ChannelOptions {
  master: string;
  /** The cluster CA and this node's certificate: the channel is mutual TLS. */
  caPem: string;
  nodeCert: CertBundle;
  cluster: string;
  nodeName: string;
  address: string;
  allocatable: Resources;
  gpuIndices: number[];
  runtime: ContainerRuntime;
  log: Logger;
  /** Called on every (re)registration, e.g. to point log shipping at the master's sink. */
  onRegistered?: (registered: RegisteredOut) => void;
  /** Runs before a component starts (load its image, start shipping its output); a throw fails the start. */
  beforeStart?: (start: StartContainerOut) => Promise<void>;
  /** The node's labels (`--labels`), sent with every Register. */
  labels?: Record<string, string>;
  /** The master answered a heartbeat; receivedMs is this node's clock at arrival. */
  onPong?: (pong: { agentTimeMs: number; masterTimeMs: number }, receivedMs: number) => void;
  /** The master asked to stop a component (its exit is then expected). */
  onStop?: (containerName: string) => void;
}

/** Why the agent stopped trying: the master refused it for good. */
export class RefusedError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const MAX_BUFFERED = 10_000;
/** Anomalies kept while disconnected; the oldest are dropped first. */
const MAX_BUFFERED_ANOMALIES = 1000;

/**
 * Keeps one stream to the master open, reconnecting with backoff. Container
 * events that happen while disconnected are buffered and sent after the next
 * registration, so no exit is lost.
 */
export class MasterChannel {
  private stream: ClientDuplexStream<AgentMessage, MasterMessageOut> | null = null;
  private registered = false;
  private pending: ContainerStatus[] = [];
  /** How many of `pending` the last Register carried. */
  private inRegister = 0;
  private pendingAnomalies: AnomalyMessage[] = [];
  private heartbeat: NodeJS.Timeout | null = null;
  private stopped = false;
  private backoffMs = 100;
  private readonly client;
  private refused: ((err: RefusedError) => void) | null = null;

  constructor(private readonly options: ChannelOptions) {
    const proto = loadMaroProto();
    const tls = credentials.createSsl(
      Buffer.from(options.caPem),
      Buffer.from(options.nodeCert.keyPem),
      Buffer.from(options.nodeCert.certPem),
    );
    this.client = new proto.maro.v1.AgentChannel(options.master, tls, {
      ...MASTER_CHANNEL_OPTIONS,
      "grpc.keepalive_time_ms": 10_000,
      // Reconnect quickly after a master restart.
      "grpc.initial_reconnect_backoff_ms": 200,
      "grpc.max_reconnect_backoff_ms": 2000,
    });
    options.runtime.onEvent((event) => this.report(toStatus(event)));
  }

  /** Resolves never; rejects when the master refuses this agent. */
  run(): Promise<never> {
    return new Promise<never>((_, reject) => {
      this.refused = reject;
      void this.connect();
    });
  }

  /** The mutual-TLS client of the agent channel, for other calls to the master (FetchImage). */
  get agentClient(): AgentChannelClient {
    return this.client as unknown as AgentChannelClient;
  }

  /** Tells the master whether this node has a pushed image (best effort: lost if disconnected). */
  reportImage(image: { name: string; sha256: string; present: boolean; message: string }): void {
    if (this.registered && this.stream) this.stream.write({ image });
  }

  /** A resource sample; dropped while disconnected (the next full one catches up). */
  sendSample(sample: ResourceSample): void {
    if (this.registered && this.stream) this.stream.write({ sample });
  }

  /** An anomaly; kept (bounded) while disconnected and sent after the next registration. */
  reportAnomaly(anomaly: AnomalyMessage): void {
    if (this.registered && this.stream) this.stream.write({ anomaly });
    else {
      this.pendingAnomalies.push(anomaly);
      if (this.pendingAnomalies.length > MAX_BUFFERED_ANOMALIES) this.pendingAnomalies.shift();
    }
  }

  close(): void {
    this.stopped = true;
    this.clearHeartbeat();
    this.stream?.end();
    this.client.close();
  }

  private report(status: ContainerStatus): void {
    if (this.registered && this.stream) this.stream.write({ status });
    else if (this.pending.length < MAX_BUFFERED) this.pending.push(status);
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    const o = this.options;
    const listed = (await o.runtime.list(ownerLabels(o.cluster, o.nodeName)).catch(() => [])).map(
      (c): ContainerStatus => ({
        containerName: c.containerName,
        state: c.running ? "running" : "exited",
        timeMs: Date.now(),
      }),
    );
    // What happened while unregistered (exits of containers that ended while
    // the agent was down) goes in the Register itself: the master reconciles
    // against it before reading any later status.
    this.inRegister = this.pending.length;
    const containers = [...listed, ...this.pending];
    // waitForReady: a call made while the master is away waits for it instead of failing at once.
    const stream = this.client.Connect(new Metadata({ waitForReady: true }));
    this.stream = stream;
    stream.on("data", (msg: MasterMessageOut) => this.onMessage(msg));
    stream.on("error", (err) => this.onClosed(`stream error: ${err.message}`));
    stream.on("end", () => this.onClosed("master closed the stream"));
    stream.write({
      register: {
        protocolVersion: PROTOCOL_VERSION,
        agentVersion: AGENT_VERSION,
        clusterName: o.cluster,
        nodeName: o.nodeName,
        address: o.address,
        allocatable: o.allocatable,
        gpuIndices: o.gpuIndices,
        runtime: o.runtime.kind,
        containers,
        labels: o.labels ?? {},
      },
    });
  }

  private onClosed(why: string): void {
    if (!this.stream) return;
    this.stream.removeAllListeners();
    this.stream.on("error", () => {});
    this.stream = null;
    this.registered = false;
    this.clearHeartbeat();
    if (this.stopped) return;
    this.options.log.warn("disconnected from master; reconnecting", { why, inMs: this.backoffMs });
    setTimeout(() => void this.connect(), this.backoffMs);
    this.backoffMs = Math.min(this.backoffMs * 2, 2000);
  }

  private onMessage(msg: MasterMessageOut): void {
    const o = this.options;
    if (msg.body === "refused" && msg.refused) {
      this.stopped = true;
      this.refused?.(new RefusedError(msg.refused.code, msg.refused.message));
      this.close();
      return;
    }
    if (msg.body === "registered" && msg.registered) {
      this.registered = true;
      this.backoffMs = 100;
      o.log.info("registered with master", { node: o.nodeName, master: o.master });
      const flush = this.pending.slice(this.inRegister);
      this.pending = [];
      for (const status of flush) this.stream?.write({ status });
      const anomalies = this.pendingAnomalies;
      this.pendingAnomalies = [];
      for (const anomaly of anomalies) this.stream?.write({ anomaly });
      this.clearHeartbeat();
      o.onRegistered?.(msg.registered);
      const interval = Math.max(50, msg.registered.heartbeatIntervalMs || 1000);
      this.heartbeat = setInterval(() => this.stream?.write({ heartbeat: { timeMs: Date.now() } }), interval);
      return;
    }
    if (msg.body === "start" && msg.start) {
      const start = msg.start;
      const spec = toLaunchSpec(start, o.runtime.kind, ownerLabels(o.cluster, o.nodeName));
      Promise.resolve()
        .then(() => o.beforeStart?.(start))
        .then(() => o.runtime.start(spec))
        .catch((err: unknown) => {
          const message = err instanceof RuntimeError || err instanceof Error ? err.message : String(err);
          o.log.warn("component failed to start", { container: start.containerName, error: message });
          this.report({ containerName: start.containerName, state: "failed_to_start", message, timeMs: Date.now() });
        });
      return;
    }
    if (msg.body === "pong" && msg.pong) {
      o.onPong?.(msg.pong, Date.now());
      return;
    }
    if (msg.body === "stop" && msg.stop) {
      const stop = msg.stop;
      o.onStop?.(stop.containerName);
      o.runtime.stop(stop.containerName, stop.graceSeconds).catch((err: unknown) => {
        o.log.error("stop failed", { container: stop.containerName, error: String(err) });
      });
    }
  }

  private clearHeartbeat(): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = null;
  }
}

function toStatus(event: RuntimeEvent): ContainerStatus {
  if (event.kind === "running") return { containerName: event.containerName, state: "running", timeMs: event.timeMs };
  return {
    containerName: event.containerName,
    state: "exited",
    exitCode: event.exitCode,
    hasExitCode: true,
    oomKilled: event.oomKilled,
    outputTail: event.outputTail,
    timeMs: event.timeMs,
  };
}
