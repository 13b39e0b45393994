// Node labels and component constraints. A node satisfies a component's
// constraints when it carries every constraint key with exactly the same value.
// Keys are always visited in sorted order so "the first unmet key" is the same
// everywhere.

import { compareStrings } from "./order.js";
import type { NodeState } from "./types.js";

export type Constraints = Readonly<Record<string, string>>;

/** Constraint entries sorted by key; empty when there are none. */
export function constraintEntries(constraints: Constraints | undefined): Array<readonly [string, string]> {
  if (constraints === undefined) return [];
  return Object.entries(constraints).sort((a, b) => compareStrings(a[0], b[0]));
}

function labelOf(node: NodeState, key: string): string | undefined {
  const labels = node.labels;
  if (labels === undefined || !Object.hasOwn(labels, key)) return undefined;
  const value = labels[key];
  return typeof value === "string" ? value : undefined;
}

/** The first constraint key (in sorted order) the node does not satisfy, or undefined. */
export function firstUnmet(node: NodeState, entries: ReadonlyArray<readonly [string, string]>): string | undefined {
  for (const [key, value] of entries) if (labelOf(node, key) !== value) return key;
  return undefined;
}

export function satisfies(node: NodeState, entries: ReadonlyArray<readonly [string, string]>): boolean {
  return firstUnmet(node, entries) === undefined;
}

/** "gpu_model=A100, zone=a" */
export function formatConstraints(entries: ReadonlyArray<readonly [string, string]>): string {
  return entries.map(([k, v]) => `${k}=${v}`).join(", ");
}

/** A component's constraints, prepared once: sorted entries and their canonical key. */
export interface NodeFilter {
  readonly key: string;
  readonly entries: ReadonlyArray<readonly [string, string]>;
}

export const NO_FILTER: NodeFilter = { key: "", entries: [] };

export function nodeFilter(constraints: Constraints | undefined): NodeFilter {
  const entries = constraintEntries(constraints);
  return entries.length === 0 ? NO_FILTER : { key: JSON.stringify(entries), entries };
}
