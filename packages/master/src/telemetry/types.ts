import type { AgentMessageOut, ClusterEvent, Node } from "@maro/proto";

// Shapes of the telemetry messages, named from the generated types that carry them.

/** A ResourceSample as received from an agent (defaults filled in). */
export type SampleIn = NonNullable<AgentMessageOut["sample"]>;
export type NodeUsageIn = NonNullable<SampleIn["node"]>;
export type ComponentUsageIn = SampleIn["components"][number];
/** An Anomaly as received from an agent. */
export type AnomalyIn = NonNullable<AgentMessageOut["anomaly"]>;

/** NodeUsage as the master keeps and sends it. */
export interface NodeUsageRecord {
  cpuMillis: number;
  cpuCapacityMillis: number;
  memoryUsedBytes: number;
  memoryTotalBytes: number;
  diskUsedBytes: number;
  diskTotalBytes: number;
  netRxBytesPerS: number;
  netTxBytesPerS: number;
  gpus: { index: number; memoryUsedBytes: number; memoryTotalBytes: number; utilizationPercent: number }[];
}

export interface ComponentUsageRecord {
  containerName: string;
  cpuMillis: number;
  memoryBytes: number;
}

/** A stored cluster event: the controller's state changes and anomalies. */
export interface StoredEvent {
  timeMs: number;
  kind: "job" | "component" | "node" | "anomaly";
  job: string;
  component: string;
  node: string;
  state: string;
  message: string;
  severity: string;
}

// Compile-time checks that the records fit the wire messages.
const _usageFits: (u: NodeUsageRecord) => NonNullable<Node["usage"]> = (u) => u;
const _eventFits: (e: StoredEvent) => ClusterEvent = (e) => e;
void _usageFits;
void _eventFits;
