// Leaf fields shared by the deployment and job schemas. Each leaf is a plain
// parse function wrapped as a zod schema; it sees `undefined` when the key is
// absent, so it owns its default and its "required" message.

import { isDnsLabel, parseCpu, parseMemory, UnitError } from "@maro/proto";
import { z } from "zod";
import { describeValue } from "./errors.js";
import { suggest } from "./suggest.js";

/** A problem with one field; `at` continues the path below the field (a list index). */
export class FieldProblem extends Error {
  constructor(
    message: string,
    readonly at: readonly (string | number)[] = [],
  ) {
    super(message);
    this.name = "FieldProblem";
  }
}

/** Wraps a parse function as a zod schema whose failures become issues at the field's path. */
export function field<T>(parse: (value: unknown) => T) {
  return z
    .unknown()
    .transform((value, ctx): T => {
      try {
        return parse(value);
      } catch (error) {
        if (error instanceof FieldProblem || error instanceof UnitError) {
          const at = error instanceof FieldProblem ? [...error.at] : [];
          ctx.issues.push({ code: "custom", message: error.message, input: value, path: at });
          return z.NEVER;
        }
        throw error;
      }
    })
    .prefault(undefined);
}

/** Below this a memory size is surely a unit mistake ("256" is 256 bytes, not 256m). */
const MIN_MEMORY_BYTES = 1024 * 1024;

export function dnsLabelProblem(value: string, what: string): string {
  const fixed = value
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/^-+/, "")
    .slice(0, 63)
    .replace(/-+$/, "");
  const hint = fixed !== "" && fixed !== value ? `; did you mean "${fixed}"?` : "";
  const rule = "lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters";
  return `${JSON.stringify(value.length > 70 ? `${value.slice(0, 70)}…` : value)} is not a valid ${what} (${rule})${hint}`;
}

/** A required RFC 1123 label such as a cluster, job or node name. */
export function dnsLabel(what: string, example: string) {
  return field((value): string => {
    if (value === undefined) throw new FieldProblem(`required; a ${what} such as ${example}`);
    if (typeof value !== "string") {
      throw new FieldProblem(`expected a ${what} such as ${example}, got ${describeValue(value)}`);
    }
    if (!isDnsLabel(value)) throw new FieldProblem(dnsLabelProblem(value, what));
    return value;
  });
}

function listOf(values: readonly string[]): string {
  if (values.length <= 1) return values.join("");
  return `${values.slice(0, -1).join(", ")} or ${values.at(-1) ?? ""}`;
}

/** One of a fixed set of strings; `fallback` when absent, else required. */
export function oneOf<const V extends string>(what: string, values: readonly V[], fallback?: V) {
  return field((value): V => {
    if (value === undefined) {
      if (fallback !== undefined) return fallback;
      throw new FieldProblem(`required; use ${listOf(values)}`);
    }
    const found = values.find((v) => v === value);
    if (found !== undefined) return found;
    if (typeof value !== "string") {
      throw new FieldProblem(`expected ${listOf(values)}, got ${describeValue(value)}`);
    }
    const near = suggest(value, values);
    const hint = near === undefined ? "" : ` (did you mean ${near}?)`;
    throw new FieldProblem(`${describeValue(value)} is not a valid ${what}; use ${listOf(values)}${hint}`);
  });
}

/** A whole number in [min, max]; `fallback` when absent, else required. */
export function wholeNumber(min: number, max: number, fallback?: number) {
  return field((value): number => {
    if (value === undefined) {
      if (fallback !== undefined) return fallback;
      throw new FieldProblem(`required; a whole number from ${min} to ${max}`);
    }
    if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
      throw new FieldProblem(`expected a whole number from ${min} to ${max}, got ${describeValue(value)}`);
    }
    return value;
  });
}

/** A TCP port; 0 (the default) asks for any free port. */
export function port() {
  return wholeNumber(0, 65535, 0);
}

function quantity(value: unknown, what: string, example: string): string | number {
  if (typeof value === "string" || typeof value === "number") return value;
  throw new FieldProblem(`expected ${what} such as ${example}, got ${describeValue(value)}`);
}

/** Millicores from a cpu amount; must be positive. `"all"` only where `allowAll`. */
export function cpu(options: { allowAll: true }): ReturnType<typeof field<number | "all">>;
export function cpu(options?: { allowAll?: false }): ReturnType<typeof field<number>>;
export function cpu(options: { allowAll?: boolean } = {}) {
  return field((value): number | "all" => {
    if (value === undefined) {
      if (options.allowAll) return "all";
      throw new FieldProblem("required; a cpu amount such as 1, 0.5 or 500m");
    }
    if (options.allowAll && value === "all") return "all";
    const millis = parseCpu(quantity(value, "a cpu amount", options.allowAll ? "all, 2 or 500m" : "1, 0.5 or 500m"));
    if (millis <= 0) throw new FieldProblem(`must be more than 0; use 1, 0.5 or 500m`);
    return millis;
  });
}

/** Bytes from a memory size; at least 1 MiB. `"all"` only where `allowAll`. */
export function memory(options: { allowAll: true }): ReturnType<typeof field<number | "all">>;
export function memory(options?: { allowAll?: false }): ReturnType<typeof field<number>>;
export function memory(options: { allowAll?: boolean } = {}) {
  return field((value): number | "all" => {
    if (value === undefined) {
      if (options.allowAll) return "all";
      throw new FieldProblem("required; a memory size such as 2048m or 2Gi");
    }
    if (options.allowAll && value === "all") return "all";
    const size = quantity(value, "a memory size", options.allowAll ? "all, 2048m or 2Gi" : "2048m or 2Gi");
    const bytes = parseMemory(size);
    if (bytes === 0) throw new FieldProblem("must be more than 0; use 2048m or 2Gi");
    if (bytes < MIN_MEMORY_BYTES) {
      const bare = String(size).trim();
      const unit = /^[\d.]+$/.test(bare) ? `; write ${bare}m for ${bare} MiB` : "";
      throw new FieldProblem(`${describeValue(value)} is less than 1 MiB, too little to run anything${unit}`);
    }
    return bytes;
  });
}

/** A GPU count; `fallback` when absent. `"all"` only where `allowAll`. */
export function gpu(options: { allowAll: true }): ReturnType<typeof field<number | "all">>;
export function gpu(options: { allowAll?: false; fallback: number }): ReturnType<typeof field<number>>;
export function gpu(options: { allowAll?: boolean; fallback?: number }) {
  return field((value): number | "all" => {
    if (value === undefined) return options.allowAll ? "all" : (options.fallback ?? 0);
    if (options.allowAll && value === "all") return "all";
    if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > 1024) {
      const all = options.allowAll ? "all or " : "";
      throw new FieldProblem(`expected ${all}a whole number of GPUs from 0 to 1024, got ${describeValue(value)}`);
    }
    return value;
  });
}
