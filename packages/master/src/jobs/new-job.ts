import { randomUUID } from "node:crypto";
import { isAbsolute, normalize } from "node:path";
import type { JobSpecOut } from "@maro/proto";
import { isDnsLabel } from "@maro/proto";
import { MaroError } from "../errors.js";
import type {
  ComponentRecord,
  ComponentSpecRecord,
  JobRecord,
  JobSpecRecord,
  RestartPolicyRecord,
} from "../state/records.js";

const MODES = new Set(["single-metric-balanced", "single-metric-compacted"]);
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
  const metric = spec.allocationMetric || "cpu";
  if (!MODES.has(mode)) problems.push(`allocation.mode: "${mode}" is not one of ${[...MODES].join(", ")}`);
  if (!METRICS.has(metric)) problems.push(`allocation.metric: "${metric}" is not one of cpu, memory, gpu`);
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
    };
  });
  if (
    spec.sourceDir &&
    (!isAbsolute(spec.sourceDir) || normalize(spec.sourceDir) !== spec.sourceDir || CONTROL.test(spec.sourceDir))
  )
    problems.push(`source_dir: ${JSON.stringify(spec.sourceDir)} must be an absolute, normalised path`);
  if (total > MAX_COMPONENTS) problems.push(`components: ${total} replicas in all; at most ${MAX_COMPONENTS}`);
  if (problems.length > 0) throw new MaroError("INVALID_ARGUMENT", `invalid job:\n${problems.join("\n")}`);
  return {
    name: spec.name,
    allocationMode: mode as JobSpecRecord["allocationMode"],
    allocationMetric: metric as JobSpecRecord["allocationMetric"],
    components,
    sourceDir: spec.sourceDir,
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
  };
}

/** MARO-style container name, unique per job run: `<cluster>-<job>-<type>-<index>-<job id prefix>`. */
export function containerName(cluster: string, job: JobRecord, component: ComponentRecord): string {
  return `${cluster}-${job.name}-${component.type}-${component.index}-${job.id.slice(0, 8)}`;
}
