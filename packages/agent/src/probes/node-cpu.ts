import { type CpuTimes, parseCpuTimes } from "./proc-parse.js";
import { readProcFile } from "./proc-read.js";
import type { NodeProbe, NodeReading } from "./types.js";

/** Node cpu in millicores used over the last interval, from /proc/stat deltas. */
export class NodeCpuProbe implements NodeProbe {
  readonly name = "cpu";
  private last: CpuTimes | null = null;

  constructor(private readonly path = "/proc/stat") {}

  async read(): Promise<Partial<NodeReading>> {
    const now = parseCpuTimes(await readProcFile(this.path));
    // The first reading averages since boot.
    const prev = this.last ?? { total: 0, idle: 0, cpus: now.cpus };
    this.last = now;
    const total = now.total - prev.total;
    const busy = total - (now.idle - prev.idle);
    const capacity = Math.max(1, now.cpus) * 1000;
    return {
      cpuCapacityMillis: capacity,
      cpuMillis: total > 0 ? Math.round((Math.max(0, busy) / total) * capacity) : 0,
    };
  }
}
