// Why a component found no node, as counts (for machines) and one sentence
// (for people).
//
// Counting rule: every node is counted exactly once, so the counts add up to
// nodesEvaluated, under the first of these that rules it out: "not ready",
// "cordoned", "constraint <key>" (the first unmet key in sorted order),
// "spread" (it already hosts a component of the same type of this job),
// "insufficient cpu|memory|gpu" (the first resource it lacks even counting
// reserved room as free), "reserved" (it fits only in room held for the
// reservation). Only non-zero counts appear, in that order.

import { formatAmount, formatMetric, formatResources } from "./format.js";
import { firstUnmet, formatConstraints, NO_FILTER, type NodeFilter } from "./labels.js";
import type { CapacityView } from "./ledger.js";
import { compareStrings, metricOf } from "./order.js";
import type { ComponentRequest, Metric, NodeState, UnplacedExplanation } from "./types.js";

const METRICS: readonly Metric[] = ["cpu", "memory", "gpu"];

/** Where a component may go besides capacity: its constraints and the nodes spread rules out. */
export interface Eligibility {
  filter: NodeFilter;
  /** Node ids that already host a component of the same spread type of this job. */
  avoid: ReadonlySet<string>;
  /** The job holding the reservation, if any. */
  reservedFor?: string;
}

export const ANYWHERE: Eligibility = { filter: NO_FILTER, avoid: new Set() };

/** Why `node` cannot take the request, or undefined when it can. */
function filterReason(
  node: NodeState,
  request: ComponentRequest,
  ledger: CapacityView,
  e: Eligibility,
): string | undefined {
  if (!node.ready) return "not ready";
  if (node.cordoned === true) return "cordoned";
  const unmet = firstUnmet(node, e.filter.entries);
  if (unmet !== undefined) return `constraint ${unmet}`;
  if (e.avoid.has(node.id)) return "spread";
  const lacking = ledger.lackingUnreserved(node.id, request.resources);
  if (lacking !== undefined) return `insufficient ${lacking}`;
  if (ledger.lacking(node.id, request.resources) !== undefined) return "reserved";
  return undefined;
}

const ORDER_BEFORE = ["not ready", "cordoned"];
const ORDER_AFTER = ["spread", "insufficient cpu", "insufficient memory", "insufficient gpu", "reserved"];

function rank(key: string): [number, string] {
  const before = ORDER_BEFORE.indexOf(key);
  if (before >= 0) return [before, ""];
  const after = ORDER_AFTER.indexOf(key);
  if (after >= 0) return [10 + after, ""];
  return [5, key];
}

export interface Explained {
  reason: string;
  explanation: UnplacedExplanation;
}

function plural(count: number, word: string): string {
  return `${count} ${word}${count === 1 ? "" : "s"}`;
}

/** Counts of nodes filtered per reason under the ledger's current free capacity. */
export function filterCounts(
  component: ComponentRequest,
  ledger: CapacityView,
  e: Eligibility = ANYWHERE,
): Record<string, number> {
  const counts = new Map<string, number>();
  for (const node of ledger.nodes) {
    const key = filterReason(node, component, ledger, e);
    if (key !== undefined) counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  const keys = [...counts.keys()].sort((a, b) => {
    const [ra, ka] = rank(a);
    const [rb, kb] = rank(b);
    return ra - rb || compareStrings(ka, kb);
  });
  const filtered: Record<string, number> = {};
  for (const key of keys) filtered[key] = counts.get(key) ?? 0;
  return filtered;
}

function explanation(component: ComponentRequest, ledger: CapacityView, e: Eligibility): UnplacedExplanation {
  return {
    componentId: component.id,
    needs: { ...component.resources },
    nodesEvaluated: ledger.nodes.length,
    filtered: filterCounts(component, ledger, e),
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
export function explainNoNode(
  component: ComponentRequest,
  ledger: CapacityView,
  earlierPlaced: number,
  eligibility: Eligibility = ANYWHERE,
): Explained {
  const e = explanation(component, ledger, eligibility);
  const head = `${component.id} needs ${formatResources(component.resources)}`;
  if (!ledger.nodes.some((node) => node.ready)) {
    return { reason: `${head}; no ready nodes ${summary(e)}`, explanation: e };
  }
  // The nodes that pass every rule but capacity.
  const ready = ledger.nodes.filter(
    (node) =>
      node.ready &&
      node.cordoned !== true &&
      firstUnmet(node, eligibility.filter.entries) === undefined &&
      !eligibility.avoid.has(node.id),
  );
  if (ready.length === 0) {
    return { reason: `${head}; no ready node may take it ${summary(e)}`, explanation: e };
  }
  const after = earlierPlaced > 0 ? ` after placing ${plural(earlierPlaced, "other component")} of this job` : "";
  if ((e.filtered.reserved ?? 0) > 0) {
    const holder = eligibility.reservedFor === undefined ? "an earlier job" : `job ${eligibility.reservedFor}`;
    return {
      reason: `${head}; the free room it fits in is reserved for ${holder}${after} ${summary(e)}`,
      explanation: e,
    };
  }

  const request = component.resources;
  const freeOf = (metric: Metric) => (node: NodeState) => metricOf(ledger.unreservedFree(node.id), metric);
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
  return { reason: `${head}; ${detail}${after} ${summary(e)}`, explanation: e };
}

/**
 * When no node, ready or not, could hold the component even if it were empty,
 * explains why; otherwise undefined.
 */
export function explainNeverFits(
  component: ComponentRequest,
  ledger: CapacityView,
  filter: NodeFilter = NO_FILTER,
): Explained | undefined {
  const matching = ledger.nodes.filter((node) => firstUnmet(node, filter.entries) === undefined);
  if (matching.some((node) => ledger.couldEverFit(node.id, component.resources))) return undefined;
  const e = explanation(component, ledger, { filter, avoid: new Set() });
  const head = `${component.id} needs ${formatResources(component.resources)}`;
  if (ledger.nodes.length === 0) {
    return { reason: `${head} but the cluster has no nodes; this job cannot run until nodes join`, explanation: e };
  }
  if (matching.length === 0) {
    return {
      reason: `${head} on a node labelled ${formatConstraints(filter.entries)} but no node carries those labels ${summary(e)}; this job cannot run until such nodes join`,
      explanation: e,
    };
  }
  const request = component.resources;
  const capacityOf = (metric: Metric) => (node: NodeState) => metricOf(ledger.capacity(node.id), metric);
  const labelled = filter.entries.length > 0 ? ` labelled ${formatConstraints(filter.entries)}` : "";
  const tooBig = METRICS.filter((m) => metricOf(request, m) > (largest(matching, capacityOf(m))?.[1] ?? 0));
  let detail: string;
  if (tooBig.length > 0) {
    const offers = tooBig.map((m) => formatMetric(m, largest(matching, capacityOf(m))?.[1] ?? 0));
    detail = `the largest node${labelled} offers ${offers.join(", ")}`;
  } else {
    const wanted = METRICS.filter((m) => metricOf(request, m) > 0);
    const offers = wanted.map((m) => {
      const [node, amount] = largest(matching, capacityOf(m)) ?? [undefined, 0];
      return `${formatMetric(m, amount)} on ${node?.name ?? "no node"}`;
    });
    detail = `no node${labelled} offers all of it at once (largest: ${offers.join(", ")})`;
  }
  return {
    reason: `${head} but ${detail}; this job cannot run on this cluster until bigger nodes join`,
    explanation: e,
  };
}
