import { statfs } from "node:fs/promises";
import type { NodeProbe, NodeReading } from "./types.js";

/** The filesystem that holds the agent's state directory (logs, scratch). */
export class DiskProbe implements NodeProbe {
  readonly name = "disk";

  constructor(private readonly dir: string) {}

  async read(): Promise<Partial<NodeReading>> {
    try {
      const s = await statfs(this.dir);
      return { diskTotalBytes: s.blocks * s.bsize, diskUsedBytes: (s.blocks - s.bfree) * s.bsize };
    } catch {
      // The directory went away: nothing to say about its disk.
      return { diskTotalBytes: 0, diskUsedBytes: 0 };
    }
  }
}
