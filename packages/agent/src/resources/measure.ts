// What this node has, measured once at start: logical cores, total memory,
// NVIDIA GPUs (the only ones containers can be given, via the nvidia runtime).

import si from "systeminformation";

export interface NodeResources {
  /** Logical cores × 1000. */
  cpuMillis: number;
  memoryBytes: number;
  /** NVIDIA device indices as the nvidia container runtime numbers them: 0..n-1. */
  gpuIndices: number[];
  /** GPU models, in index order (for display). */
  gpuModels: string[];
}

export async function measureNode(): Promise<NodeResources> {
  const [cpu, mem, graphics] = await Promise.all([si.cpu(), si.mem(), si.graphics()]);
  return fromSystemInformation(cpu.cores, mem.total, graphics.controllers);
}

/** The pure part of measureNode(), from systeminformation's answers. */
export function fromSystemInformation(
  logicalCores: number,
  totalMemoryBytes: number,
  controllers: ReadonlyArray<{ vendor: string; model: string; subVendor?: string }>,
): NodeResources {
  const gpus = controllers.filter((c) => /nvidia/i.test(c.vendor) || /nvidia/i.test(c.subVendor ?? ""));
  return {
    cpuMillis: Math.max(0, Math.round(logicalCores)) * 1000,
    memoryBytes: Math.max(0, Math.floor(totalMemoryBytes)),
    gpuIndices: gpus.map((_, index) => index),
    gpuModels: gpus.map((c) => c.model),
  };
}
