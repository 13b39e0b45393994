// `maro grass template <dir>`: writes the example deployment, job and schedule files.

import { lstatSync, mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { CliError, EXIT } from "../errors.js";
import { DEPLOYMENT_TEMPLATE, JOB_TEMPLATE, SCHEDULE_TEMPLATE } from "./templates.js";

export const TEMPLATE_FILES: ReadonlyArray<readonly [name: string, content: string]> = [
  ["deployment.yml", DEPLOYMENT_TEMPLATE],
  ["job.yml", JOB_TEMPLATE],
  ["schedule.yml", SCHEDULE_TEMPLATE],
];

/** Existing files the templates would overwrite; the message names them and `--force`. A usage error (exit 2). */
export class TemplateExistsError extends CliError {
  readonly code = "TEMPLATE_EXISTS";

  constructor(readonly files: readonly string[]) {
    const list = files.length <= 2 ? files.join(" and ") : `${files.slice(0, -1).join(", ")} and ${files.at(-1)}`;
    const which = files.length === 1 ? `${files[0]} already exists` : `${list} already exist`;
    super(`${which}; pass --force to overwrite`, EXIT.USAGE);
    this.name = "TemplateExistsError";
  }
}

export interface WriteTemplatesOptions {
  /** Overwrite files that exist. */
  force?: boolean;
}

function errorCode(error: unknown): unknown {
  return error instanceof Error && "code" in error ? error.code : undefined;
}

/**
 * Writes deployment.yml, job.yml and schedule.yml into `dir` (created if missing) and returns
 * their absolute paths. Without `force`, writes nothing if any exists.
 */
export function writeTemplates(dir: string, options: WriteTemplatesOptions = {}): string[] {
  const root = resolve(dir);
  mkdirSync(root, { recursive: true });
  const files = TEMPLATE_FILES.map(([name, content]) => ({ path: join(root, name), content }));
  if (!options.force) {
    const existing = files.map(({ path }) => path).filter(exists);
    if (existing.length > 0) throw new TemplateExistsError(existing);
  }
  for (const { path, content } of files) {
    try {
      // "wx" also refuses a file created since the check above.
      writeFileSync(path, content, { flag: options.force ? "w" : "wx" });
    } catch (error) {
      if (errorCode(error) === "EEXIST") throw new TemplateExistsError([path]);
      throw error;
    }
  }
  return files.map(({ path }) => path);
}

/** True for anything at `path`, a dangling symlink included. */
function exists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch (error) {
    if (errorCode(error) === "ENOENT") return false;
    throw error;
  }
}
