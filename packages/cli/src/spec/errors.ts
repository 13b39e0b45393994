// A deployment or job file that cannot be used, with every problem found in
// one pass. Each problem names its YAML path (`components.learner.num`), so
// the user can fix them all before trying again.

export interface SpecIssue {
  /** Dotted YAML path, `nodes[1].name`; empty for the file as a whole. */
  path: string;
  message: string;
  /** 1-based position in the file, when the problem came from a file. */
  line?: number;
  column?: number;
}

export class SpecError extends Error {
  readonly code = "SPEC_INVALID";
  readonly issues: readonly SpecIssue[];
  /** The file the problems are in, as the user named it. */
  readonly file: string | undefined;

  constructor(issues: readonly SpecIssue[], file?: string) {
    super(issues.map((issue) => formatIssue(issue, file)).join("\n"));
    this.name = "SpecError";
    this.issues = issues;
    this.file = file;
  }
}

/**
 * One line per problem: `path: message (file:line:col)`, or
 * `file:line:col: message` for a problem with the file as a whole.
 */
export function formatIssue(issue: SpecIssue, file?: string): string {
  const where = location(issue, file);
  if (issue.path === "") return where === undefined ? issue.message : `${where}: ${issue.message}`;
  if (issue.line === undefined || where === undefined) return `${issue.path}: ${issue.message}`;
  return `${issue.path}: ${issue.message} (${where})`;
}

/** `job.yml:7:13`, `job.yml`, `line 7, column 13`, or nothing known. */
function location(issue: SpecIssue, file: string | undefined): string | undefined {
  const { line, column } = issue;
  if (file !== undefined) {
    if (line === undefined) return file;
    return column === undefined ? `${file}:${line}` : `${file}:${line}:${column}`;
  }
  if (line === undefined) return undefined;
  return column === undefined ? `line ${line}` : `line ${line}, column ${column}`;
}

/** `["components", "learner", "num"]` → `components.learner.num`; `["nodes", 1]` → `nodes[1]`. */
export function formatPath(segments: readonly PropertyKey[]): string {
  let out = "";
  for (const segment of segments) {
    if (typeof segment === "number") out += `[${segment}]`;
    else if (typeof segment === "symbol") out += `[${String(segment)}]`;
    else if (/^[A-Za-z0-9_-]+$/.test(segment)) out += out === "" ? segment : `.${segment}`;
    else out += `[${JSON.stringify(segment)}]`;
  }
  return out;
}

/** How a value reads in a message: `"text"`, `5`, `a list`, `a mapping`, `nothing`. */
export function describeValue(value: unknown): string {
  if (value === null || value === undefined) return "nothing";
  if (typeof value === "string") return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === "number" || typeof value === "boolean") return `${String(value)} (a ${typeof value})`;
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping";
  return `a ${typeof value}`;
}
