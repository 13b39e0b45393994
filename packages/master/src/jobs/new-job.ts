import { randomUUID } from "node:crypto";
import { isAbsolute, normalize } from "node:path";
import type { JobSpecOut } from "@maro/proto";
import { isDnsLabel, isLabelKey, isLabelValue, LABEL_KEY_RULE, LABEL_VALUE_RULE, MAX_LABELS } from "@maro/proto";
import { MaroError } from "../errors.js";
import type {
  ComponentRecord,
  ComponentSpecRecord,
  JobRecord,
  JobSpecRecord,
  RestartPolicyRecord,
} from "../state/records.js";

const MODES = new Set(["single-metric-balanced", "single-metric-compacted", "binpack", "spread"]);
const METRICS = new Set(["cpu", "memory", "gpu"]);
export const MAX_COMPONENTS = 10_000;
/** One million cores and 1024 GPUs per component: past any real node, short of float trouble. */
const MAX_CPU_MILLIS = 1_000_000_000;
const MAX_GPUS = 1024;
const POLICIES = new Set(["never", "on-failure", "always"]);
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what is refused
const CONTROL = /[\u0000-\u001f\u007f]/;

function wholeIn(n: number, min: number, max: number): boolean {
  return Number.isSafeInteger(n) && n >= min && n <= max;
}

/** Absolute, not "/", no "..", no ":" (Docker's bind syntax), no control characters. */
function safeMountTarget(t: string): boolean {
  return t.startsWith("/") && t !== "/" && !t.split("/").includes("..") && !t.includes(":") && !CONTROL.test(t);
}
const MAX_COMMAND_BYTES = 64 * 1024;
const MIN_PRIORITY = -(2 ** 31);
const MAX_PRIORITY = 2 ** 31 - 1;
/** Problems listed in one error; a hostile spec could otherwise make a message of megabytes. */
const MAX_PROBLEMS = 50;

function shown(text: string): string {
  return JSON.stringify(text.length > 70 ? `${text.slice(0, 70)}…` : text);
}

/** Node labels a replica's node must carry: at most MAX_LABELS, keys and values by the label rule. */
function validConstraints(at: string, raw: unknown, problems: string[]): Record<string, string> {
  if (raw === undefined || raw === null) return {};
  if (typeof raw !== "object" || Array.isArray(raw)) {
    problems.push(`${at}.constraints: must be a mapping of node label to value`);
    return {};
  }
  // Count before building entries: a hostile map of many keys costs one pass.
  const count = Object.keys(raw).length;
  if (count > MAX_LABELS) {
    problems.push(`${at}.constraints: ${count} constraints; at most ${MAX_LABELS}`);
    return {};
  }
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(raw)) {
    if (!isLabelKey(key)) problems.push(`${at}.constraints: ${shown(key)} is not a label key (${LABEL_KEY_RULE})`);
    else if (typeof value !== "string" || !isLabelValue(value))
      problems.push(
        `${at}.constraints.${key}: ${typeof value === "string" ? shown(value) : typeof value} is not a label value (${LABEL_VALUE_RULE})`,
      );
    else out[key] = value;
  }
  return out;
}

/**
 * Validates a JobSpec from the wire (the CLI validated it too, but the master
 * trusts nothing) and reports every problem at once.
 */
export function validateJobSpec(spec: JobSpecOut | null | undefined): JobSpecRecord {
  const problems: string[] = [];
  if (!spec) throw new MaroError("INVALID_ARGUMENT", "spec: required");
  if (!isDnsLabel(spec.name))
    problems.push(`name: ${JSON.stringify(spec.name)} is not a DNS label (a-z, 0-9, '-', ≤63)`);
  const mode = spec.allocationMode || "single-metric-balanced";
  // binpack and spread ignore the metric; the wire cannot tell a default from a choice.
  const metric = spec.allocationMetric || "cpu";
  if (!MODES.has(mode)) problems.push(`allocation.mode: ${shown(mode)} is not one of ${[...MODES].join(", ")}`);
  if (!METRICS.has(metric)) problems.push(`allocation.metric: ${shown(metric)} is not one of cpu, memory, gpu`);
  const priority = spec.priority ?? 0;
  if (!wholeIn(priority, MIN_PRIORITY, MAX_PRIORITY))
    problems.push(`priority: must be a whole number from ${MIN_PRIORITY} to ${MAX_PRIORITY}`);
  if (spec.components.length === 0) problems.push("components: at least one component is required");
  const seen = new Set<string>();
  let total = 0;
  const components: ComponentSpecRecord[] = spec.components.map((c) => {
    const at = `components.${isDnsLabel(c.type) ? c.type : JSON.stringify(c.type)}`;
    if (!isDnsLabel(c.type)) problems.push(`${at}: type ${JSON.stringify(c.type)} is not a DNS label`);
    if (seen.has(c.type)) problems.push(`${at}: duplicate component type`);
    seen.add(c.type);
    const r = c.resources ?? { cpuMillis: 0, memoryBytes: 0, gpu: 0 };
    if (!wholeIn(r.cpuMillis, 1, MAX_CPU_MILLIS))
      problems.push(`${at}.resources.cpu: must be from 1m to ${MAX_CPU_MILLIS / 1000} cores`);
    if (!wholeIn(r.memoryBytes, 1, Number.MAX_SAFE_INTEGER))
      problems.push(`${at}.resources.memory: must be more than 0 and at most ${Number.MAX_SAFE_INTEGER} bytes`);
    if (!wholeIn(r.gpu, 0, MAX_GPUS))
      problems.push(`${at}.resources.gpu: must be a whole number from 0 to ${MAX_GPUS}`);
    if (!wholeIn(c.num, 1, MAX_COMPONENTS))
      problems.push(`${at}.num: must be a whole number from 1 to ${MAX_COMPONENTS}`);
    total += Math.max(0, c.num);
    if (c.mountTarget && !safeMountTarget(c.mountTarget))
      problems.push(
        `${at}.mount.target: ${JSON.stringify(c.mountTarget)} must be an absolute path other than /, without '..', ':' or control characters`,
      );
    const restart = c.restart ?? { policy: "", max: 0, backoffMs: 0 };
    const policy = restart.policy || "never";
    if (!POLICIES.has(policy))
      problems.push(`${at}.restart.policy: ${JSON.stringify(policy)} is not never, on-failure or always`);
    if (!wholeIn(restart.max, 0, 1000)) problems.push(`${at}.restart.max: must be a whole number from 0 to 1000`);
    if (!wholeIn(Number(restart.backoffMs), 0, 3_600_000))
      problems.push(`${at}.restart.backoff: must be from 0 to 1 hour`);
    if (c.shell && c.command.length !== 1) problems.push(`${at}.command: a shell command is exactly one string`);
    if (c.command.join(" ").length > MAX_COMMAND_BYTES) problems.push(`${at}.command: longer than 64 KiB`);
    const constraints = validConstraints(at, c.constraints, problems);
    const spreadAcross = c.spreadAcross ?? "";
    if (spreadAcross !== "" && spreadAcross !== "node")
      problems.push(`${at}.spread_across: ${shown(String(spreadAcross))} is not supported; use node or leave it empty`);
    return {
      restart: {
        policy: policy as RestartPolicyRecord["policy"],
        max: restart.max,
        backoffMs: Number(restart.backoffMs),
      },
      type: c.type,
      image: c.image,
      resources: { cpuMillis: r.cpuMillis, memoryBytes: r.memoryBytes, gpu: r.gpu },
      num: c.num,
      mountTarget: c.mountTarget,
      command: [...c.command],
      shell: c.shell,
      constraints,
      spreadAcross: spreadAcross === "node" ? "node" : "",
    };
  });
  if (
    spec.sourceDir &&
    (!isAbsolute(spec.sourceDir) || normalize(spec.sourceDir) !== spec.sourceDir || CONTROL.test(spec.sourceDir))
  )
    problems.push(`source_dir: ${JSON.stringify(spec.sourceDir)} must be an absolute, normalised path`);
  if (total > MAX_COMPONENTS) problems.push(`components: ${total} replicas in all; at most ${MAX_COMPONENTS}`);
  if (problems.length > 0) {
    const more = problems.length > MAX_PROBLEMS ? [`… and ${problems.length - MAX_PROBLEMS} more problems`] : [];
    throw new MaroError(
      "INVALID_ARGUMENT",
      `invalid job:\n${[...problems.slice(0, MAX_PROBLEMS), ...more].join("\n")}`,
    );
  }
  return {
    name: spec.name,
    allocationMode: mode as JobSpecRecord["allocationMode"],
    allocationMetric: metric as JobSpecRecord["allocationMetric"],
    components,
    sourceDir: spec.sourceDir,
    priority,
    // Set by the master when a schedule starts the job, never taken from the wire.
    schedule: "",
  };
}

/** Expands a validated spec into a pending job with one record per replica. */
export function newJob(spec: JobSpecRecord, nowMs: number): JobRecord {
  const id = randomUUID();
  const components: ComponentRecord[] = [];
  for (const c of spec.components) {
    for (let index = 0; index < c.num; index++) {
      components.push({
        id: `${c.type}-${index}`,
        type: c.type,
        index,
        resources: { ...c.resources },
        state: "pending",
        nodeId: "",
        containerName: "",
        gpuIndices: [],
        exitCode: null,
        oomKilled: false,
        message: "",
        outputTail: "",
        startedAtMs: 0,
        finishedAtMs: 0,
        restarts: 0,
        address: "",
      });
    }
  }
  return {
    id,
    name: spec.name,
    state: "pending",
    reason: "waiting for the scheduler",
    spec,
    components,
    stopRequested: false,
    submittedAtMs: nowMs,
    scheduledAtMs: 0,
    finishedAtMs: 0,
    attempt: 0,
    retired: [],
    explanation: null,
  };
}

/**
 * MARO-style container name, unique per job run and placement:
 * `<cluster>-<job>-<type>-<index>-<job id prefix>`, plus `-a<attempt>` once the
 * job was placed again, so a stale container on a returning node never
 * passes for the new one.
 */
export function containerName(cluster: string, job: JobRecord, component: ComponentRecord): string {
  const base = `${cluster}-${job.name}-${component.type}-${component.index}-${job.id.slice(0, 8)}`;
  return job.attempt > 0 ? `${base}-a${job.attempt}` : base;
}
