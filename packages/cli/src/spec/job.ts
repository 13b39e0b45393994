// The job file (`maro grass job start`), with MARO's field names:
//
//   mode: grass/local        # optional
//   name: hello
//   priority: 0              # optional; higher runs first
//   allocation: {mode: single-metric-balanced, metric: cpu}
//   components:
//     learner: {...}         # see component.ts
//
// The result is the wire JobSpec: quantities in millicores and bytes.

import { dirname, resolve } from "node:path";
import type { ComponentSpec, JobSpec } from "@maro/proto";
import { z } from "zod";
import { componentSchema, componentType, MAX_REPLICAS_PER_COMPONENT, type ParsedComponent } from "./component.js";
import type { Runtime } from "./deployment.js";
import { describeValue, SpecError, type SpecIssue } from "./errors.js";
import { dnsLabel, FieldProblem, field, oneOf, wholeNumber } from "./fields.js";
import { parseWith } from "./issues.js";
import { loadAndValidate } from "./load-yaml.js";
import { suggest } from "./suggest.js";

export { MAX_REPLICAS_PER_COMPONENT, RESTART_POLICIES, SPREAD_ACROSS, type SpreadAcross } from "./component.js";

export const ALLOCATION_MODES = ["single-metric-balanced", "single-metric-compacted", "binpack", "spread"] as const;
/** Modes that weigh every resource, so `allocation.metric` means nothing to them. */
export const ALL_RESOURCE_MODES: readonly AllocationMode[] = ["binpack", "spread"];
export const ALLOCATION_METRICS = ["cpu", "memory", "gpu"] as const;
export type AllocationMode = (typeof ALLOCATION_MODES)[number];
export type AllocationMetric = (typeof ALLOCATION_METRICS)[number];
export const MAX_JOB_REPLICAS = 10_000;
export const MIN_PRIORITY = -(2 ** 31);
export const MAX_PRIORITY = 2 ** 31 - 1;

export interface ComponentResources {
  cpuMillis: number;
  memoryBytes: number;
  gpu: number;
}

/** A ComponentSpec with every field set. */
export interface ValidComponentSpec extends ComponentSpec {
  type: string;
  /** Empty when the file gives none (the process runtime ignores it). */
  image: string;
  resources: ComponentResources;
  num: number;
  /** Empty for no mount. */
  mountTarget: string;
  /** argv; with `shell`, a single string for `sh -c`. Empty: the image's default command. */
  command: string[];
  shell: boolean;
  /** Node labels a replica's node must carry; empty for any node. */
  constraints: Record<string, string>;
  /** "node": no two replicas on one node; empty for no rule. */
  spreadAcross: "" | "node";
}

/** A JobSpec with every field set. */
export interface ValidJobSpec extends JobSpec {
  name: string;
  allocationMode: AllocationMode;
  /** Empty for binpack and spread, which weigh every resource. */
  allocationMetric: AllocationMetric | "";
  components: ValidComponentSpec[];
  /** Absolute directory of the job file; empty when validated without a file. */
  sourceDir: string;
  /** Higher runs first; 0 by default. */
  priority: number;
}

export interface JobOptions {
  /** The cluster's runtime: docker needs an image per component, process a command. */
  runtime: Runtime;
  /** Absolute directory the job file is in; loadJob sets it. */
  sourceDir?: string;
}

const JOB_MODES = ["grass/local", "grass/azure", "grass/on-premises"];

const jobMode = field((value): string | undefined => {
  if (value === undefined) return undefined;
  if (typeof value === "string" && JOB_MODES.includes(value)) return value;
  if (value === "k8s/aks") {
    throw new FieldProblem("k8s/aks jobs run with `maro k8s job start`; use grass/local, or leave mode out");
  }
  const near = typeof value === "string" ? suggest(value, JOB_MODES) : undefined;
  const fix = near === undefined || near === "grass/local" ? "grass/local" : `${near} or grass/local`;
  throw new FieldProblem(`${describeValue(value)} is not a grass mode; use ${fix}, or leave mode out`);
});

const metricOrDefault = oneOf("allocation metric", ALLOCATION_METRICS, "cpu");

/** The metric, or undefined when the file gives none (so binpack can tell). */
const optionalMetric = z
  .unknown()
  .transform((value, ctx): AllocationMetric | undefined => {
    if (value === undefined) return undefined;
    const result = metricOrDefault.safeParse(value);
    if (result.success) return result.data;
    for (const issue of result.error.issues) ctx.issues.push({ code: "custom", message: issue.message, input: value });
    return z.NEVER;
  })
  .prefault(undefined);

/**
 * `allocation`: the single-metric modes use `metric` (cpu by default);
 * binpack and spread weigh every resource, so a metric given with them is
 * refused rather than silently ignored.
 */
const allocation = z
  .strictObject({
    mode: oneOf("allocation mode", ALLOCATION_MODES, "single-metric-balanced"),
    metric: optionalMetric,
  })
  .prefault({})
  .transform((value, ctx): { mode: AllocationMode; metric: AllocationMetric | "" } => {
    const allResources = ALL_RESOURCE_MODES.includes(value.mode);
    if (allResources && value.metric !== undefined) {
      ctx.issues.push({
        code: "custom",
        message: `${value.mode} weighs cpu, memory and gpu together and takes no metric; remove metric, or use single-metric-balanced or single-metric-compacted`,
        input: value.metric,
        path: ["metric"],
      });
      return z.NEVER;
    }
    return { mode: value.mode, metric: allResources ? "" : (value.metric ?? "cpu") };
  });

/** Fields a job file and a schedule file share: everything but the names. */
export function sharedJobFields(runtime: Runtime) {
  return {
    mode: jobMode,
    priority: wholeNumber(MIN_PRIORITY, MAX_PRIORITY, 0),
    allocation,
    components: z
      .record(componentType, componentSchema(runtime), {
        error: (issue) =>
          issue.code === "invalid_type" && issue.input === undefined
            ? "required; a mapping of component type (learner, actor, …) to its settings"
            : undefined,
      })
      .check((payload) => {
        if (Object.keys(payload.value).length === 0) {
          payload.issues.push({
            code: "custom",
            message: "is empty; add at least one component such as learner",
            input: payload.value,
          });
        }
      }),
  };
}

function jobSchema(runtime: Runtime) {
  return z.strictObject({ name: dnsLabel("job name", "my-job"), ...sharedJobFields(runtime) });
}

const schemas = { docker: jobSchema("docker"), process: jobSchema("process") };

export function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** The job-wide replica cap, counted on the raw document so it shows up alongside the rest. */
export function replicaIssues(doc: Record<string, unknown>): SpecIssue[] {
  if (!isRecord(doc.components)) return [];
  let total = 0;
  for (const component of Object.values(doc.components)) {
    const num = isRecord(component) ? component.num : undefined;
    if (num === undefined) total += 1;
    else if (typeof num === "number" && Number.isInteger(num) && num >= 1 && num <= MAX_REPLICAS_PER_COMPONENT) {
      total += num;
    }
  }
  if (total <= MAX_JOB_REPLICAS) return [];
  return [
    {
      path: "components",
      message: `the components add up to ${total} replicas (the sum of num); the most a job may have is ${MAX_JOB_REPLICAS}`,
    },
  ];
}

/** Parsed components → wire ComponentSpecs. */
export function toComponentSpecs(components: Record<string, ParsedComponent>): ValidComponentSpec[] {
  return Object.entries(components).map(([type, component]) => ({
    type,
    image: component.image ?? "",
    resources: {
      cpuMillis: component.resources.cpu,
      memoryBytes: component.resources.memory,
      gpu: component.resources.gpu,
    },
    num: component.num,
    mountTarget: component.mount?.target ?? "",
    command: component.command.argv,
    shell: component.command.shell,
    restart: component.restart
      ? { policy: component.restart.policy, max: component.restart.max, backoffMs: component.restart.backoff }
      : { policy: "never", max: 0, backoffMs: 0 },
    constraints: component.constraints,
    spreadAcross: component.spread_across,
  }));
}

/** Validates a parsed job document for a cluster's runtime. Throws SpecError listing every problem. */
export function validateJob(doc: unknown, options: JobOptions): ValidJobSpec {
  if (!isRecord(doc)) {
    throw new SpecError([
      { path: "", message: `expected a mapping of fields (name, components, …) at the top, got ${describeValue(doc)}` },
    ]);
  }
  const parsed = parseWith(schemas[options.runtime], doc);
  const issues = [...(parsed.ok ? [] : parsed.issues), ...replicaIssues(doc)];
  if (!parsed.ok || issues.length > 0) throw new SpecError(issues);
  return toJobSpec(parsed.data, options.sourceDir ?? "");
}

/** The fields a job file and a schedule file share, parsed → a wire JobSpec. */
export function toJobSpec(
  data: {
    name: string;
    allocation: { mode: AllocationMode; metric: AllocationMetric | "" };
    components: Record<string, ParsedComponent>;
    priority: number;
  },
  sourceDir: string,
): ValidJobSpec {
  return {
    name: data.name,
    allocationMode: data.allocation.mode,
    allocationMetric: data.allocation.metric,
    components: toComponentSpecs(data.components),
    sourceDir,
    priority: data.priority,
  };
}

/** Reads and validates a job file; sourceDir is the file's absolute directory. Throws SpecError with positions. */
export function loadJob(path: string, options: { runtime: Runtime }): ValidJobSpec {
  return loadAndValidate(path, (doc) =>
    validateJob(doc, { runtime: options.runtime, sourceDir: dirname(resolve(path)) }),
  );
}
