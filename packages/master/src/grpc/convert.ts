import type { Job, Node } from "@maro/proto";
import type { JobRecord, NodeRecord } from "../state/records.js";

// Records → wire messages. The only place that knows both shapes.

export function jobToProto(job: JobRecord, nodeName: (id: string) => string): Job {
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
    })),
    submittedAtMs: job.submittedAtMs,
    scheduledAtMs: job.scheduledAtMs,
    finishedAtMs: job.finishedAtMs,
  };
}

export function nodeToProto(
  node: NodeRecord,
  allocated: { cpuMillis: number; memoryBytes: number; gpu: number },
  connected: boolean,
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
  };
}
