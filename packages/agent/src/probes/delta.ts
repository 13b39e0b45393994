// Turns full readings into the compact ResourceSample the agent sends: only
// the components whose usage moved, those that ended, and every Nth sample
// in full. Pure.

import type { AgentMessage } from "@maro/proto";
import type { ComponentReading, NodeReading } from "./types.js";

export type ResourceSample = NonNullable<AgentMessage["sample"]>;

/** What encode() makes: a ResourceSample with every field there. */
export interface EncodedSample extends ResourceSample {
  timeMs: number;
  full: boolean;
  node: Omit<NodeReading, "gpuErrors">;
  components: { containerName: string; cpuMillis: number; memoryBytes: number }[];
  gone: string[];
}

export interface EncoderOptions {
  /** Every this many samples (the first one too) is full. Default 10. */
  fullEvery: number;
  /** A component is resent when its cpu moved by more than max(cpuMillis, cpuFraction × last sent). Defaults 10, 0.05. */
  cpuMillis: number;
  cpuFraction: number;
  /** … or its memory by more than max(memoryBytes, memoryFraction × last sent). Defaults 1 MiB, 0.02. */
  memoryBytes: number;
  memoryFraction: number;
}

const DEFAULTS: EncoderOptions = {
  fullEvery: 10,
  cpuMillis: 10,
  cpuFraction: 0.05,
  memoryBytes: 1024 ** 2,
  memoryFraction: 0.02,
};

export class SampleEncoder {
  private readonly o: EncoderOptions;
  /** What the master was last told of each component. */
  private readonly sent = new Map<string, { cpuMillis: number; memoryBytes: number }>();
  private count = 0;

  constructor(options: Partial<EncoderOptions> = {}) {
    this.o = { ...DEFAULTS, ...options };
    if (!Number.isInteger(this.o.fullEvery) || this.o.fullEvery < 1)
      throw new Error(`fullEvery: ${this.o.fullEvery} must be a whole number >= 1`);
  }

  /** The next sample is full and the count starts over (after a reconnect, the master needs everything). */
  resync(): void {
    this.count = 0;
  }

  encode(timeMs: number, node: NodeReading, components: ComponentReading[]): EncodedSample {
    const full = this.count % this.o.fullEvery === 0;
    this.count++;
    const now = new Map(components.map((c) => [c.containerName, c]));
    const gone = [...this.sent.keys()].filter((name) => !now.has(name)).sort();
    for (const name of gone) this.sent.delete(name);
    const changed = components.filter((c) => full || this.moved(c));
    for (const c of changed) this.sent.set(c.containerName, { cpuMillis: c.cpuMillis, memoryBytes: c.memoryBytes });
    return {
      timeMs,
      full,
      node: {
        cpuMillis: node.cpuMillis,
        cpuCapacityMillis: node.cpuCapacityMillis,
        memoryUsedBytes: node.memoryUsedBytes,
        memoryTotalBytes: node.memoryTotalBytes,
        diskUsedBytes: node.diskUsedBytes,
        diskTotalBytes: node.diskTotalBytes,
        netRxBytesPerS: node.netRxBytesPerS,
        netTxBytesPerS: node.netTxBytesPerS,
        gpus: node.gpus.map((g) => ({ ...g })),
      },
      components: changed
        .map((c) => ({ containerName: c.containerName, cpuMillis: c.cpuMillis, memoryBytes: c.memoryBytes }))
        .sort((a, b) => a.containerName.localeCompare(b.containerName)),
      gone,
    };
  }

  private moved(c: ComponentReading): boolean {
    const last = this.sent.get(c.containerName);
    if (!last) return true;
    const cpuStep = Math.max(this.o.cpuMillis, this.o.cpuFraction * last.cpuMillis);
    const memStep = Math.max(this.o.memoryBytes, this.o.memoryFraction * last.memoryBytes);
    return Math.abs(c.cpuMillis - last.cpuMillis) > cpuStep || Math.abs(c.memoryBytes - last.memoryBytes) > memStep;
  }
}
