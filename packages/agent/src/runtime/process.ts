// ContainerRuntime for machines without Docker: components are child
// processes, each the leader of its own process group so stop() can signal
// everything it spawned. No isolation: cpu/memory limits, GPUs and the image
// are ignored, and the mount cannot be bound, so its source directory is
// exported as MARO_MOUNT instead. Output goes straight from the child to
// <stateDir>/logs/<containerName>.log; the exit's outputTail is read from the
// part of that file this run wrote. Processes are only known to the runtime
// that started them: an agent restart loses track of them.

import { type ChildProcess, spawn } from "node:child_process";
import { mkdir, open, readdir, readFile, stat } from "node:fs/promises";
import { constants } from "node:os";
import { join } from "node:path";
import { OUTPUT_TAIL_BYTES, outputTail } from "./tail.js";
import {
  type ContainerInfo,
  type ContainerRuntime,
  type LaunchSpec,
  RuntimeError,
  type RuntimeEvent,
} from "./types.js";

export interface ProcessRuntimeOptions {
  /** Holds logs/<containerName>.log and work/<containerName>/ (the cwd when spec.workdir does not exist). */
  stateDir: string;
  /** Labels added to every component, as the docker runtime does. Default {"maro.managed": "true"}. */
  scopeLabels?: Record<string, string>;
  /** What every component's environment starts from. Default: PATH, HOME and LANG of the agent. */
  baseEnv?: Record<string, string>;
  /** Problems that do not fail a call. Default: console.warn. */
  onWarning?: (message: string) => void;
}

/** Environment variable that carries spec.mount.source (a directory on this host). */
export const MOUNT_ENV = "MARO_MOUNT";

/** How long an exit report waits for the rest of the process group to die. */
const GROUP_EXIT_WAIT_MS = 1000;

interface Managed {
  name: string;
  labels: Record<string, string>;
  child: ChildProcess;
  pid: number;
  logPath: string;
  /** Size of the log file when this run started; the tail is read past it. */
  logOffset: number;
  /** Resolves once the exit has been reported. */
  done: Promise<void>;
}

export class ProcessRuntime implements ContainerRuntime {
  readonly kind = "process";
  private readonly stateDir: string;
  private readonly scope: Record<string, string>;
  private readonly baseEnv: Record<string, string>;
  private readonly warn: (message: string) => void;
  private readonly listeners: Array<(event: RuntimeEvent) => void> = [];
  private readonly running = new Map<string, Managed>();
  /** Names being started, with the start's outcome. */
  private readonly starting = new Map<string, Promise<unknown>>();
  private closed = false;

  constructor(options: ProcessRuntimeOptions) {
    this.stateDir = options.stateDir;
    this.scope = { ...(options.scopeLabels ?? { "maro.managed": "true" }) };
    this.baseEnv = options.baseEnv ?? agentEnv();
    this.warn = options.onWarning ?? ((message) => console.warn(`maro-agent process runtime: ${message}`));
  }

  onEvent(listener: (event: RuntimeEvent) => void): void {
    this.listeners.push(listener);
  }

  async start(spec: LaunchSpec): Promise<void> {
    if (this.closed) throw new RuntimeError("RUNTIME_UNAVAILABLE", "the process runtime is closed");
    const name = spec.containerName;
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(name)) {
      throw new RuntimeError(
        "START_FAILED",
        `invalid component name "${name}": use letters, digits, '.', '_' and '-' (it names the log file)`,
      );
    }
    if (this.running.has(name) || this.starting.has(name)) {
      throw new RuntimeError("NAME_IN_USE", `a component named "${name}" is already running on this node`);
    }
    const started = this.launch(spec);
    this.starting.set(name, started);
    try {
      await started;
    } finally {
      this.starting.delete(name);
    }
  }

  async stop(containerName: string, graceSeconds: number): Promise<void> {
    await this.starting.get(containerName)?.catch(() => {});
    const managed = this.running.get(containerName);
    if (!managed) return;
    signalGroup(managed.pid, "SIGTERM");
    const timer = setTimeout(() => signalGroup(managed.pid, "SIGKILL"), Math.max(0, graceSeconds) * 1000);
    try {
      await managed.done;
    } finally {
      clearTimeout(timer);
    }
  }

  async list(labels: Record<string, string>): Promise<ContainerInfo[]> {
    return [...this.running.values()]
      .filter((m) => Object.entries(labels).every(([k, v]) => m.labels[k] === v))
      .map((m) => ({ containerName: m.name, running: true, labels: { ...m.labels } }))
      .sort((a, b) => a.containerName.localeCompare(b.containerName));
  }

  /** Stops reporting; the processes keep running and no longer keep the agent alive. */
  async close(): Promise<void> {
    this.closed = true;
    for (const m of this.running.values()) m.child.unref();
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
    const logDir = join(this.stateDir, "logs");
    await mkdir(logDir, { recursive: true });
    const logPath = join(logDir, `${name}.log`);
    const env: Record<string, string> = { ...this.baseEnv, ...spec.env };
    if (spec.mount) env[MOUNT_ENV] = spec.mount.source;

    const log = await open(logPath, "a");
    let spawned: Promise<void>;
    try {
      const logOffset = (await log.stat()).size;
      const child = spawn(program, argv.slice(1), { cwd, env, detached: true, stdio: ["ignore", log.fd, log.fd] });
      // Listen now: 'spawn' or 'error' fires on the next tick.
      spawned = this.whenSpawned(child, { name, labels: { ...spec.labels, ...this.scope }, logPath, logOffset }, argv);
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
    run: Pick<Managed, "name" | "labels" | "logPath" | "logOffset">,
    argv: string[],
  ): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const program = argv[0] ?? "";
      child.once("error", (err) => reject(spawnError(err, program, argv)));
      child.once("spawn", () => {
        const pid = child.pid;
        if (pid === undefined) {
          reject(new RuntimeError("START_FAILED", `cannot run ${describeCommand(argv)}: no process id`));
          return;
        }
        let reported: () => void = () => {};
        const done = new Promise<void>((r) => {
          reported = r;
        });
        const managed: Managed = { ...run, child, pid, done };
        this.running.set(run.name, managed);
        child.on("error", (err) => this.warn(`component ${run.name} (pid ${pid}): ${err.message}`));
        child.once("exit", (code, signal) => {
          void this.onExit(managed, code, signal).finally(reported);
        });
        // Emitted before start() resolves and before any exit can be seen.
        this.emit({ kind: "running", containerName: run.name, timeMs: Date.now() });
        resolve();
      });
    });
  }

  private async onExit(managed: Managed, code: number | null, signal: NodeJS.Signals | null): Promise<void> {
    const exitCode = code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0);
    // Like a container whose PID 1 ended: nothing it left behind keeps running.
    signalGroup(managed.pid, "SIGKILL");
    await groupGone(managed.pid, GROUP_EXIT_WAIT_MS);
    let tail: string;
    try {
      tail = await readTail(managed.logPath, managed.logOffset);
    } catch (err) {
      tail = `(output unavailable: ${errorText(err)})`;
    }
    this.running.delete(managed.name);
    this.emit({
      kind: "exited",
      containerName: managed.name,
      exitCode,
      oomKilled: false,
      outputTail: tail,
      timeMs: Date.now(),
    });
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

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // Already gone.
    }
  }
}

/**
 * Waits (at most maxMs) until no live process is left in the group. Killed
 * members take a moment to die; orphans that init has not reaped yet are
 * zombies, which count as gone.
 */
async function groupGone(pgid: number, maxMs: number): Promise<void> {
  const deadline = Date.now() + maxMs;
  while ((await groupAlive(pgid)) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function groupAlive(pgid: number): Promise<boolean> {
  try {
    process.kill(-pgid, 0);
  } catch {
    return false;
  }
  if (process.platform !== "linux") return true;
  let entries: string[];
  try {
    entries = await readdir("/proc");
  } catch {
    return true;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = await readFile(`/proc/${entry}/stat`, "utf8");
    } catch {
      continue; // exited meanwhile
    }
    // "pid (comm) state ppid pgrp ..."; comm may hold spaces and parentheses.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (Number(fields[2]) === pgid && fields[0] !== "Z" && fields[0] !== "X") return true;
  }
  return false;
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

function spawnError(err: Error, program: string, argv: string[]): RuntimeError {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === "ENOENT") return new RuntimeError("START_FAILED", `command not found: ${program}`);
  if (code === "EACCES")
    return new RuntimeError("START_FAILED", `command not executable (permission denied): ${program}`);
  return new RuntimeError("START_FAILED", `cannot run ${describeCommand(argv)}: ${err.message}`);
}

function describeCommand(argv: string[]): string {
  const text = argv.join(" ");
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
