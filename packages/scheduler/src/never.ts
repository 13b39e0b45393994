// Jobs no change in load will ever place: a component that no node satisfying
// its constraints could hold even empty, or more spread components of one type
// than there are such nodes able to hold one.

import { type Explained, explainNeverFits, filterCounts } from "./explain.js";
import { formatResources } from "./format.js";
import { type NodeFilter, satisfies } from "./labels.js";
import type { CapacityView } from "./ledger.js";
import type { Prepared } from "./reserve.js";
import type { Resources } from "./types.js";

export interface NeverFitsView extends CapacityView {
  anyCouldEverFit(request: Resources, filter: NodeFilter): boolean;
  /** Nodes (any state) satisfying `filter` that could hold `request` if empty, counted up to `atMost`. */
  countCouldEverFit(request: Resources, filter: NodeFilter, atMost: number): number;
}

function smallest(requests: readonly Resources[]): Resources {
  return {
    cpuMillis: Math.min(...requests.map((r) => r.cpuMillis)),
    memoryBytes: Math.min(...requests.map((r) => r.memoryBytes)),
    gpu: Math.min(...requests.map((r) => r.gpu)),
  };
}

/** Why the job (components in placement order) can never be placed, or undefined. */
export function explainNeverPlaced(order: readonly Prepared[], view: NeverFitsView): Explained | undefined {
  for (const { component, filter } of order) {
    if (view.anyCouldEverFit(component.resources, filter)) continue;
    const never = explainNeverFits(component, view, filter);
    if (never !== undefined) return never;
  }
  if (!order.some((p) => p.component.spreadAcross === "node")) return undefined;
  const spread = new Map<string, Prepared[]>();
  for (const p of order) {
    if (p.component.spreadAcross !== "node") continue;
    const list = spread.get(p.component.type) ?? [];
    list.push(p);
    spread.set(p.component.type, list);
  }
  for (const [type, replicas] of spread) {
    const first = replicas[0];
    if (first === undefined || replicas.length < 2) continue;
    // Replicas with different constraints have no single node set to count against.
    if (replicas.some((r) => r.filter.key !== first.filter.key)) continue;
    const least = smallest(replicas.map((r) => r.component.resources));
    const count = view.countCouldEverFit(least, first.filter, replicas.length);
    if (count >= replicas.length) continue;
    const last = replicas[replicas.length - 1] as Prepared;
    // The last replica finds every node able to hold one already taken by another ("spread").
    const avoid = new Set(
      view.nodes.filter((n) => satisfies(n, first.filter.entries) && view.couldEverFit(n.id, least)).map((n) => n.id),
    );
    const explanation = {
      componentId: last.component.id,
      needs: { ...last.component.resources },
      nodesEvaluated: view.nodes.length,
      filtered: filterCounts(last.component, view, { filter: first.filter, avoid }),
    };
    const nodes = count === 1 ? "1 node" : `${count} nodes`;
    return {
      reason:
        `${last.component.id} needs ${formatResources(last.component.resources)} on a node of its own among the ` +
        `${replicas.length} ${type} components (spread across nodes), but only ${nodes} could hold one; ` +
        "this job cannot run on this cluster until more nodes join",
      explanation,
    };
  }
  return undefined;
}
