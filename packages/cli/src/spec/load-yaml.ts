// Reads a deployment or job file defensively: a size cap, a nesting cap, a cap
// on alias expansion (billion laughs), a mapping at the top, and YAML syntax
// errors reported with the file, line and column.

import { closeSync, openSync, readSync } from "node:fs";
import {
  type Document,
  isAlias,
  isMap,
  isNode,
  isScalar,
  isSeq,
  Lexer,
  LineCounter,
  type Node,
  type Pair,
  parseDocument,
} from "yaml";
import { describeValue, SpecError, type SpecIssue } from "./errors.js";

export const MAX_YAML_BYTES = 1024 * 1024;
/** Deployment and job files nest 5 levels; anything past this is hostile or a mistake. */
export const MAX_YAML_DEPTH = 32;
/** Passed to yaml's toJS: bounds how far aliases may multiply the document. */
export const MAX_YAML_ALIASES = 100;
/** Values in the parsed document, counting each alias expansion again. */
const MAX_YAML_VALUES = 100_000;
/** Syntax errors reported before giving up. */
const MAX_SYNTAX_ERRORS = 10;

export interface LoadedYaml {
  /** The file as the user named it. */
  file: string;
  /** The parsed document: a plain mapping. */
  value: Record<string, unknown>;
  /** Where a YAML path is in the file (the deepest part of it that exists). */
  locate(path: readonly (string | number)[]): { line: number; column: number } | undefined;
}

function fail(file: string, message: string, line?: number, column?: number): never {
  throw new SpecError([{ path: "", message, line, column }], file);
}

function errorCode(error: unknown): unknown {
  return error instanceof Error && "code" in error ? error.code : undefined;
}

/** Reads at most MAX_YAML_BYTES (+1 to notice more); works for pipes too. */
function readCapped(file: string): Buffer {
  let fd: number;
  try {
    fd = openSync(file, "r");
  } catch (error) {
    const code = errorCode(error);
    if (code === "ENOENT") fail(file, "no such file");
    if (code === "EACCES" || code === "EPERM") fail(file, "permission denied");
    throw error;
  }
  try {
    const buffer = Buffer.alloc(MAX_YAML_BYTES + 1);
    let total = 0;
    for (;;) {
      let bytesRead: number;
      try {
        bytesRead = readSync(fd, buffer, total, buffer.length - total, null);
      } catch (error) {
        if (errorCode(error) === "EISDIR") fail(file, "is a directory; expected a YAML file");
        throw error;
      }
      if (bytesRead === 0) break;
      total += bytesRead;
      if (total > MAX_YAML_BYTES) fail(file, "is larger than 1 MiB; deployment and job files are a few KiB");
    }
    return buffer.subarray(0, total);
  } finally {
    closeSync(fd);
  }
}

/** Reads and parses a YAML file whose top level must be a mapping. Throws SpecError. */
export function loadYamlFile(file: string): LoadedYaml {
  const bytes = readCapped(file);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    fail(file, "is not UTF-8 text; expected a YAML file");
  }
  return parseYaml(text, file);
}

/** Flow collections (`[[[…]]]`) nest without indentation and yaml's composer recurses on them: count first. */
function checkFlowDepth(text: string, file: string): void {
  let depth = 0;
  for (const token of new Lexer().lex(text)) {
    if (token === "[" || token === "{") {
      if (++depth > MAX_YAML_DEPTH) fail(file, `nesting is deeper than ${MAX_YAML_DEPTH} levels`);
    } else if (token === "]" || token === "}") {
      depth = Math.max(0, depth - 1);
    }
  }
}

/** Refuses values nested deeper than MAX_YAML_DEPTH (cyclic aliases too) or expanding past MAX_YAML_VALUES. */
function checkShape(value: unknown, file: string): void {
  let seen = 0;
  const visit = (node: unknown, depth: number): void => {
    if (++seen > MAX_YAML_VALUES) fail(file, `holds more than ${MAX_YAML_VALUES} values; is it an alias bomb?`);
    if (node === null || typeof node !== "object") return;
    if (depth >= MAX_YAML_DEPTH) fail(file, `nesting is deeper than ${MAX_YAML_DEPTH} levels`);
    for (const child of Array.isArray(node) ? node : Object.values(node)) visit(child, depth + 1);
  };
  visit(value, 0);
}

function isPlainMapping(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function cleanYamlMessage(message: string): string {
  if (message.includes("Maximum call stack size exceeded")) return `nesting is deeper than ${MAX_YAML_DEPTH} levels`;
  return message.replace(/ at line \d+, column \d+[\s\S]*$/, "");
}

/** Parses YAML text; `file` names it in errors. Throws SpecError. */
export function parseYaml(text: string, file: string): LoadedYaml {
  if (Buffer.byteLength(text, "utf8") > MAX_YAML_BYTES) {
    fail(file, "is larger than 1 MiB; deployment and job files are a few KiB");
  }
  checkFlowDepth(text, file);
  const lines = new LineCounter();
  const doc = parseDocument(text, {
    lineCounter: lines,
    prettyErrors: false,
    merge: true,
    stringKeys: true,
    uniqueKeys: true,
    resolveKnownTags: false,
    logLevel: "error",
  });
  if (doc.errors.length > 0) {
    const issues: SpecIssue[] = doc.errors.slice(0, MAX_SYNTAX_ERRORS).map((error) => {
      const { line, col } = lines.linePos(error.pos[0]);
      return { path: "", message: `YAML syntax: ${cleanYamlMessage(error.message)}`, line, column: col };
    });
    throw new SpecError(issues, file);
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: MAX_YAML_ALIASES });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (/alias/i.test(message)) fail(file, `aliases expand too much (over ${MAX_YAML_ALIASES}); is it an alias bomb?`);
    if (error instanceof RangeError) fail(file, `nesting is deeper than ${MAX_YAML_DEPTH} levels`);
    fail(file, `cannot be read as YAML: ${message}`);
  }
  checkShape(value, file);
  if (value === null || value === undefined) {
    fail(file, "is empty; expected a mapping of fields such as `name: demo`");
  }
  if (!isPlainMapping(value)) {
    fail(file, `expected a mapping of fields (name: value) at the top, got ${describeValue(value)}`);
  }
  return { file, value, locate: (path) => locate(doc, lines, path) };
}

function locate(
  doc: Document.Parsed,
  lines: LineCounter,
  path: readonly (string | number)[],
): { line: number; column: number } | undefined {
  let node: Node | null | undefined = doc.contents;
  let found: Node | null | undefined = node;
  for (const segment of path) {
    if (isAlias(node)) node = node.resolve(doc);
    if (isMap(node)) {
      const pair: Pair<unknown, unknown> | undefined = node.items.find(
        (item) => isScalar(item.key) && String(item.key.value) === String(segment),
      );
      if (pair === undefined) break;
      node = isNode(pair.value) ? pair.value : undefined;
      found = node ?? (isScalar(pair.key) ? pair.key : found);
    } else if (isSeq(node) && typeof segment === "number") {
      const item: unknown = node.items[segment];
      if (!isNode(item)) break;
      node = item;
      found = node;
    } else {
      break;
    }
  }
  const offset = found?.range?.[0];
  if (offset === undefined) return undefined;
  const { line, col } = lines.linePos(offset);
  return { line, column: col };
}

/** Adds file positions to a SpecError raised while validating `loaded`, sorted by position. */
export function locateIssues(error: SpecError, loaded: LoadedYaml): SpecError {
  const issues = error.issues.map((issue) => {
    if (issue.line !== undefined || issue.path === "") return issue;
    const where = loaded.locate(splitPath(issue.path));
    return where === undefined ? issue : { ...issue, line: where.line, column: where.column };
  });
  const ordered = issues
    .map((issue, index) => ({ issue, index }))
    .sort((a, b) => (a.issue.line ?? Infinity) - (b.issue.line ?? Infinity) || a.index - b.index)
    .map(({ issue }) => issue);
  return new SpecError(ordered, loaded.file);
}

/** Inverse of formatPath: `nodes[1].name` → ["nodes", 1, "name"]; `a["b c"]` → ["a", "b c"]. */
export function splitPath(path: string): (string | number)[] {
  const out: (string | number)[] = [];
  const pattern = /([A-Za-z0-9_-]+)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]|\./gy;
  for (let match = pattern.exec(path); match !== null; match = pattern.exec(path)) {
    if (match[1] !== undefined) out.push(match[1]);
    else if (match[2] !== undefined) out.push(Number(match[2]));
    else if (match[3] !== undefined) {
      const key: unknown = JSON.parse(match[3]);
      if (typeof key === "string") out.push(key);
    }
  }
  return out;
}

/**
 * Reads a YAML file and validates its document; a SpecError raised by the
 * validator comes back with file positions.
 */
export function loadAndValidate<T>(path: string, validate: (doc: unknown) => T): T {
  const loaded = loadYamlFile(path);
  try {
    return validate(loaded.value);
  } catch (error) {
    if (error instanceof SpecError) throw locateIssues(error, loaded);
    throw error;
  }
}
