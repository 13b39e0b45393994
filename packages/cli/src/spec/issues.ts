// Turns zod's issues into SpecIssues with our wording. Leaf fields word their
// own problems (fields.ts); this covers what zod itself reports: missing or
// mistyped sections, unknown fields, empty or oversized lists.

import { z } from "zod";
import { describeValue, formatPath, type SpecIssue } from "./errors.js";
import { suggest } from "./suggest.js";

type RawIssue = z.core.$ZodRawIssue;

function expectedName(expected: string): string {
  if (expected === "object" || expected === "record") return "a mapping";
  if (expected === "array") return "a list";
  return `a ${expected}`;
}

export function unknownFieldMessage(key: string, known: readonly string[]): string {
  const near = suggest(key, known);
  const shown = JSON.stringify(key.length > 40 ? `${key.slice(0, 40)}…` : key).slice(1, -1);
  if (near !== undefined) return `unknown field '${shown}'; did you mean '${near}'?`;
  return `unknown field '${shown}'; known fields: ${known.join(", ")}`;
}

/**
 * The error map passed to every parse. For unknown keys it returns a JSON list
 * of per-key messages (zod raises one issue for all of an object's unknown keys,
 * and only here is the object's shape at hand); `toSpecIssues` splits it again.
 */
export function errorMap(issue: RawIssue): string | undefined {
  switch (issue.code) {
    case "invalid_type":
      if (issue.input === undefined) return `required; ${expectedName(issue.expected)}`;
      return `expected ${expectedName(issue.expected)}, got ${describeValue(issue.input)}`;
    case "unrecognized_keys": {
      const known = issue.inst instanceof z.ZodObject ? Object.keys(issue.inst.shape) : [];
      return JSON.stringify(issue.keys.map((key) => unknownFieldMessage(key, known)));
    }
    case "invalid_key":
      return issue.issues[0]?.message;
    case "too_small":
      if (issue.origin === "array") return `needs at least ${issue.minimum} item${issue.minimum === 1 ? "" : "s"}`;
      return undefined;
    case "too_big":
      if (issue.origin === "array") return `has more than ${issue.maximum} items`;
      return undefined;
    default:
      return undefined;
  }
}

function unknownKeyMessages(message: string, count: number): string[] {
  try {
    const parsed: unknown = JSON.parse(message);
    if (Array.isArray(parsed) && parsed.length === count && parsed.every((m) => typeof m === "string")) return parsed;
  } catch {
    // not ours: fall through
  }
  return Array.from({ length: count }, () => message);
}

export function toSpecIssues(issues: readonly z.core.$ZodIssue[]): SpecIssue[] {
  const out: SpecIssue[] = [];
  for (const issue of issues) {
    if (issue.code === "unrecognized_keys") {
      const messages = unknownKeyMessages(issue.message, issue.keys.length);
      issue.keys.forEach((key, i) => {
        out.push({ path: formatPath([...issue.path, key]), message: messages[i] ?? "unknown field" });
      });
      continue;
    }
    out.push({ path: formatPath(issue.path), message: issue.message });
  }
  return out;
}

/** Parses with our wording; returns the data or the issues. */
export function parseWith<S extends z.ZodType>(
  schema: S,
  doc: unknown,
): { ok: true; data: z.output<S> } | { ok: false; issues: SpecIssue[] } {
  const result = schema.safeParse(doc, { error: errorMap });
  return result.success ? { ok: true, data: result.data } : { ok: false, issues: toSpecIssues(result.error.issues) };
}
