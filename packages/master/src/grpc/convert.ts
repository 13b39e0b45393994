import type { ClusterEvent, Job, Node } from "@maro/proto";
import type { JobRecord, NodeRecord } from "../state/records.js";

// Records → wire messages. The only place that knows both shapes.

/** What agents reported lately, kept beside the records (src/telemetry); without it those fields stay empty. */
export interface TelemetryView {
  jobAnomalies(jobId: string): ClusterEvent[];
  componentUsage(node: string, containerName: string): NonNullable<Job["components"]>[number]["usage"];
  nodeUsage(node: string): Node["usage"];
  clockSkewMs(node: string): number;
}

export function jobToProto(job: JobRecord, nodeName: (id: string) => string, telemetry?: TelemetryView): Job {
  return {
    id: job.id,
    name: job.name,
    state: job.state,
    reason: job.reason,
    spec: {
      name: job.spec.name,
      allocationMode: job.spec.allocationMode,
      allocationMetric: job.spec.allocationMetric,
      sourceDir: job.spec.sourceDir,
      priority: job.spec.priority,
      schedule: job.spec.schedule,
      components: job.spec.components.map((c) => ({ ...c, resources: { ...c.resources } })),
    },
    components: job.components.map((c) => ({
      id: c.id,
      type: c.type,
      index: c.index,
      nodeId: c.nodeId,
      nodeName: c.nodeId ? nodeName(c.nodeId) : "",
      containerName: c.containerName,
      state: c.state,
      exitCode: c.exitCode ?? 0,
      hasExitCode: c.exitCode !== null,
      oomKilled: c.oomKilled,
      message: c.message,
      outputTail: c.outputTail,
      startedAtMs: c.startedAtMs,
      finishedAtMs: c.finishedAtMs,
      resources: c.resources,
      restarts: c.restarts ?? 0,
      usage: telemetry?.componentUsage(c.nodeId, c.containerName) ?? null,
    })),
    submittedAtMs: job.submittedAtMs,
    scheduledAtMs: job.scheduledAtMs,
    finishedAtMs: job.finishedAtMs,
    attempt: job.attempt,
    anomalies: telemetry?.jobAnomalies(job.id) ?? [],
    explanation: job.explanation
      ? {
          componentId: job.explanation.componentId,
          needs: job.explanation.needs,
          nodesEvaluated: job.explanation.nodesEvaluated,
          filtered: job.explanation.filtered,
        }
      : null,
  };
}

export function nodeToProto(
  node: NodeRecord,
  allocated: { cpuMillis: number; memoryBytes: number; gpu: number },
  connected: boolean,
  telemetry?: TelemetryView,
): Node {
  return {
    id: node.id,
    name: node.name,
    state: node.state === "ready" && !connected ? "disconnected" : node.state,
    address: node.address,
    allocatable: node.allocatable,
    allocated,
    runtime: node.runtime,
    lastHeartbeatMs: node.lastHeartbeatMs,
    agentVersion: node.agentVersion,
    gpuIndices: node.gpuIndices,
    cordoned: node.cordoned,
    labels: node.labels,
    usage: telemetry?.nodeUsage(node.name) ?? null,
    clockSkewMs: telemetry?.clockSkewMs(node.name) ?? 0,
  };
}

/** What the node view needs of the cluster. */
export interface NodeFacts {
  allocatedByNode(): Map<string, { cpuMillis: number; memoryBytes: number; gpu: number }>;
  isConnected(nodeName: string): boolean;
}

/** Node records → wire messages with what each holds (one pass over the jobs for all of them). */
export function nodesToProto(nodes: NodeRecord[], facts: NodeFacts, telemetry?: TelemetryView): Node[] {
  const allocated = facts.allocatedByNode();
  const none = { cpuMillis: 0, memoryBytes: 0, gpu: 0 };
  return nodes.map((n) => nodeToProto(n, allocated.get(n.id) ?? none, facts.isConnected(n.name), telemetry));
}
