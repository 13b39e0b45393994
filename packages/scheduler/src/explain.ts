// Why a component found no node, as counts (for machines) and one sentence
// (for people).
//
// Counting rule: every node is counted exactly once, so the counts add up to
// nodesEvaluated. A node that is not ready counts as "not ready"; a ready node
// counts under the FIRST resource it lacks in the order cpu, memory, gpu
// ("insufficient cpu", "insufficient memory", "insufficient gpu"). Only
// non-zero counts appear.

import { formatAmount, formatMetric, formatResources } from "./format.js";
import type { CapacityView } from "./ledger.js";
import { metricOf } from "./order.js";
import type { ComponentRequest, Metric, NodeState, UnplacedExplanation } from "./types.js";

const METRICS: readonly Metric[] = ["cpu", "memory", "gpu"];
const FILTER_KEYS = ["not ready", "insufficient cpu", "insufficient memory", "insufficient gpu"] as const;

export interface Explained {
  reason: string;
  explanation: UnplacedExplanation;
}

function plural(count: number, word: string): string {
  return `${count} ${word}${count === 1 ? "" : "s"}`;
}

/** Counts of nodes filtered per reason under the ledger's current free capacity. */
export function filterCounts(component: ComponentRequest, ledger: CapacityView): Record<string, number> {
  const counts = new Map<string, number>();
  for (const node of ledger.nodes) {
    const lacking = node.ready ? ledger.lacking(node.id, component.resources) : undefined;
    const key = !node.ready ? "not ready" : lacking === undefined ? undefined : `insufficient ${lacking}`;
    if (key !== undefined) counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  const filtered: Record<string, number> = {};
  for (const key of FILTER_KEYS) {
    const count = counts.get(key);
    if (count !== undefined) filtered[key] = count;
  }
  return filtered;
}

function explanation(component: ComponentRequest, ledger: CapacityView): UnplacedExplanation {
  return {
    componentId: component.id,
    needs: { ...component.resources },
    nodesEvaluated: ledger.nodes.length,
    filtered: filterCounts(component, ledger),
  };
}

/** "(2 nodes: 2 insufficient cpu)" */
function summary(e: UnplacedExplanation): string {
  const parts = Object.entries(e.filtered).map(([key, count]) => `${count} ${key}`);
  return `(${plural(e.nodesEvaluated, "node")}${parts.length > 0 ? `: ${parts.join(", ")}` : ""})`;
}

/** The node with the largest `value` (first by name, then id, on ties). */
function largest(nodes: readonly NodeState[], value: (node: NodeState) => number): [NodeState, number] | undefined {
  let best: [NodeState, number] | undefined;
  for (const node of nodes) {
    const v = value(node);
    if (best === undefined || v > best[1]) best = [node, v];
  }
  return best;
}

/**
 * Explains a component that fits on no ready node right now. `earlierPlaced`
 * is how many components of the same job are already (tentatively) placed in
 * the ledger, so the sentence can say the job competed with itself.
 */
export function explainNoNode(component: ComponentRequest, ledger: CapacityView, earlierPlaced: number): Explained {
  const e = explanation(component, ledger);
  const head = `${component.id} needs ${formatResources(component.resources)}`;
  const ready = ledger.nodes.filter((node) => node.ready);
  if (ready.length === 0) return { reason: `${head}; no ready nodes ${summary(e)}`, explanation: e };

  const request = component.resources;
  const freeOf = (metric: Metric) => (node: NodeState) => metricOf(ledger.free(node.id), metric);
  // Resources no single ready node has enough of; failing that, the ones some node lacks.
  let scarce = METRICS.filter((m) => metricOf(request, m) > (largest(ready, freeOf(m))?.[1] ?? 0));
  const combined = scarce.length === 0;
  if (combined) {
    scarce = METRICS.filter((m) => ready.some((node) => metricOf(request, m) > freeOf(m)(node)));
  }
  const phrases = scarce.map((metric) => {
    const [node, amount] = largest(ready, freeOf(metric)) ?? [undefined, 0];
    if (node === undefined || amount <= 0) return `no ready node has free ${metric}`;
    return `largest free ${metric} is ${formatAmount(metric, amount)} on ${node.name}`;
  });
  const detail = combined ? `no ready node has all of it at once: ${phrases.join(", ")}` : phrases.join(", ");
  const after = earlierPlaced > 0 ? ` after placing ${plural(earlierPlaced, "other component")} of this job` : "";
  return { reason: `${head}; ${detail}${after} ${summary(e)}`, explanation: e };
}

/**
 * When no node, ready or not, could hold the component even if it were empty,
 * explains why; otherwise undefined.
 */
export function explainNeverFits(component: ComponentRequest, ledger: CapacityView): Explained | undefined {
  if (ledger.nodes.some((node) => ledger.couldEverFit(node.id, component.resources))) return undefined;
  const e = explanation(component, ledger);
  const head = `${component.id} needs ${formatResources(component.resources)}`;
  if (ledger.nodes.length === 0) {
    return { reason: `${head} but the cluster has no nodes; this job cannot run until nodes join`, explanation: e };
  }
  const request = component.resources;
  const capacityOf = (metric: Metric) => (node: NodeState) => metricOf(ledger.capacity(node.id), metric);
  const tooBig = METRICS.filter((m) => metricOf(request, m) > (largest(ledger.nodes, capacityOf(m))?.[1] ?? 0));
  let detail: string;
  if (tooBig.length > 0) {
    const offers = tooBig.map((m) => formatMetric(m, largest(ledger.nodes, capacityOf(m))?.[1] ?? 0));
    detail = `the largest node offers ${offers.join(", ")}`;
  } else {
    const wanted = METRICS.filter((m) => metricOf(request, m) > 0);
    const offers = wanted.map((m) => {
      const [node, amount] = largest(ledger.nodes, capacityOf(m)) ?? [undefined, 0];
      return `${formatMetric(m, amount)} on ${node?.name ?? "no node"}`;
    });
    detail = `no node offers all of it at once (largest: ${offers.join(", ")})`;
  }
  return {
    reason: `${head} but ${detail}; this job cannot run on this cluster until bigger nodes join`,
    explanation: e,
  };
}
