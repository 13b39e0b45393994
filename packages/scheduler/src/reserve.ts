// Reservations: room held for the first job in queue order that could run on
// this cluster but does not fit now, so that smaller or later jobs cannot keep
// it waiting forever.
//
// A reservation assigns every component of the job to a schedulable node
// (ready, not cordoned, satisfying its constraints, spread honoured) whose
// CAPACITY, ignoring what runs there now, holds it together with the job's
// other components assigned there. Components go in placement order, each to
// the node with the highest all-resource score of what is free now (minus what
// the reservation already put there), ties by node name then id; so the
// reservation prefers the nodes that will have room soonest. When the previous
// plan's reservation for the same job is passed back and is still valid, it is
// kept as is: the held nodes do not move while other work fills the rest.
//
// Shares are held on their nodes: a later job may use a reserved node only
// where it leaves the share free. Running work only ends, so each share fits
// on its node no later than it would with no later jobs at all; once every
// share fits, the job is placed (on its reservation if its mode's own choice
// fails).

import { type NodeFilter, satisfies } from "./labels.js";
import type { CapacityView } from "./ledger.js";
import { freeScore } from "./score.js";
import type { ComponentRequest, NodeState, QueuedJob, Reservation, ReservedNode, Resources } from "./types.js";

export interface Prepared {
  component: ComponentRequest;
  filter: NodeFilter;
}

function add(a: Resources, b: Resources): Resources {
  return { cpuMillis: a.cpuMillis + b.cpuMillis, memoryBytes: a.memoryBytes + b.memoryBytes, gpu: a.gpu + b.gpu };
}

function within(a: Resources, b: Resources): boolean {
  return a.cpuMillis <= b.cpuMillis && a.memoryBytes <= b.memoryBytes && a.gpu <= b.gpu;
}

const ZERO: Resources = { cpuMillis: 0, memoryBytes: 0, gpu: 0 };

function schedulable(node: NodeState): boolean {
  return node.ready && node.cordoned !== true;
}

/** Node id per component id → a reservation in canonical order (nodes by node order, components by job order). */
function build(job: QueuedJob, view: CapacityView, assigned: ReadonlyMap<string, string>): Reservation {
  const nodes: ReservedNode[] = [];
  for (const node of view.nodes) {
    let resources = ZERO;
    const componentIds: string[] = [];
    for (const c of job.components) {
      if (assigned.get(c.id) !== node.id) continue;
      resources = add(resources, c.resources);
      componentIds.push(c.id);
    }
    if (componentIds.length > 0) nodes.push({ nodeId: node.id, resources, componentIds });
  }
  return { jobId: job.id, nodes };
}

/** The hint, if it still assigns every component to a node that may take it; rebuilt from the job's requests. */
function kept(
  job: QueuedJob,
  order: readonly Prepared[],
  view: CapacityView,
  hint: Reservation,
): Reservation | undefined {
  if (hint.jobId !== job.id) return undefined;
  const byId = new Map(view.nodes.map((n) => [n.id, n]));
  const assigned = new Map<string, string>();
  for (const entry of hint.nodes) {
    for (const componentId of entry.componentIds) {
      if (assigned.has(componentId)) return undefined;
      assigned.set(componentId, entry.nodeId);
    }
  }
  if (assigned.size !== job.components.length) return undefined;
  const load = new Map<string, Resources>();
  const spreadTypes = new Set<string>();
  for (const { component, filter } of order) {
    const nodeId = assigned.get(component.id);
    const node = nodeId === undefined ? undefined : byId.get(nodeId);
    if (node === undefined || !schedulable(node) || !satisfies(node, filter.entries)) return undefined;
    if (component.spreadAcross === "node") {
      const key = `${component.type}\u0000${node.id}`;
      if (spreadTypes.has(key)) return undefined;
      spreadTypes.add(key);
    }
    const total = add(load.get(node.id) ?? ZERO, component.resources);
    if (!within(total, view.capacity(node.id))) return undefined;
    load.set(node.id, total);
  }
  return build(job, view, assigned);
}

/** A new reservation for the job, or undefined when its components cannot all be held on schedulable nodes. */
function chosen(job: QueuedJob, order: readonly Prepared[], view: CapacityView): Reservation | undefined {
  const candidates = view.nodes.filter(schedulable);
  const capacity = candidates.map((n) => view.capacity(n.id));
  const free = candidates.map((n) => view.free(n.id));
  const load: Resources[] = candidates.map(() => ZERO);
  const typesOn: Array<Set<string>> = candidates.map(() => new Set());
  const assigned = new Map<string, string>();
  for (const { component, filter } of order) {
    let best = -1;
    let bestScore = -Infinity;
    for (const [k, node] of candidates.entries()) {
      const cap = capacity[k] as Resources;
      const total = add(load[k] as Resources, component.resources);
      if (!within(total, cap)) continue;
      if (component.spreadAcross === "node" && (typesOn[k] as Set<string>).has(component.type)) continue;
      if (!satisfies(node, filter.entries)) continue;
      const f = free[k] as Resources;
      const score = freeScore(
        cap.cpuMillis,
        cap.memoryBytes,
        cap.gpu,
        Math.max(0, f.cpuMillis - (load[k] as Resources).cpuMillis),
        Math.max(0, f.memoryBytes - (load[k] as Resources).memoryBytes),
        Math.max(0, f.gpu - (load[k] as Resources).gpu),
      );
      if (score > bestScore) {
        best = k;
        bestScore = score;
      }
    }
    const node = candidates[best];
    if (node === undefined) return undefined;
    load[best] = add(load[best] as Resources, component.resources);
    if (component.spreadAcross === "node") (typesOn[best] as Set<string>).add(component.type);
    assigned.set(component.id, node.id);
  }
  return build(job, view, assigned);
}

/**
 * The reservation for `job` (components in placement order with their
 * filters): the previous one if still valid, else a new one; undefined when
 * the job cannot be held on the schedulable nodes even if they were empty.
 */
export function reserve(
  job: QueuedJob,
  order: readonly Prepared[],
  view: CapacityView,
  previous: readonly Reservation[] | undefined,
): Reservation | undefined {
  const hint = previous?.find((r) => r.jobId === job.id);
  return (hint === undefined ? undefined : kept(job, order, view, hint)) ?? chosen(job, order, view);
}

/** Whether every share of the reservation fits in what its node has free now. */
export function fitsNow(reservation: Reservation, view: CapacityView): boolean {
  return reservation.nodes.every((n) => within(n.resources, view.free(n.nodeId)));
}

/** The ids of nodes hosting a spread component of the same type, for eligibility. */
export function spreadAvoid(
  component: ComponentRequest,
  placedTypes: ReadonlyMap<string, readonly string[]>,
): readonly string[] {
  if (component.spreadAcross !== "node") return [];
  return placedTypes.get(component.type) ?? [];
}
