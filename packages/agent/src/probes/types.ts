// What the probes read. Each probe is one small source of numbers behind the
// same narrow interface, so the sampler neither knows nor cares where they
// come from (/proc, statfs, nvidia-smi, the Docker Engine API).

export interface Probe<T> {
  readonly name: string;
  /** One reading; nowMs is the sampler's clock, for rates. Rejects only on a bug: missing sources read as empty. */
  read(nowMs: number): Promise<T>;
}

export interface GpuReading {
  index: number;
  memoryUsedBytes: number;
  memoryTotalBytes: number;
  utilizationPercent: number;
}

export interface NodeReading {
  cpuMillis: number;
  cpuCapacityMillis: number;
  memoryUsedBytes: number;
  memoryTotalBytes: number;
  diskUsedBytes: number;
  diskTotalBytes: number;
  netRxBytesPerS: number;
  netTxBytesPerS: number;
  gpus: GpuReading[];
  /** A failed GPU query (index null) or a device reporting an error. */
  gpuErrors: { index: number | null; message: string }[];
}

export type NodeProbe = Probe<Partial<NodeReading>>;

export interface ComponentReading {
  containerName: string;
  cpuMillis: number;
  memoryBytes: number;
  jobId?: string;
  componentId?: string;
}

export type ComponentProbe = Probe<ComponentReading[]>;

/** A component the runtime runs, as its list() gives it. */
export interface ComponentTarget {
  containerName: string;
  running: boolean;
  labels: Record<string, string>;
}

/** The ids a component's labels carry (set by launch-spec.ts). */
export function idsOf(labels: Record<string, string>): { jobId?: string; componentId?: string } {
  const ids: { jobId?: string; componentId?: string } = {};
  const job = labels["maro.job-id"];
  const component = labels["maro.component"];
  if (job) ids.jobId = job;
  if (component) ids.componentId = component;
  return ids;
}
