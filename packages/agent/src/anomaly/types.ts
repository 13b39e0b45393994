// What the anomaly detector is fed and what it finds. Plain data: the
// detector does no I/O and reads no clock; every event carries its time.

export type AnomalyKind =
  | "component-crashed"
  | "oom-killed"
  | "restart-loop"
  | "component-hung"
  | "memory-pressure"
  | "disk-pressure"
  | "cpu-saturation"
  | "gpu-lost"
  | "gpu-error"
  | "clock-skew";

export type Severity = "info" | "warning" | "critical";

export interface Anomaly {
  kind: AnomalyKind;
  severity: Severity;
  /** True when this reports that a condition has ended (severity info). */
  cleared: boolean;
  message: string;
  timeMs: number;
  containerName?: string;
  jobId?: string;
  componentId?: string;
}

/** Which job and component a container runs, when known. */
export interface ComponentIds {
  jobId?: string;
  componentId?: string;
}

export interface NodeView {
  cpuMillis: number;
  cpuCapacityMillis: number;
  memoryUsedBytes: number;
  memoryTotalBytes: number;
  diskUsedBytes: number;
  diskTotalBytes: number;
  /** GPUs that answered this sample. */
  gpuIndices: number[];
  /** Problems the GPU probe met: a failed query (index null) or a device in error. */
  gpuErrors: { index: number | null; message: string }[];
}

export interface ComponentView extends ComponentIds {
  containerName: string;
  cpuMillis: number;
  memoryBytes: number;
}

export type DetectorEvent =
  /** A complete view of the node and its running components (not a delta). */
  | { kind: "sample"; timeMs: number; node: NodeView; components: ComponentView[] }
  /** A component started (again, when its job/component was started before). */
  | ({ kind: "started"; timeMs: number; containerName: string } & ComponentIds)
  /** The agent was asked to stop it: its exit is not a crash. */
  | { kind: "stop-requested"; timeMs: number; containerName: string }
  | ({
      kind: "exited";
      timeMs: number;
      containerName: string;
      exitCode: number;
      oomKilled: boolean;
    } & ComponentIds)
  /** The component wrote output at atMs. */
  | { kind: "output"; timeMs: number; containerName: string; atMs: number }
  /** The master's Pong, received at timeMs (the agent's clock). */
  | { kind: "pong"; timeMs: number; agentTimeMs: number; masterTimeMs: number };

export interface DetectorOptions {
  /** Node memory used above this percentage is memory pressure. Default 90. */
  memoryPressurePercent: number;
  /** The agent's disk used above this percentage is disk pressure. Default 90. */
  diskPressurePercent: number;
  /** Node cpu above this percentage … Default 95. */
  cpuSaturationPercent: number;
  /** … for at least this long is cpu saturation. Default 30 000. */
  cpuSaturationForMs: number;
  /** A percentage condition clears only this many points below its threshold. Default 5. */
  clearMarginPercent: number;
  /** This many restarts of one component … Default 3. */
  restartLoopCount: number;
  /** … within this window is a restart loop. Default 600 000 (10 minutes). */
  restartLoopWindowMs: number;
  /** No cpu and no output for this long is a hung component; 0 turns the check off (default). */
  hungAfterMs: number;
  /** At or below this, a component counts as using no cpu. Default 5 millicores. */
  hungCpuMillis: number;
  /** |master clock - agent clock| above this is clock skew. Default 500. */
  clockSkewMs: number;
  /** Pongs whose round trip took longer are too imprecise to judge skew. Default 1000. */
  clockSkewMaxRttMs: number;
  /** Most components tracked at once; the oldest are forgotten first. Default 10 000. */
  maxComponents: number;
}

export const DEFAULT_DETECTOR_OPTIONS: DetectorOptions = {
  memoryPressurePercent: 90,
  diskPressurePercent: 90,
  cpuSaturationPercent: 95,
  cpuSaturationForMs: 30_000,
  clearMarginPercent: 5,
  restartLoopCount: 3,
  restartLoopWindowMs: 600_000,
  hungAfterMs: 0,
  hungCpuMillis: 5,
  clockSkewMs: 500,
  clockSkewMaxRttMs: 1000,
  maxComponents: 10_000,
};
