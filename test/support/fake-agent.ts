import type { ChannelCredentials, ClientDuplexStream } from "@grpc/grpc-js";
import {
  type AgentMessage,
  type ContainerStatus,
  loadMaroProto,
  type MasterMessageOut,
  PROTOCOL_VERSION,
  type Register,
  type StartContainerOut,
} from "@maro/proto";

/**
 * An agent that speaks the real agent channel over real gRPC but runs
 * nothing: the test decides what each started component does.
 */
export class ScriptedAgent {
  readonly messages: MasterMessageOut[] = [];
  readonly starts: StartContainerOut[] = [];
  readonly stops: string[] = [];
  private stream: ClientDuplexStream<AgentMessage, MasterMessageOut>;
  private client;
  private heartbeat: NodeJS.Timeout | null = null;
  ended = false;
  error: Error | null = null;

  constructor(
    address: string,
    creds: ChannelCredentials,
    register: Partial<Register> & { nodeName: string; clusterName: string },
  ) {
    const proto = loadMaroProto();
    this.client = new proto.maro.v1.AgentChannel(address, creds);
    this.stream = this.client.Connect();
    this.stream.on("data", (m: MasterMessageOut) => {
      this.messages.push(m);
      if (m.start) this.starts.push(m.start);
      if (m.stop) this.stops.push(m.stop.containerName);
      if (m.registered) this.heartbeat = setInterval(() => this.send({ heartbeat: { timeMs: Date.now() } }), 200);
    });
    this.stream.on("error", (err: Error) => {
      this.ended = true;
      this.error = err;
    });
    this.stream.on("end", () => {
      this.ended = true;
    });
    this.send({
      register: {
        protocolVersion: PROTOCOL_VERSION,
        agentVersion: "test",
        address: "127.0.0.1",
        allocatable: { cpuMillis: 2000, memoryBytes: 4 * 1024 ** 3, gpu: 0 },
        gpuIndices: [],
        runtime: "process",
        ...register,
      },
    });
  }

  send(message: AgentMessage): void {
    if (!this.ended) this.stream.write(message);
  }

  status(status: ContainerStatus): void {
    this.send({ status: { timeMs: Date.now(), ...status } });
  }

  /** A resource sample (a delta unless `full`), stamped now unless it says otherwise. */
  sample(sample: NonNullable<AgentMessage["sample"]>): void {
    this.send({ sample: { timeMs: Date.now(), ...sample } });
  }

  anomaly(anomaly: NonNullable<AgentMessage["anomaly"]>): void {
    this.send({ anomaly: { timeMs: Date.now(), ...anomaly } });
  }

  /** Stops heartbeating but keeps the stream open, like a frozen or partitioned node. */
  freeze(): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
  }

  close(): void {
    this.freeze();
    this.stream.end();
    this.client.close();
  }
}
