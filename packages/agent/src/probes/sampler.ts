// Reads every probe once per interval and hands on one sample. A tick that is
// still running when the next is due makes that next one skip, so slow
// sources (a busy Docker engine) never pile up reads.

import { performance } from "node:perf_hooks";
import type { Logger } from "@maro/proto";
import { type ResourceSample, SampleEncoder } from "./delta.js";
import type { ComponentProbe, ComponentReading, NodeProbe, NodeReading } from "./types.js";

export interface Reading {
  timeMs: number;
  node: NodeReading;
  components: ComponentReading[];
}

export interface SamplerOptions {
  intervalMs: number;
  nodeProbes: NodeProbe[];
  componentProbe?: ComponentProbe;
  /** Gets each sample (as sent) and the full reading it came from. */
  onSample: (sample: ResourceSample, reading: Reading) => void;
  encoder?: SampleEncoder;
  log?: Logger;
}

const EMPTY_NODE: NodeReading = {
  cpuMillis: 0,
  cpuCapacityMillis: 0,
  memoryUsedBytes: 0,
  memoryTotalBytes: 0,
  diskUsedBytes: 0,
  diskTotalBytes: 0,
  netRxBytesPerS: 0,
  netTxBytesPerS: 0,
  gpus: [],
  gpuErrors: [],
};

export class Sampler {
  private timer: NodeJS.Timeout | null = null;
  private busy = false;
  private readonly encoder: SampleEncoder;
  private readonly failing = new Set<string>();
  /** Ticks skipped because the one before was still running. */
  skipped = 0;

  constructor(private readonly options: SamplerOptions) {
    if (!Number.isInteger(options.intervalMs) || options.intervalMs < 50)
      throw new Error(`sample interval ${options.intervalMs} ms: use a whole number of ms >= 50`);
    this.encoder = options.encoder ?? new SampleEncoder();
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.tick(), this.options.intervalMs);
    this.timer.unref();
    void this.tick();
  }

  /** The next sample is sent in full. */
  resync(): void {
    this.encoder.resync();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** One reading of every probe; resolves false when skipped because the last is still running. */
  async tick(): Promise<boolean> {
    if (this.busy) {
      this.skipped++;
      return false;
    }
    this.busy = true;
    try {
      const mono = performance.now();
      const timeMs = Date.now();
      const o = this.options;
      const [parts, components] = await Promise.all([
        Promise.all(o.nodeProbes.map((p) => this.guard(p.name, p.read(mono), {}))),
        o.componentProbe ? this.guard(o.componentProbe.name, o.componentProbe.read(mono), []) : [],
      ]);
      const node: NodeReading = Object.assign({ ...EMPTY_NODE }, ...parts);
      const reading = { timeMs, node, components };
      o.onSample(this.encoder.encode(timeMs, node, components), reading);
    } finally {
      this.busy = false;
    }
    return true;
  }

  /** A probe that throws gives its fallback; said once until it works again. */
  private async guard<T>(name: string, read: Promise<T>, fallback: T): Promise<T> {
    try {
      const value = await read;
      this.failing.delete(name);
      return value;
    } catch (err) {
      if (!this.failing.has(name))
        this.options.log?.warn("probe failed", {
          probe: name,
          error: err instanceof Error ? err.message : String(err),
        });
      this.failing.add(name);
      return fallback;
    }
  }
}
