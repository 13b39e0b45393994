// Node-wide conditions: memory, disk, cpu, GPUs and the clock.

import { Latch } from "./latch.js";
import type { Anomaly, AnomalyKind, DetectorOptions, NodeView, Severity } from "./types.js";

/** GPU indices remembered at most (more than any machine has). */
const MAX_KNOWN_GPUS = 256;

const GiB = 1024 ** 3;
const gib = (bytes: number) => `${(bytes / GiB).toFixed(1)} GiB`;
const pct = (used: number, total: number) => (total > 0 ? (used / total) * 100 : 0);

export class NodeChecks {
  private readonly latch = new Latch();
  private cpuHighSince: number | null = null;
  private readonly knownGpus = new Set<number>();

  constructor(private readonly o: DetectorOptions) {}

  sample(timeMs: number, node: NodeView): Anomaly[] {
    const out: Anomaly[] = [];
    const edge = (
      key: string,
      kind: AnomalyKind,
      severity: Severity,
      enter: boolean,
      exit: boolean,
      started: string,
      cleared: string,
    ) => {
      const e = this.latch.update(key, enter, exit);
      if (e === "started") out.push({ kind, severity, cleared: false, message: started, timeMs });
      if (e === "cleared") out.push({ kind, severity: "info", cleared: true, message: cleared, timeMs });
    };
    const margin = this.o.clearMarginPercent;

    const mem = pct(node.memoryUsedBytes, node.memoryTotalBytes);
    const memText = `${mem.toFixed(1)}% of memory used (${gib(node.memoryUsedBytes)} of ${gib(node.memoryTotalBytes)})`;
    const memLimit = this.o.memoryPressurePercent;
    edge(
      "memory",
      "memory-pressure",
      "warning",
      mem > memLimit,
      mem <= memLimit - margin,
      `${memText}, above ${memLimit}%`,
      `memory pressure over: ${memText}`,
    );

    const disk = pct(node.diskUsedBytes, node.diskTotalBytes);
    const diskText = `${disk.toFixed(1)}% of the agent's disk used (${gib(node.diskUsedBytes)} of ${gib(node.diskTotalBytes)})`;
    const diskLimit = this.o.diskPressurePercent;
    edge(
      "disk",
      "disk-pressure",
      "warning",
      disk > diskLimit,
      disk <= diskLimit - margin,
      `${diskText}, above ${diskLimit}%`,
      `disk pressure over: ${diskText}`,
    );

    const cpu = pct(node.cpuMillis, node.cpuCapacityMillis);
    const cpuLimit = this.o.cpuSaturationPercent;
    if (cpu > cpuLimit) this.cpuHighSince ??= timeMs;
    else if (!this.latch.has("cpu") || cpu <= cpuLimit - margin) this.cpuHighSince = null;
    const since = this.cpuHighSince;
    edge(
      "cpu",
      "cpu-saturation",
      "warning",
      since !== null && timeMs - since >= this.o.cpuSaturationForMs,
      since === null,
      `cpu above ${cpuLimit}% for ${Math.round((timeMs - (since ?? timeMs)) / 1000)} s (now ${cpu.toFixed(1)}% of ${node.cpuCapacityMillis / 1000} cores)`,
      `cpu saturation over: ${cpu.toFixed(1)}% used`,
    );

    this.gpus(node, edge);
    return out;
  }

  /** A Pong received at timeMs for the Heartbeat sent at agentTimeMs. */
  pong(timeMs: number, agentTimeMs: number, masterTimeMs: number): Anomaly[] {
    const rtt = timeMs - agentTimeMs;
    if (rtt < 0 || rtt > this.o.clockSkewMaxRttMs) return [];
    const skew = masterTimeMs - (agentTimeMs + timeMs) / 2;
    const limit = this.o.clockSkewMs;
    const e = this.latch.update("clock", Math.abs(skew) > limit, Math.abs(skew) <= limit * 0.8);
    const ahead = skew > 0 ? "ahead of" : "behind";
    const text = `the master's clock is ${Math.abs(Math.round(skew))} ms ${ahead} this node's`;
    if (e === "started")
      return [
        { kind: "clock-skew", severity: "warning", cleared: false, message: `${text} (limit ${limit} ms)`, timeMs },
      ];
    if (e === "cleared")
      return [{ kind: "clock-skew", severity: "info", cleared: true, message: `clock skew over: ${text}`, timeMs }];
    return [];
  }

  get latched(): number {
    return this.latch.size;
  }

  private gpus(
    node: NodeView,
    edge: (
      key: string,
      kind: AnomalyKind,
      severity: Severity,
      enter: boolean,
      exit: boolean,
      started: string,
      cleared: string,
    ) => void,
  ): void {
    const queryError = node.gpuErrors.find((e) => e.index === null);
    edge(
      "gpu-error:query",
      "gpu-error",
      "critical",
      queryError !== undefined,
      queryError === undefined,
      `querying the GPUs failed: ${queryError?.message ?? ""}`,
      "GPUs answer again",
    );
    // A failed query says nothing about which devices are there.
    if (queryError) return;
    const present = new Set(node.gpuIndices);
    const inError = new Map<number, string>();
    for (const e of node.gpuErrors) if (e.index !== null) inError.set(e.index, e.message);
    for (const index of [...this.knownGpus, ...inError.keys()]) {
      const message = inError.get(index);
      edge(
        `gpu-error:${index}`,
        "gpu-error",
        "critical",
        message !== undefined,
        message === undefined,
        `GPU ${index}: ${message ?? ""}`,
        `GPU ${index} no longer reports an error`,
      );
    }
    for (const index of this.knownGpus) {
      const lost = !present.has(index) && !inError.has(index);
      edge(
        `gpu-lost:${index}`,
        "gpu-lost",
        "critical",
        lost,
        !lost,
        `GPU ${index} has disappeared`,
        `GPU ${index} is back`,
      );
    }
    for (const index of [...present, ...inError.keys()]) {
      if (this.knownGpus.size >= MAX_KNOWN_GPUS) break;
      this.knownGpus.add(index);
    }
  }
}
