// The job file (`maro grass job start`), with MARO's field names:
//
//   mode: grass/local        # optional
//   name: hello
//   allocation: {mode: single-metric-balanced, metric: cpu}
//   components:
//     learner:
//       image: maro/busybox:test
//       resources: {cpu: 1, memory: 256m, gpu: 0}
//       num: 1
//       mount: {target: /mnt/data}
//       command: "echo hello"  # a string runs under sh -c; a list runs as argv
//
// The result is the wire JobSpec: quantities in millicores and bytes.

import { dirname, resolve } from "node:path";
import type { ComponentSpec, JobSpec } from "@maro/proto";
import { isDnsLabel } from "@maro/proto";
import { z } from "zod";
import type { Runtime } from "./deployment.js";
import { describeValue, SpecError, type SpecIssue } from "./errors.js";
import { cpu, dnsLabel, dnsLabelProblem, FieldProblem, field, gpu, memory, oneOf, wholeNumber } from "./fields.js";
import { parseWith } from "./issues.js";
import { loadYamlFile, locateIssues } from "./load-yaml.js";
import { suggest } from "./suggest.js";

export const ALLOCATION_MODES = ["single-metric-balanced", "single-metric-compacted"] as const;
export const ALLOCATION_METRICS = ["cpu", "memory", "gpu"] as const;
export type AllocationMode = (typeof ALLOCATION_MODES)[number];
export type AllocationMetric = (typeof ALLOCATION_METRICS)[number];
export const MAX_REPLICAS_PER_COMPONENT = 1000;
export const MAX_JOB_REPLICAS = 10_000;

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
}

/** A JobSpec with every field set. */
export interface ValidJobSpec extends JobSpec {
  name: string;
  allocationMode: AllocationMode;
  allocationMetric: AllocationMetric;
  components: ValidComponentSpec[];
  /** Absolute directory of the job file; empty when validated without a file. */
  sourceDir: string;
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

/** An absolute path inside the component, without `..`. */
const mountTarget = field((value): string => {
  if (value === undefined) throw new FieldProblem("required; an absolute path such as /mnt/data");
  if (typeof value !== "string") {
    throw new FieldProblem(`expected an absolute path such as /mnt/data, got ${describeValue(value)}`);
  }
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  if (!value.startsWith("/") || /[\u0000-\u001f\u007f]/.test(value) || value.length > 4096) {
    throw new FieldProblem(`${describeValue(value)} is not an absolute path; use one such as /mnt/data`);
  }
  if (value.split("/").includes("..")) {
    throw new FieldProblem(`${describeValue(value)} contains '..'; use an absolute path such as /mnt/data`);
  }
  if (/^\/+$/.test(value)) throw new FieldProblem(`cannot be /; use a directory such as /mnt/data`);
  if (value.includes(":")) throw new FieldProblem(`${describeValue(value)} contains ':'; use a path such as /mnt/data`);
  return value;
});

function image(required: boolean) {
  return field((value): string | undefined => {
    if (value === undefined) {
      if (!required) return undefined;
      throw new FieldProblem("required by the docker runtime; an image such as maro/busybox:test");
    }
    if (typeof value !== "string") {
      throw new FieldProblem(`expected an image such as maro/busybox:test, got ${describeValue(value)}`);
    }
    if (!/^[A-Za-z0-9][A-Za-z0-9._\-/:@+]{0,511}$/.test(value)) {
      throw new FieldProblem(`${describeValue(value)} is not an image reference; use one such as maro/busybox:test`);
    }
    return value;
  });
}

interface Command {
  argv: string[];
  shell: boolean;
}

const COMMAND_HINT = 'a string such as "python train.py" (run by sh -c) or a list such as [python, train.py]';

function hasNul(value: string): boolean {
  return value.includes("\u0000");
}

function command(required: boolean) {
  return field((value): Command => {
    if (value === undefined) {
      if (!required) return { argv: [], shell: false };
      throw new FieldProblem(`required by the process runtime; ${COMMAND_HINT}`);
    }
    if (typeof value === "string") {
      if (value.trim() === "") throw new FieldProblem(`is empty; use ${COMMAND_HINT}`);
      if (hasNul(value)) throw new FieldProblem("contains a NUL character");
      return { argv: [value], shell: true };
    }
    if (!Array.isArray(value)) throw new FieldProblem(`expected ${COMMAND_HINT}, got ${describeValue(value)}`);
    if (value.length === 0) throw new FieldProblem(`is an empty list; use ${COMMAND_HINT}`);
    const argv: string[] = [];
    for (const [index, arg] of value.entries()) {
      if (typeof arg !== "string") {
        const quote = typeof arg === "number" || typeof arg === "boolean" ? `; quote it: "${String(arg)}"` : "";
        throw new FieldProblem(`expected a string, got ${describeValue(arg)}${quote}`, [index]);
      }
      if (hasNul(arg)) throw new FieldProblem("contains a NUL character", [index]);
      argv.push(arg);
    }
    if (argv[0] === "") throw new FieldProblem("the program name is empty", [0]);
    return { argv, shell: false };
  });
}

const componentType = z.string().transform((value, ctx) => {
  if (!isDnsLabel(value)) {
    ctx.issues.push({ code: "custom", message: dnsLabelProblem(value, "component type"), input: value });
    return z.NEVER;
  }
  return value;
});

const RESOURCES_HINT = "required; e.g. {cpu: 1, memory: 256m, gpu: 0}";

export const RESTART_POLICIES = ["never", "on-failure", "always"] as const;

/** A backoff such as 500ms, 2s or 1m (a bare number is seconds); at most one hour. */
const backoff = field((value): number => {
  if (value === undefined) return 1000;
  const text = typeof value === "number" ? `${value}s` : value;
  const m = typeof text === "string" ? /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(text.trim()) : null;
  const ms = m ? Number(m[1]) * { ms: 1, s: 1000, m: 60_000 }[m[2] as "ms" | "s" | "m"] : Number.NaN;
  if (!Number.isFinite(ms) || ms > 3_600_000)
    throw new FieldProblem(`${describeValue(value)} is not a backoff; use e.g. 500ms, 2s or 1m (at most 1 hour)`);
  return Math.round(ms);
});

const restart = z
  .strictObject({
    policy: oneOf("restart policy", RESTART_POLICIES, "never"),
    max: wholeNumber(0, 1000, 3),
    backoff,
  })
  .optional();

function componentSchema(runtime: Runtime) {
  return z.strictObject({
    image: image(runtime === "docker"),
    resources: z.strictObject(
      { cpu: cpu(), memory: memory(), gpu: gpu({ fallback: 0 }) },
      { error: (issue) => (issue.code === "invalid_type" && issue.input === undefined ? RESOURCES_HINT : undefined) },
    ),
    num: wholeNumber(1, MAX_REPLICAS_PER_COMPONENT, 1),
    mount: z.strictObject({ target: mountTarget }).optional(),
    command: command(runtime === "process"),
    restart,
  });
}

function jobSchema(runtime: Runtime) {
  return z.strictObject({
    mode: jobMode,
    name: dnsLabel("job name", "my-job"),
    allocation: z
      .strictObject({
        mode: oneOf("allocation mode", ALLOCATION_MODES, "single-metric-balanced"),
        metric: oneOf("allocation metric", ALLOCATION_METRICS, "cpu"),
      })
      .prefault({}),
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
  });
}

const schemas = { docker: jobSchema("docker"), process: jobSchema("process") };

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** The job-wide replica cap, counted on the raw document so it shows up alongside the rest. */
function replicaIssues(doc: Record<string, unknown>): SpecIssue[] {
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
  const { data } = parsed;
  return {
    name: data.name,
    allocationMode: data.allocation.mode,
    allocationMetric: data.allocation.metric,
    components: Object.entries(data.components).map(([type, component]) => ({
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
    })),
    sourceDir: options.sourceDir ?? "",
  };
}

/** Reads and validates a job file; sourceDir is the file's absolute directory. Throws SpecError with positions. */
export function loadJob(path: string, options: { runtime: Runtime }): ValidJobSpec {
  const loaded = loadYamlFile(path);
  try {
    return validateJob(loaded.value, { runtime: options.runtime, sourceDir: dirname(resolve(path)) });
  } catch (error) {
    if (error instanceof SpecError) throw locateIssues(error, loaded);
    throw error;
  }
}
