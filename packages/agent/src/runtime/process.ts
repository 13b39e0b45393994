// ContainerRuntime for machines without Docker: components are child
// processes, each the leader of its own process group so stop() can signal
// everything it spawned. No isolation: cpu/memory limits and the image are
// ignored, GPUs are only narrowed through CUDA_VISIBLE_DEVICES, and the mount
// cannot be bound, so its source directory is exported as MARO_MOUNT instead.
// Output goes straight from the child to <stateDir>/logs/<containerName>.log;
// the exit's outputTail is read from the part of that file this run wrote.
//
// Components outlive the agent. Each runs under a small shell supervisor that
// writes the component's exit status to a file, and a record of it (pid and
// its /proc start time) is kept under <stateDir>/run/. A new agent takes the
// records up: a supervisor still running is followed (polled, since it is not
// the new agent's child) and its exit reported with the code it wrote; one
// that ended while no agent ran is reported at once.

import { type ChildProcess, spawn } from "node:child_process";
import { mkdir, open, stat } from "node:fs/promises";
import { constants } from "node:os";
import { join } from "node:path";
import { processGpuEnv } from "./gpu.js";
import { groupGone, isSameProcess, pidExists, signalGroup, startTicksOf } from "./process-group.js";
import { checkProgram, type RunRecord, RunState, SUPERVISOR } from "./process-state.js";
import { OUTPUT_TAIL_BYTES, outputTail } from "./tail.js";
import {
  type ContainerInfo,
  type ContainerRuntime,
  type LaunchSpec,
  RuntimeError,
  type RuntimeEvent,
} from "./types.js";

export interface ProcessRuntimeOptions {
  /** Holds logs/<containerName>.log, run/ (what a restarted agent needs) and work/<containerName>/ (the cwd when spec.workdir does not exist). */
  stateDir: string;
  /** Labels added to every component, as the docker runtime does. Default {"maro.managed": "true"}. */
  scopeLabels?: Record<string, string>;
  /** What every component's environment starts from. Default: PATH, HOME and LANG of the agent. */
  baseEnv?: Record<string, string>;
  /** Problems that do not fail a call. Default: console.warn. */
  onWarning?: (message: string) => void;
  /** How often a component taken over from an earlier agent is checked for its exit. Default 500 ms. */
  adoptedPollMs?: number;
}

/** Environment variable that carries spec.mount.source (a directory on this host). */
export const MOUNT_ENV = "MARO_MOUNT";

/** Exit code reported when a component's supervisor died without writing one (it was SIGKILLed). */
export const UNKNOWN_EXIT_CODE = -1;

/** How long an exit report waits for the rest of the process group to die. */
const GROUP_EXIT_WAIT_MS = 1000;

interface Managed {
  record: RunRecord;
  /** Our child; undefined for one taken over from an earlier agent. */
  child?: ChildProcess;
  /** Polls an adopted supervisor for its exit. */
  poll?: NodeJS.Timeout;
  /** stop() sent SIGKILL: no exit file is to be expected. */
  killed: boolean;
  /** Settles once the record is on disk (the exit report waits for it). */
  saved: Promise<void>;
  /** Resolves once the exit has been reported. */
  done: Promise<void>;
  reported: () => void;
}

export class ProcessRuntime implements ContainerRuntime {
  readonly kind = "process";
  private readonly stateDir: string;
  private readonly scope: Record<string, string>;
  private readonly baseEnv: Record<string, string>;
  private readonly warn: (message: string) => void;
  private readonly pollMs: number;
  private readonly state: RunState;
  private readonly listeners: Array<(event: RuntimeEvent) => void> = [];
  /** Events emitted before anyone listened (exits found when taking over). */
  private readonly unheard: RuntimeEvent[] = [];
  private readonly running = new Map<string, Managed>();
  /** Starts in progress by name: starts of one name run one after another. */
  private readonly starting = new Map<string, Promise<void>>();
  /** Settles once what an earlier agent left is taken over or reported. */
  private readonly adopted: Promise<void>;
  private closed = false;

  constructor(options: ProcessRuntimeOptions) {
    this.stateDir = options.stateDir;
    this.scope = { ...(options.scopeLabels ?? { "maro.managed": "true" }) };
    this.baseEnv = options.baseEnv ?? agentEnv();
    this.warn = options.onWarning ?? ((message) => console.warn(`maro-agent process runtime: ${message}`));
    this.pollMs = options.adoptedPollMs ?? 500;
    this.state = new RunState(this.stateDir);
    this.adopted = this.adopt().catch((err: unknown) => {
      this.warn(`cannot take over the components of an earlier agent (${this.state.dir}): ${errorText(err)}`);
    });
  }

  onEvent(listener: (event: RuntimeEvent) => void): void {
    this.listeners.push(listener);
    if (this.listeners.length === 1 && this.unheard.length > 0) {
      queueMicrotask(() => {
        for (const event of this.unheard.splice(0)) this.emit(event);
      });
    }
  }

  /**
   * Starts a component. A start for a name that already runs this component
   * (same labels: a repeated StartContainer, or one taken over after an agent
   * restart) starts nothing and reports it as running.
   */
  async start(spec: LaunchSpec): Promise<void> {
    if (this.closed) throw new RuntimeError("RUNTIME_UNAVAILABLE", "the process runtime is closed");
    const name = spec.containerName;
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(name)) {
      throw new RuntimeError(
        "START_FAILED",
        `invalid component name "${name}": use letters, digits, '.', '_' and '-' (it names the log file)`,
      );
    }
    const previous = this.starting.get(name);
    const attempt = (previous ?? Promise.resolve()).catch(() => {}).then(() => this.startOnce(spec));
    this.starting.set(name, attempt);
    try {
      await attempt;
    } finally {
      if (this.starting.get(name) === attempt) this.starting.delete(name);
    }
  }

  private async startOnce(spec: LaunchSpec): Promise<void> {
    await this.adopted;
    const name = spec.containerName;
    const existing = this.running.get(name);
    if (existing) {
      const labels = existing.record.labels;
      if (!Object.entries({ ...spec.labels, ...this.scope }).every(([k, v]) => labels[k] === v)) {
        throw new RuntimeError("NAME_IN_USE", `a component named "${name}" is already running on this node`);
      }
      this.emit({ kind: "running", containerName: name, timeMs: existing.record.startedAtMs });
      return;
    }
    await this.launch(spec);
  }

  async stop(containerName: string, graceSeconds: number): Promise<void> {
    await this.starting.get(containerName)?.catch(() => {});
    await this.adopted;
    const managed = this.running.get(containerName);
    if (!managed) return;
    await this.signal(managed, "SIGTERM");
    const timer = setTimeout(() => {
      managed.killed = true;
      void this.signal(managed, "SIGKILL");
    }, Math.max(0, graceSeconds) * 1000);
    try {
      await managed.done;
    } finally {
      clearTimeout(timer);
    }
  }

  async list(labels: Record<string, string>): Promise<ContainerInfo[]> {
    await this.adopted;
    return [...this.running.values()]
      .map((m) => m.record)
      .filter((r) => Object.entries(labels).every(([k, v]) => r.labels[k] === v))
      .map((r) => ({ containerName: r.name, running: true, labels: { ...r.labels } }))
      .sort((a, b) => a.containerName.localeCompare(b.containerName));
  }

  /** Stops reporting; the processes keep running and no longer keep the agent alive. */
  async close(): Promise<void> {
    this.closed = true;
    await this.adopted;
    for (const m of this.running.values()) {
      m.child?.unref();
      if (m.poll) clearTimeout(m.poll);
    }
  }

  private async launch(spec: LaunchSpec): Promise<void> {
    const name = spec.containerName;
    const argv = argvOf(spec);
    const program = argv[0];
    if (program === undefined) {
      throw new RuntimeError(
        "START_FAILED",
        `component "${name}" has no command: the process runtime has no image to take a default from`,
      );
    }
    const cwd = await this.workdir(spec);
    // The GPU variables come last: a component cannot widen its own devices.
    const env: Record<string, string> = { ...this.baseEnv, ...spec.env, ...processGpuEnv(spec.gpuIndices) };
    if (spec.mount) env[MOUNT_ENV] = spec.mount.source;
    await checkProgram(program, env.PATH, cwd);
    const logDir = join(this.stateDir, "logs");
    await mkdir(logDir, { recursive: true });
    const logPath = join(logDir, `${name}.log`);
    await this.state.prepare(name);
    const exitFile = this.state.exitFile(name);

    const log = await open(logPath, "a");
    let spawned: Promise<void>;
    try {
      const logOffset = (await log.stat()).size;
      const child = spawn("/bin/sh", ["-c", SUPERVISOR, "maro-supervise", exitFile, ...argv], {
        cwd,
        env,
        detached: true,
        stdio: ["ignore", log.fd, log.fd],
      });
      const run = { name, labels: { ...spec.labels, ...this.scope }, logPath, logOffset };
      // Listen now: 'spawn' or 'error' fires on the next tick.
      spawned = this.whenSpawned(child, run, argv);
      spawned.catch(() => {}); // handled by the await below, after the close
    } catch (err) {
      throw new RuntimeError("START_FAILED", `cannot run ${describeCommand(argv)}: ${errorText(err)}`);
    } finally {
      // The child has its own copy of the descriptor.
      await log.close();
    }
    await spawned;
  }

  private whenSpawned(
    child: ChildProcess,
    run: Pick<RunRecord, "name" | "labels" | "logPath" | "logOffset">,
    argv: string[],
  ): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      child.once("error", (err) =>
        reject(new RuntimeError("START_FAILED", `cannot run ${describeCommand(argv)}: ${err.message}`)),
      );
      child.once("spawn", () => {
        const pid = child.pid;
        if (pid === undefined) {
          reject(new RuntimeError("START_FAILED", `cannot run ${describeCommand(argv)}: no process id`));
          return;
        }
        const record: RunRecord = { ...run, pid, startTicks: "", startedAtMs: Date.now() };
        const managed = this.manage(record, child);
        managed.saved = this.save(record);
        child.on("error", (err) => this.warn(`component ${run.name} (pid ${pid}): ${err.message}`));
        child.once("exit", (code, signal) => {
          const exitCode = code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0);
          void this.finish(managed, exitCode);
        });
        // Once a restarted agent could find it: "running" promises that.
        // Emitted before start() resolves and before the exit (which waits
        // for the record too) can be.
        void managed.saved.then(() => {
          this.emit({ kind: "running", containerName: run.name, timeMs: record.startedAtMs });
          resolve();
        });
      });
    });
  }

  private manage(record: RunRecord, child?: ChildProcess): Managed {
    let reported: () => void = () => {};
    const done = new Promise<void>((r) => {
      reported = r;
    });
    const managed: Managed = { record, killed: false, saved: Promise.resolve(), done, reported };
    if (child) managed.child = child;
    this.running.set(record.name, managed);
    return managed;
  }

  /** Writes the record a restarted agent will read (start time first: it tells this process from a later one). */
  private async save(record: RunRecord): Promise<void> {
    try {
      record.startTicks = (await startTicksOf(record.pid)) ?? "";
      await this.state.save(record);
    } catch (err) {
      this.warn(`component ${record.name}: cannot record it for an agent restart: ${errorText(err)}`);
    }
  }

  /** Takes over what an earlier agent left in the run directory. */
  private async adopt(): Promise<void> {
    const { records, bad } = await this.state.load();
    for (const file of bad) this.warn(`removed an unreadable component record: ${file}`);
    for (const record of records) {
      if (record.startTicks !== "" && (await isSameProcess(record.pid, record.startTicks))) {
        const managed = this.manage(record);
        this.watchAdopted(managed);
        continue;
      }
      // It ended while no agent ran. Its group may have left processes
      // behind; the group's id cannot have been reused while they live, and
      // a pid that exists again belongs to someone else.
      const managed = this.manage(record);
      const exitCode = await this.state.exitCode(record.name);
      await this.finish(managed, exitCode ?? UNKNOWN_EXIT_CODE, !(await pidExists(record.pid)));
    }
  }

  private watchAdopted(managed: Managed): void {
    const { pid, startTicks } = managed.record;
    const check = async () => {
      managed.poll = undefined;
      if (this.closed) return;
      if (await isSameProcess(pid, startTicks)) {
        if (!this.closed) managed.poll = setTimeout(() => void check(), this.pollMs);
        return;
      }
      const written = await this.state.exitCode(managed.record.name);
      const exitCode = written ?? (managed.killed ? 128 + constants.signals.SIGKILL : UNKNOWN_EXIT_CODE);
      await this.finish(managed, exitCode, !(await pidExists(pid)));
    };
    managed.poll = setTimeout(() => void check(), this.pollMs);
  }

  /** Signals the component's group, unless its pid now belongs to another process. */
  private async signal(managed: Managed, signal: NodeJS.Signals): Promise<void> {
    const { pid, startTicks } = managed.record;
    if (!managed.child && !(await isSameProcess(pid, startTicks))) return;
    signalGroup(pid, signal);
  }

  private async finish(managed: Managed, exitCode: number, killGroup = true): Promise<void> {
    const { name, pid, logPath, logOffset } = managed.record;
    // Like a container whose PID 1 ended: nothing it left behind keeps running.
    if (killGroup) {
      signalGroup(pid, "SIGKILL");
      await groupGone(pid, GROUP_EXIT_WAIT_MS);
    }
    let tail: string;
    try {
      tail = await readTail(logPath, logOffset);
    } catch (err) {
      tail = `(output unavailable: ${errorText(err)})`;
    }
    if (exitCode === UNKNOWN_EXIT_CODE) {
      tail += `${tail === "" || tail.endsWith("\n") ? "" : "\n"}(the exit code of ${name} is unknown: its supervisor was killed while no agent watched it)\n`;
    }
    await managed.saved;
    await this.state.forget(name).catch((err: unknown) => this.warn(`component ${name}: ${errorText(err)}`));
    this.running.delete(name);
    this.emit({
      kind: "exited",
      containerName: name,
      exitCode,
      oomKilled: false,
      outputTail: tail,
      timeMs: Date.now(),
    });
    managed.reported();
  }

  private async workdir(spec: LaunchSpec): Promise<string> {
    if (spec.workdir !== undefined && spec.workdir !== "") {
      try {
        if ((await stat(spec.workdir)).isDirectory()) return spec.workdir;
      } catch {
        // Not on this host: fall back to a scratch directory.
      }
    }
    const scratch = join(this.stateDir, "work", spec.containerName);
    await mkdir(scratch, { recursive: true });
    return scratch;
  }

  private emit(event: RuntimeEvent): void {
    if (this.closed) return;
    if (this.listeners.length === 0) {
      this.unheard.push(event);
      return;
    }
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (err) {
        this.warn(`a runtime event listener threw: ${errorText(err)}`);
      }
    }
  }
}

/** argv to execute: `/bin/sh -c script` for shell commands. */
export function argvOf(spec: Pick<LaunchSpec, "command" | "shell">): string[] {
  if (spec.shell) {
    const script = spec.command.join(" ").trim();
    return script === "" ? [] : ["/bin/sh", "-c", script];
  }
  return [...spec.command];
}

function agentEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const key of ["PATH", "HOME", "LANG"]) {
    const value = process.env[key];
    if (value !== undefined) env[key] = value;
  }
  env.PATH ??= "/usr/local/bin:/usr/bin:/bin";
  return env;
}

async function readTail(path: string, fromOffset: number): Promise<string> {
  const file = await open(path, "r");
  try {
    const size = (await file.stat()).size;
    const start = Math.max(fromOffset, size - OUTPUT_TAIL_BYTES);
    if (size <= start) return "";
    const buf = Buffer.alloc(size - start);
    const { bytesRead } = await file.read(buf, 0, buf.length, start);
    return outputTail(buf.subarray(0, bytesRead));
  } finally {
    await file.close();
  }
}

function describeCommand(argv: string[]): string {
  const text = argv.join(" ");
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
