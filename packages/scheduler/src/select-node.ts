// MARO's allocation modes as a choice among nodes that already fit.
//
// - single-metric-balanced: the node with the MOST free of the job's metric
//   (spreads load);
// - single-metric-compacted: the node with the LEAST free of the metric that
//   still fits (packs nodes, keeps big holes for big jobs).
//
// Ties go to the node that sorts first by name, then id.

import { compareNodes } from "./order.js";
import type { AllocationMode, NodeState } from "./types.js";

export interface Candidate {
  node: NodeState;
  /** Free amount of the job's metric on the node before this component is placed. */
  free: number;
}

/** Negative when `a` is the better choice under `mode`. */
export function compareCandidates(mode: AllocationMode, a: Candidate, b: Candidate): number {
  const byFree = mode === "single-metric-balanced" ? b.free - a.free : a.free - b.free;
  return byFree || compareNodes(a.node, b.node);
}

/** The best candidate under `mode`, or undefined when there is none. */
export function selectNode(mode: AllocationMode, candidates: readonly Candidate[]): Candidate | undefined {
  let best: Candidate | undefined;
  for (const candidate of candidates) {
    if (best === undefined || compareCandidates(mode, candidate, best) < 0) best = candidate;
  }
  return best;
}
