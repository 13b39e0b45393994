// One component of a job or schedule file (`components.<type>`), with MARO's
// field names plus placement rules MARO lacked:
//
//   learner:
//     image: maro/busybox:test
//     resources: {cpu: 1, memory: 256m, gpu: 0}
//     num: 2
//     mount: {target: /mnt/data}
//     command: "python learner.py"     # a string runs under sh -c; a list runs as argv
//     restart: {policy: on-failure, max: 3, backoff: 1s}
//     constraints: {gpu_model: A100}   # node labels a replica's node must carry
//     spread_across: node              # no two replicas on one node

import { isDnsLabel, isLabelKey, isLabelValue, LABEL_KEY_RULE, LABEL_VALUE_RULE, MAX_LABELS } from "@maro/proto";
import { z } from "zod";
import type { Runtime } from "./deployment.js";
import { describeValue } from "./errors.js";
import { cpu, dnsLabelProblem, FieldProblem, field, gpu, memory, oneOf, wholeNumber } from "./fields.js";

export const MAX_REPLICAS_PER_COMPONENT = 1000;
export const SPREAD_ACROSS = ["node"] as const;
export type SpreadAcross = (typeof SPREAD_ACROSS)[number];

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

export interface Command {
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

export const componentType = z.string().transform((value, ctx) => {
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

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function shown(text: string): string {
  return JSON.stringify(text.length > 70 ? `${text.slice(0, 70)}…` : text);
}

const CONSTRAINTS_HINT = "a mapping of node label to value such as {gpu_model: A100, zone: eu-1}";

/**
 * Node labels a replica's node must carry, each problem at its own key
 * (`components.learner.constraints.zone`). Values are strings: a YAML number
 * or boolean gets "quote it" rather than a silent conversion.
 */
const constraints = z
  .unknown()
  .transform((value, ctx): Record<string, string> => {
    if (value === undefined || value === null) return {};
    if (!isRecord(value)) {
      ctx.issues.push({
        code: "custom",
        message: `expected ${CONSTRAINTS_HINT}, got ${describeValue(value)}`,
        input: value,
      });
      return z.NEVER;
    }
    const entries = Object.entries(value);
    if (entries.length > MAX_LABELS) {
      ctx.issues.push({
        code: "custom",
        message: `has ${entries.length} constraints; at most ${MAX_LABELS} are allowed`,
        input: value,
      });
      return z.NEVER;
    }
    const out: Record<string, string> = {};
    let ok = true;
    for (const [key, raw] of entries) {
      const problem = (message: string) => {
        ctx.issues.push({ code: "custom", message, input: raw, path: [key] });
        ok = false;
      };
      if (!isLabelKey(key)) {
        problem(`${shown(key)} is not a valid label key (${LABEL_KEY_RULE})`);
        continue;
      }
      if (typeof raw === "number" || typeof raw === "boolean") {
        problem(`expected a label value, got ${describeValue(raw)}; quote it: "${String(raw)}"`);
      } else if (typeof raw !== "string") {
        problem(`expected a label value such as A100, got ${describeValue(raw)}`);
      } else if (raw === "") {
        problem(`is empty; a label value is ${LABEL_VALUE_RULE}`);
      } else if (!isLabelValue(raw)) {
        problem(`${shown(raw)} is not a valid label value (${LABEL_VALUE_RULE})`);
      } else {
        out[key] = raw;
      }
    }
    return ok ? out : z.NEVER;
  })
  .prefault(undefined);

const spreadAcross = field((value): SpreadAcross | "" => {
  if (value === undefined || value === null) return "";
  if (value === "node") return value;
  throw new FieldProblem(
    `${describeValue(value)} is not supported; the only choice is node (no two replicas of the component on one node), or leave spread_across out`,
  );
});

/** The settings of one component type, for a cluster's runtime. */
export function componentSchema(runtime: Runtime) {
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
    constraints,
    spread_across: spreadAcross,
  });
}

export type ParsedComponent = z.output<ReturnType<typeof componentSchema>>;
