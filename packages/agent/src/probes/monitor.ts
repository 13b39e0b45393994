// Wires the probes, the sampler and the anomaly detector to the agent: each
// sample and each anomaly goes to `send`; runtime events, stop requests and
// the master's pongs go to the detector.

import { stat } from "node:fs/promises";
import { join } from "node:path";
import type { AgentMessage, Logger } from "@maro/proto";
import { AnomalyDetector } from "../anomaly/detector.js";
import type { Anomaly, ComponentIds, DetectorEvent, DetectorOptions } from "../anomaly/types.js";
import type { ContainerRuntime } from "../runtime/types.js";
import type { ResourceSample } from "./delta.js";
import { DiskProbe } from "./disk.js";
import { DockerStatsProbe } from "./docker-stats.js";
import { GpuProbe } from "./gpu.js";
import { NetworkProbe } from "./network.js";
import { NodeCpuProbe } from "./node-cpu.js";
import { NodeMemoryProbe } from "./node-memory.js";
import { ProcessStatsProbe } from "./process-stats.js";
import { type Reading, Sampler } from "./sampler.js";
import type { ComponentProbe } from "./types.js";

export type AnomalyMessage = NonNullable<AgentMessage["anomaly"]>;

export interface MonitorOptions {
  nodeName: string;
  runtime: ContainerRuntime;
  /** Labels that select this agent's components. */
  owner: Record<string, string>;
  /** The agent's state directory: its disk is the one watched (and, for processes, logs/ holds their output). */
  stateDir: string;
  /** The Docker engine, for the docker runtime. */
  dockerHost?: string;
  intervalMs: number;
  detector?: Partial<DetectorOptions>;
  sendSample: (sample: ResourceSample) => void;
  sendAnomaly: (anomaly: AnomalyMessage) => void;
  log: Logger;
}

export class NodeMonitor {
  private readonly sampler: Sampler;
  private readonly detector: AnomalyDetector;
  /** Ids of components being started, until they run. */
  private readonly ids = new Map<string, ComponentIds>();
  private readonly outputSeen = new Map<string, number>();

  constructor(private readonly o: MonitorOptions) {
    this.detector = new AnomalyDetector(o.detector);
    const targets = () => o.runtime.list(o.owner);
    let componentProbe: ComponentProbe | undefined;
    if (o.runtime.kind === "docker" && o.dockerHost)
      componentProbe = new DockerStatsProbe({ dockerHost: o.dockerHost, targets });
    if (o.runtime.kind === "process") componentProbe = new ProcessStatsProbe({ targets });
    this.sampler = new Sampler({
      intervalMs: o.intervalMs,
      nodeProbes: [
        new NodeCpuProbe(),
        new NodeMemoryProbe(),
        new DiskProbe(o.stateDir),
        new NetworkProbe(),
        new GpuProbe(),
      ],
      componentProbe,
      log: o.log,
      onSample: (sample, reading) => {
        o.sendSample(sample);
        void this.afterSample(reading);
      },
    });
    o.runtime.onEvent((event) => {
      if (event.kind === "running") {
        const ids = this.ids.get(event.containerName) ?? {};
        this.feed({ kind: "started", timeMs: event.timeMs, containerName: event.containerName, ...ids });
      } else {
        const ids = this.ids.get(event.containerName) ?? {};
        this.ids.delete(event.containerName);
        this.outputSeen.delete(event.containerName);
        this.feed({
          kind: "exited",
          timeMs: event.timeMs,
          containerName: event.containerName,
          exitCode: event.exitCode,
          oomKilled: event.oomKilled,
          ...ids,
        });
      }
    });
  }

  start(): void {
    this.sampler.start();
  }

  stop(): void {
    this.sampler.stop();
  }

  /** After each (re)registration: the next sample is full. */
  registered(): void {
    this.sampler.resync();
  }

  /** The master asked to start it (its ids are known from here on). */
  starting(containerName: string, ids: ComponentIds): void {
    if (this.ids.size < 10_000) this.ids.set(containerName, ids);
  }

  /** The master asked to stop it: its exit is no crash. */
  stopping(containerName: string): void {
    this.feed({ kind: "stop-requested", timeMs: Date.now(), containerName });
  }

  pong(agentTimeMs: number, masterTimeMs: number, receivedMs = Date.now()): void {
    this.feed({ kind: "pong", timeMs: receivedMs, agentTimeMs, masterTimeMs });
  }

  private async afterSample(reading: Reading): Promise<void> {
    const { node, components } = reading;
    // Output activity is only visible for processes (their log files); containers' goes to the log sink.
    if (this.detector.options.hungAfterMs > 0 && this.o.runtime.kind === "process") {
      await Promise.all(
        components.map(async (c) => {
          const mtime = await stat(join(this.o.stateDir, "logs", `${c.containerName}.log`)).then(
            (s) => s.mtimeMs,
            () => 0,
          );
          if (mtime > (this.outputSeen.get(c.containerName) ?? 0)) {
            this.outputSeen.set(c.containerName, mtime);
            this.feed({ kind: "output", timeMs: reading.timeMs, containerName: c.containerName, atMs: mtime });
          }
        }),
      );
    }
    this.feed({
      kind: "sample",
      timeMs: reading.timeMs,
      node: {
        cpuMillis: node.cpuMillis,
        cpuCapacityMillis: node.cpuCapacityMillis,
        memoryUsedBytes: node.memoryUsedBytes,
        memoryTotalBytes: node.memoryTotalBytes,
        diskUsedBytes: node.diskUsedBytes,
        diskTotalBytes: node.diskTotalBytes,
        gpuIndices: node.gpus.map((g) => g.index),
        gpuErrors: node.gpuErrors,
      },
      components,
    });
  }

  private feed(event: DetectorEvent): void {
    for (const a of this.detector.observe(event)) this.o.sendAnomaly(toMessage(a, this.o.nodeName));
  }
}

function toMessage(a: Anomaly, node: string): AnomalyMessage {
  return {
    timeMs: a.timeMs,
    kind: a.kind,
    severity: a.severity,
    node,
    containerName: a.containerName ?? "",
    jobId: a.jobId ?? "",
    componentId: a.componentId ?? "",
    message: a.message,
  };
}
