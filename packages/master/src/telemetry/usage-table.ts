import type { ComponentUsageRecord, NodeUsageIn, NodeUsageRecord, SampleIn } from "./types.js";
import { LIMITS } from "./validate.js";

export function toUsageRecord(u: NodeUsageIn): NodeUsageRecord {
  return {
    cpuMillis: u.cpuMillis,
    cpuCapacityMillis: u.cpuCapacityMillis,
    memoryUsedBytes: u.memoryUsedBytes,
    memoryTotalBytes: u.memoryTotalBytes,
    diskUsedBytes: u.diskUsedBytes,
    diskTotalBytes: u.diskTotalBytes,
    netRxBytesPerS: u.netRxBytesPerS,
    netTxBytesPerS: u.netTxBytesPerS,
    gpus: u.gpus.map((g) => ({
      index: g.index,
      memoryUsedBytes: g.memoryUsedBytes,
      memoryTotalBytes: g.memoryTotalBytes,
      utilizationPercent: g.utilizationPercent,
    })),
  };
}

interface NodeEntry {
  usage: NodeUsageRecord | null;
  components: Map<string, ComponentUsageRecord>;
  /** Agent clock minus master clock at the latest heartbeat. */
  clockSkewMs: number;
}

/**
 * The latest usage of every node and of every component, in memory only:
 * agents send a full sample every tenth one, so a restarted master is whole
 * again within seconds.
 */
export class UsageTable {
  private readonly nodes = new Map<string, NodeEntry>();

  private entry(node: string): NodeEntry {
    let e = this.nodes.get(node);
    if (!e) {
      e = { usage: null, components: new Map(), clockSkewMs: 0 };
      this.nodes.set(node, e);
    }
    return e;
  }

  /**
   * Applies a validated sample: a full one replaces the node's components; a
   * delta updates the changed ones and drops the ended ones. Returns false
   * (and changes nothing) when the node would hold more components than allowed.
   */
  apply(node: string, sample: SampleIn): boolean {
    const e = this.entry(node);
    const next = sample.full ? new Map<string, ComponentUsageRecord>() : new Map(e.components);
    for (const c of sample.components)
      next.set(c.containerName, { containerName: c.containerName, cpuMillis: c.cpuMillis, memoryBytes: c.memoryBytes });
    // A name both updated and ended in one sample has ended.
    for (const name of sample.gone) next.delete(name);
    if (next.size > LIMITS.componentsPerNode) return false;
    e.components = next;
    if (sample.node) e.usage = toUsageRecord(sample.node);
    return true;
  }

  setClockSkew(node: string, skewMs: number): void {
    this.entry(node).clockSkewMs = skewMs;
  }

  nodeUsage(node: string): NodeUsageRecord | null {
    return this.nodes.get(node)?.usage ?? null;
  }

  clockSkewMs(node: string): number {
    return this.nodes.get(node)?.clockSkewMs ?? 0;
  }

  componentUsage(node: string, containerName: string): ComponentUsageRecord | null {
    if (!containerName) return null;
    return this.nodes.get(node)?.components.get(containerName) ?? null;
  }

  componentCount(node: string): number {
    return this.nodes.get(node)?.components.size ?? 0;
  }
}
