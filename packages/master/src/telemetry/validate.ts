import type { AnomalyIn, ComponentUsageIn, NodeUsageIn, SampleIn } from "./types.js";

// Checks of what agents send. Pure: each returns the problem, naming the
// field, or null. A message with any problem is dropped whole.

export const LIMITS = {
  /** Component usages (or ended names) in one sample. */
  componentsPerSample: 1024,
  /** Components whose latest usage the master keeps per node. */
  componentsPerNode: 4096,
  gpusPerNode: 1024,
  /** Container names, job and component ids, node names. */
  nameChars: 253,
  messageChars: 2048,
} as const;

export const ANOMALY_KINDS: ReadonlySet<string> = new Set([
  "component-crashed",
  "oom-killed",
  "restart-loop",
  "component-hung",
  "memory-pressure",
  "disk-pressure",
  "cpu-saturation",
  "gpu-lost",
  "gpu-error",
  "clock-skew",
]);

export const SEVERITIES: ReadonlySet<string> = new Set(["info", "warning", "critical"]);

const count = (n: unknown): n is number => typeof n === "number" && Number.isSafeInteger(n) && n >= 0;
/** C0 controls other than tab and newline, and DEL: they could rewrite a terminal showing the text. */
function hasControl(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09 && c !== 0x0a) || c === 0x7f) return true;
  }
  return false;
}

function nameProblem(field: string, value: string, required: boolean): string | null {
  if (value.length === 0) return required ? `${field}: required` : null;
  if (value.length > LIMITS.nameChars) return `${field}: longer than ${LIMITS.nameChars} characters`;
  if (hasControl(value) || /\s/.test(value)) return `${field}: contains whitespace or control characters`;
  return null;
}

export function nodeUsageProblem(u: NodeUsageIn): string | null {
  const fields = [
    "cpuMillis",
    "cpuCapacityMillis",
    "memoryUsedBytes",
    "memoryTotalBytes",
    "diskUsedBytes",
    "diskTotalBytes",
    "netRxBytesPerS",
    "netTxBytesPerS",
  ] as const;
  for (const f of fields) if (!count(u[f])) return `node.${f}: not a non-negative integer`;
  if (u.gpus.length > LIMITS.gpusPerNode) return `node.gpus: more than ${LIMITS.gpusPerNode}`;
  const seen = new Set<number>();
  for (const [i, g] of u.gpus.entries()) {
    if (!count(g.index) || g.index >= LIMITS.gpusPerNode || seen.has(g.index))
      return `node.gpus[${i}].index: not a distinct index 0-${LIMITS.gpusPerNode - 1}`;
    seen.add(g.index);
    if (!count(g.memoryUsedBytes) || !count(g.memoryTotalBytes))
      return `node.gpus[${i}]: memory is not a non-negative integer`;
    if (!count(g.utilizationPercent) || g.utilizationPercent > 100)
      return `node.gpus[${i}].utilizationPercent: not 0-100`;
  }
  return null;
}

function componentUsageProblem(c: ComponentUsageIn, at: string): string | null {
  return (
    nameProblem(`${at}.containerName`, c.containerName, true) ??
    (count(c.cpuMillis) && count(c.memoryBytes) ? null : `${at}: cpu or memory is not a non-negative integer`)
  );
}

export function sampleProblem(s: SampleIn): string | null {
  if (!count(s.timeMs)) return "timeMs: not a non-negative integer";
  if (s.node) {
    const p = nodeUsageProblem(s.node);
    if (p) return p;
  }
  if (s.components.length > LIMITS.componentsPerSample) return `components: more than ${LIMITS.componentsPerSample}`;
  if (s.gone.length > LIMITS.componentsPerSample) return `gone: more than ${LIMITS.componentsPerSample}`;
  for (const [i, c] of s.components.entries()) {
    const p = componentUsageProblem(c, `components[${i}]`);
    if (p) return p;
  }
  for (const [i, g] of s.gone.entries()) {
    const p = nameProblem(`gone[${i}]`, g, true);
    if (p) return p;
  }
  return null;
}

/** Field checks of an anomaly; who owns its container is checked against the cluster state elsewhere. */
export function anomalyProblem(a: AnomalyIn): string | null {
  if (!count(a.timeMs)) return "timeMs: not a non-negative integer";
  if (!ANOMALY_KINDS.has(a.kind)) return `kind: "${a.kind.slice(0, 40)}" is not a known anomaly kind`;
  if (!SEVERITIES.has(a.severity)) return `severity: "${a.severity.slice(0, 40)}" is not info, warning or critical`;
  const names = [
    nameProblem("node", a.node, false),
    nameProblem("containerName", a.containerName, false),
    nameProblem("jobId", a.jobId, false),
    nameProblem("componentId", a.componentId, false),
  ];
  const named = names.find((p) => p !== null);
  if (named) return named;
  if (a.message.length > LIMITS.messageChars) return `message: longer than ${LIMITS.messageChars} characters`;
  if (hasControl(a.message)) return "message: contains control characters";
  return null;
}
