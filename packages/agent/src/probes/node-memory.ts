import { parseMeminfo } from "./proc-parse.js";
import { readProcFile } from "./proc-read.js";
import type { NodeProbe, NodeReading } from "./types.js";

/** Node memory from /proc/meminfo: used = total - available. */
export class NodeMemoryProbe implements NodeProbe {
  readonly name = "memory";

  constructor(private readonly path = "/proc/meminfo") {}

  async read(): Promise<Partial<NodeReading>> {
    const m = parseMeminfo(await readProcFile(this.path));
    return { memoryTotalBytes: m.totalBytes, memoryUsedBytes: Math.max(0, m.totalBytes - m.availableBytes) };
  }
}
