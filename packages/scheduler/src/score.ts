// The all-resource score used by the `binpack` and `spread` modes (and to rank
// nodes for a reservation): the mean free fraction of cpu, memory and, on nodes
// that have gpus, gpu. 1 is an empty node, 0 a full one; a node with no
// capacity at all scores 0.

export function freeScore(
  capCpu: number,
  capMemory: number,
  capGpu: number,
  freeCpu: number,
  freeMemory: number,
  freeGpu: number,
): number {
  let sum = 0;
  let count = 0;
  if (capCpu > 0) {
    sum += freeCpu / capCpu;
    count++;
  }
  if (capMemory > 0) {
    sum += freeMemory / capMemory;
    count++;
  }
  if (capGpu > 0) {
    sum += freeGpu / capGpu;
    count++;
  }
  return count === 0 ? 0 : sum / count;
}
