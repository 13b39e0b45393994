// What the process runtime keeps on disk so a new agent (after a crash or
// kill -9) can find its components again: one record per running component
// (<stateDir>/run/<name>.json) and the exit code its supervisor writes
// (<stateDir>/run/<name>.exit). Also the supervisor itself, and the command
// lookup that lets a missing program fail the start instead of the run.

import { constants } from "node:fs";
import { access, mkdir, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { delimiter, isAbsolute, join, resolve } from "node:path";
import { RuntimeError } from "./types.js";

export interface RunRecord {
  name: string;
  labels: Record<string, string>;
  /** The supervisor's pid, also the process group of everything the component runs. */
  pid: number;
  /** /proc/<pid>/stat field 22 at spawn: tells the process from a later one given the same pid. */
  startTicks: string;
  startedAtMs: number;
  logPath: string;
  /** Size of the log file when this run started; the exit's tail is read past it. */
  logOffset: number;
}

/**
 * The supervisor: `sh -c SUPERVISOR maro-supervise EXITFILE ARGV...`. It runs
 * ARGV exactly (through `exec` in a subshell: no shell builtins, argv[0] as
 * given), waits for it, writes its exit status to EXITFILE and exits with it.
 * Signals reach the component directly, because the runtime signals the whole
 * process group; the supervisor only catches them so that it outlives the
 * component and can write the file. (A caught signal goes back to its default
 * in the component; an ignored one would stay ignored.)
 */
export const SUPERVISOR =
  'f=$1; shift; trap : HUP INT QUIT TERM USR1 USR2; (exec "$@"); c=$?; echo "$c" > "$f"; exit "$c"';

export class RunState {
  readonly dir: string;

  constructor(stateDir: string) {
    this.dir = join(stateDir, "run");
  }

  exitFile(name: string): string {
    return join(this.dir, `${name}.exit`);
  }

  private recordFile(name: string): string {
    return join(this.dir, `${name}.json`);
  }

  async prepare(name: string): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    await rm(this.exitFile(name), { force: true });
  }

  async save(record: RunRecord): Promise<void> {
    const file = this.recordFile(record.name);
    await writeFile(`${file}.tmp`, `${JSON.stringify(record)}\n`);
    await rename(`${file}.tmp`, file);
  }

  async forget(name: string): Promise<void> {
    await rm(this.recordFile(name), { force: true });
    await rm(this.exitFile(name), { force: true });
  }

  /** The exit status the supervisor wrote, if it lived to write it. */
  async exitCode(name: string): Promise<number | undefined> {
    const text = await readFile(this.exitFile(name), "utf8").catch(() => "");
    return /^\d+\n?$/.test(text) ? Number(text) : undefined;
  }

  /** Every record left by this or an earlier agent; unreadable ones are removed and named in `bad`. */
  async load(): Promise<{ records: RunRecord[]; bad: string[] }> {
    let entries: string[];
    try {
      entries = await readdir(this.dir);
    } catch {
      return { records: [], bad: [] };
    }
    const records: RunRecord[] = [];
    const bad: string[] = [];
    for (const entry of entries.filter((e) => e.endsWith(".json")).sort()) {
      const file = join(this.dir, entry);
      const record = parseRecord(await readFile(file, "utf8").catch(() => ""));
      if (record && `${record.name}.json` === entry) records.push(record);
      else {
        bad.push(file);
        await rm(file, { force: true });
      }
    }
    return { records, bad };
  }
}

function parseRecord(text: string): RunRecord | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof raw !== "object" || raw === null) return undefined;
  const r = raw as Record<string, unknown>;
  const labels = r.labels;
  if (
    typeof r.name !== "string" ||
    typeof r.pid !== "number" ||
    !Number.isInteger(r.pid) ||
    r.pid <= 1 ||
    typeof r.startTicks !== "string" ||
    typeof r.startedAtMs !== "number" ||
    typeof r.logPath !== "string" ||
    typeof r.logOffset !== "number" ||
    typeof labels !== "object" ||
    labels === null ||
    !Object.values(labels).every((v) => typeof v === "string")
  ) {
    return undefined;
  }
  return {
    name: r.name,
    labels: { ...(labels as Record<string, string>) },
    pid: r.pid,
    startTicks: r.startTicks,
    startedAtMs: r.startedAtMs,
    logPath: r.logPath,
    logOffset: r.logOffset,
  };
}

/**
 * Finds `program` as execvp would (a name with a slash is taken relative to
 * cwd, a bare name is looked up in PATH) and fails the start clearly when it
 * is missing or not executable.
 */
export async function checkProgram(program: string, path: string | undefined, cwd: string): Promise<void> {
  const candidates = program.includes("/")
    ? [isAbsolute(program) ? program : resolve(cwd, program)]
    : (path ?? "").split(delimiter).map((dir) => resolve(cwd, dir === "" ? "." : dir, program));
  let denied = false;
  for (const candidate of candidates) {
    const info = await stat(candidate).catch(() => undefined);
    if (!info?.isFile()) continue;
    try {
      await access(candidate, constants.X_OK);
      return;
    } catch {
      denied = true;
    }
  }
  if (denied) throw new RuntimeError("START_FAILED", `command not executable (permission denied): ${program}`);
  throw new RuntimeError("START_FAILED", `command not found: ${program}`);
}
