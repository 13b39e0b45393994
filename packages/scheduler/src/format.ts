// Human renderings of resource quantities, for reasons and logs. Values in the
// scheduler are millicores, bytes and device counts; people read cores and
// binary units.

import type { Metric, Resources } from "./types.js";

const MEMORY_UNITS: ReadonlyArray<readonly [string, number]> = [
  ["Pi", 1024 ** 5],
  ["Ti", 1024 ** 4],
  ["Gi", 1024 ** 3],
  ["Mi", 1024 ** 2],
  ["Ki", 1024],
  ["B", 1],
];

/** Values this large in a smaller unit are not worth exactness ("2047Mi" yes, "1205632Ki" no). */
const MAX_EXACT_VALUE = 100_000;

/** `value` with at most `decimals` decimals, trailing zeros removed; "~" when that rounds. */
function decimal(value: number, decimals: number): string {
  const fixed = value.toFixed(decimals);
  const trimmed = fixed.includes(".") ? fixed.replace(/0+$/, "").replace(/\.$/, "") : fixed;
  return Number(fixed) === value ? trimmed : `~${trimmed}`;
}

/** Cores as a bare number: 4000 → "4", 500 → "0.5", 1 → "0.001". */
export function formatCores(cpuMillis: number): string {
  return decimal(cpuMillis / 1000, 3);
}

/** 4000 → "4 cpu", 500 → "0.5 cpu". */
export function formatCpu(cpuMillis: number): string {
  return `${formatCores(cpuMillis)} cpu`;
}

/**
 * Bytes in binary units: 268435456 → "256Mi", 2147483648 → "2Gi", 1610612736 → "1.5Gi".
 * Uses the largest unit that shows the value exactly with at most two decimals
 * (2047Mi rather than ~2Gi); when none does, an approximation in the largest
 * unit marked "~" (e.g. "~1.15Gi").
 */
export function formatMemory(memoryBytes: number): string {
  if (!Number.isFinite(memoryBytes)) return `${memoryBytes}B`;
  const magnitude = Math.abs(memoryBytes);
  const fitting = MEMORY_UNITS.filter(([, size]) => magnitude >= size || size === 1);
  for (const [unit, size] of fitting) {
    const value = memoryBytes / size;
    if (Math.abs(value) >= MAX_EXACT_VALUE && size !== fitting[0]?.[1]) break;
    const text = decimal(value, 2);
    if (!text.startsWith("~")) return `${text}${unit}`;
  }
  const [unit, size] = fitting[0] ?? ["B", 1];
  return `${decimal(memoryBytes / size, 2)}${unit}`;
}

/** 1 → "1 gpu". */
export function formatGpu(gpu: number): string {
  return `${decimal(gpu, 3)} gpu`;
}

/** A bare amount of one metric, as used in "largest free cpu is 2": "2", "1Gi", "1". */
export function formatAmount(metric: Metric, value: number): string {
  switch (metric) {
    case "cpu":
      return formatCores(value);
    case "memory":
      return formatMemory(value);
    case "gpu":
      return decimal(value, 3);
  }
}

/** An amount with its metric named: "2 cpu", "1Gi memory", "1 gpu". */
export function formatMetric(metric: Metric, value: number): string {
  switch (metric) {
    case "cpu":
      return formatCpu(value);
    case "memory":
      return `${formatMemory(value)} memory`;
    case "gpu":
      return formatGpu(value);
  }
}

/** The non-zero parts of a request: "4 cpu, 256Mi memory, 1 gpu"; "no resources" when all are zero. */
export function formatResources(resources: Resources): string {
  const parts: string[] = [];
  if (resources.cpuMillis !== 0) parts.push(formatCpu(resources.cpuMillis));
  if (resources.memoryBytes !== 0) parts.push(`${formatMemory(resources.memoryBytes)} memory`);
  if (resources.gpu !== 0) parts.push(formatGpu(resources.gpu));
  return parts.length === 0 ? "no resources" : parts.join(", ");
}
