// ContainerRuntime on the Docker Engine API (dockerode). Exits are learned
// from the engine's events stream the moment a container dies; after the exit
// is reported the container is removed, so its name is free again.

import Dockerode from "dockerode";
import {
  DEFAULT_DOCKER_HOST,
  demuxLogs,
  dockerConnection,
  dockerStatus,
  isUnreachable,
  startError,
  unavailableError,
} from "./docker-client.js";
import { type DockerContainerEvent, DockerEventWatcher } from "./docker-events.js";
import { OUTPUT_TAIL_LINES, outputTail } from "./tail.js";
import {
  type ContainerInfo,
  type ContainerRuntime,
  type LaunchSpec,
  RuntimeError,
  type RuntimeEvent,
} from "./types.js";

export const DEFAULT_SCOPE_LABELS: Readonly<Record<string, string>> = { "maro.managed": "true" };

export interface DockerRuntimeOptions {
  /**
   * Where the engine listens, DOCKER_HOST style: `unix:///var/run/docker.sock`,
   * a bare socket path, or `tcp://host:port`. Default: $DOCKER_HOST, else
   * unix:///var/run/docker.sock.
   */
  dockerHost?: string;
  /**
   * Labels put on every container this runtime starts; exits, list() and
   * stop() only concern containers that carry all of them.
   * Default {"maro.managed": "true"}.
   */
  scopeLabels?: Record<string, string>;
  /** Docker network mode for components. Default "bridge". */
  networkMode?: string;
  /** Docker log driver for components, e.g. fluentd. Default: the engine's. */
  logConfig?: { type: string; config: Record<string, string> };
  /** Problems that do not fail a call (events stream dropped, cleanup failed). Default: console.warn. */
  onWarning?: (message: string) => void;
  /** Events stream reconnect delay. Default 200 ms doubling up to 5 s. */
  reconnectBackoff?: { initialMs: number; maxMs: number };
}

interface Tracked {
  id: string;
  name: string;
  /** Settles true once the container runs, false if starting it failed. */
  started: Promise<boolean>;
  oomSeen: boolean;
}

interface ExitHint {
  name?: string | undefined;
  exitCode?: number | undefined;
}

/** Exit code reported when a container vanished before it could be inspected. */
export const UNKNOWN_EXIT_CODE = -1;

const REPORTED_MEMORY = 1024;

export class DockerRuntime implements ContainerRuntime {
  readonly kind = "docker";
  readonly dockerHost: string;
  private readonly docker: Dockerode;
  private readonly scope: Record<string, string>;
  private readonly networkMode: string;
  private logConfig: DockerRuntimeOptions["logConfig"];
  private readonly warn: (message: string) => void;
  private readonly watcher: DockerEventWatcher;
  private readonly listeners: Array<(event: RuntimeEvent) => void> = [];
  /** Containers started by this runtime that have not been reported exited. */
  private readonly tracked = new Map<string, Tracked>();
  /** Exit reports in progress, by container id. */
  private readonly exits = new Map<string, Promise<void>>();
  /** Ids whose exit was reported (the newest REPORTED_MEMORY of them). */
  private readonly reported = new Set<string>();
  /** Events emitted before anyone listened (exits found by the first sweep). */
  private readonly unheard: RuntimeEvent[] = [];
  private closed = false;

  constructor(options: DockerRuntimeOptions = {}) {
    this.dockerHost = options.dockerHost ?? process.env.DOCKER_HOST ?? DEFAULT_DOCKER_HOST;
    this.docker = new Dockerode(dockerConnection(this.dockerHost));
    this.scope = { ...(options.scopeLabels ?? DEFAULT_SCOPE_LABELS) };
    this.networkMode = options.networkMode ?? "bridge";
    this.logConfig = options.logConfig;
    this.warn = options.onWarning ?? ((message) => console.warn(`maro-agent docker runtime: ${message}`));
    this.watcher = new DockerEventWatcher(this.docker, {
      labels: this.scope,
      backoff: options.reconnectBackoff ?? { initialMs: 200, maxMs: 5000 },
      onWarning: this.warn,
      onEvent: (event) => this.onDockerEvent(event),
      // Anything that died while nobody listened is caught here.
      onConnected: () => void this.sweep(),
    });
  }

  /**
   * The log driver for components started from now on. A fluentd config gets
   * its tag per container: maro.<job>.<container>.
   */
  setLogConfig(config: DockerRuntimeOptions["logConfig"]): void {
    this.logConfig = config;
  }

  onEvent(listener: (event: RuntimeEvent) => void): void {
    this.listeners.push(listener);
    if (this.listeners.length === 1 && this.unheard.length > 0) {
      queueMicrotask(() => {
        for (const event of this.unheard.splice(0)) this.emit(event);
      });
    }
  }

  private logConfigFor(spec: LaunchSpec): DockerRuntimeOptions["logConfig"] {
    if (this.logConfig?.type !== "fluentd") return this.logConfig;
    const job = spec.labels["maro.job"] ?? "unknown";
    return { type: "fluentd", config: { ...this.logConfig.config, tag: `maro.${job}.${spec.containerName}` } };
  }

  async start(spec: LaunchSpec): Promise<void> {
    if (this.closed) throw new RuntimeError("RUNTIME_UNAVAILABLE", "the docker runtime is closed");
    // Listen before starting, so even an instant exit is seen live.
    await this.watcher.ready;
    let container: Dockerode.Container;
    try {
      container = await this.docker.createContainer(
        containerCreateOptions(spec, {
          scopeLabels: this.scope,
          networkMode: this.networkMode,
          logConfig: this.logConfigFor(spec),
        }),
      );
    } catch (err) {
      throw startError(err, spec.image, spec.containerName, this.dockerHost);
    }
    let settle: (ok: boolean) => void = () => {};
    const started = new Promise<boolean>((resolve) => {
      settle = resolve;
    });
    this.tracked.set(container.id, { id: container.id, name: spec.containerName, started, oomSeen: false });
    try {
      await container.start();
    } catch (err) {
      settle(false);
      this.tracked.delete(container.id);
      await this.removeQuietly(container);
      throw startError(err, spec.image, spec.containerName, this.dockerHost);
    }
    this.emit({ kind: "running", containerName: spec.containerName, timeMs: Date.now() });
    settle(true);
  }

  async stop(containerName: string, graceSeconds: number): Promise<void> {
    const starting = [...this.tracked.values()].find((t) => t.name === containerName);
    if (starting && !(await starting.started)) return;
    const id = await this.findId(containerName);
    if (id === undefined) return;
    const container = this.docker.getContainer(id);
    try {
      await container.stop({ t: Math.max(0, Math.ceil(graceSeconds)) });
    } catch (err) {
      if (isUnreachable(err)) throw unavailableError(this.dockerHost, err);
      // 304: already stopped; 404: already gone. Anything else: report below.
      const status = dockerStatus(err);
      if (status !== 304 && status !== 404) this.warn(`stopping ${containerName}: ${describe(err)}`);
    }
    await this.checkExit(id, { name: containerName });
    await this.removeQuietly(container);
  }

  async list(labels: Record<string, string>): Promise<ContainerInfo[]> {
    const label = [...Object.entries(this.scope), ...Object.entries(labels)].map(([k, v]) => `${k}=${v}`);
    let containers: Dockerode.ContainerInfo[];
    try {
      containers = await this.docker.listContainers({ all: true, filters: { label } });
    } catch (err) {
      if (isUnreachable(err)) throw unavailableError(this.dockerHost, err);
      throw err;
    }
    return containers
      .map((c) => ({
        containerName: (c.Names[0] ?? c.Id).replace(/^\//, ""),
        running: c.State === "running",
        labels: { ...c.Labels },
      }))
      .sort((a, b) => a.containerName.localeCompare(b.containerName));
  }

  async close(): Promise<void> {
    this.closed = true;
    this.watcher.close();
    await Promise.allSettled([...this.exits.values()]);
  }

  private onDockerEvent(event: DockerContainerEvent): void {
    if (event.action === "oom") {
      const t = this.tracked.get(event.id);
      if (t) t.oomSeen = true;
      return;
    }
    void this.checkExit(event.id, { name: event.name, exitCode: event.exitCode });
  }

  /**
   * After every (re)connect: containers this runtime tracks, and any of its
   * scope that stopped while no agent listened (an agent restart), are
   * reported if they are no longer running.
   */
  private async sweep(): Promise<void> {
    for (const id of this.tracked.keys()) void this.checkExit(id, {});
    let stopped: Dockerode.ContainerInfo[];
    try {
      stopped = await this.docker.listContainers({
        all: true,
        filters: { label: Object.entries(this.scope).map(([k, v]) => `${k}=${v}`), status: ["exited", "dead"] },
      });
    } catch (err) {
      this.warn(`looking for containers that exited while the agent was away: ${describe(err)}`);
      return;
    }
    for (const c of stopped) void this.checkExit(c.Id, { name: c.Names[0]?.replace(/^\//, "") });
  }

  /** Reports the container's exit if it is no longer running; once per container. */
  private async checkExit(id: string, hint: ExitHint): Promise<void> {
    const t = this.tracked.get(id);
    if (t && !(await t.started)) return;
    const inFlight = this.exits.get(id);
    if (inFlight) return inFlight;
    if (this.reported.has(id)) return;
    let info: Dockerode.ContainerInspectInfo | undefined;
    try {
      info = await this.docker.getContainer(id).inspect();
    } catch (err) {
      if (dockerStatus(err) !== 404) {
        // The engine is unreachable: the reconnect will look again.
        this.warn(`inspecting ${hint.name ?? id} after it died: ${describe(err)}`);
        return;
      }
    }
    if (info?.State.Running) return;
    if (!info && !this.tracked.has(id)) return; // not ours, or already reported and removed
    const claimed = this.exits.get(id);
    if (claimed) return claimed;
    if (this.reported.has(id)) return;
    const report = this.reportExit(id, info, hint).finally(() => this.exits.delete(id));
    this.exits.set(id, report);
    return report;
  }

  private async reportExit(id: string, info: Dockerode.ContainerInspectInfo | undefined, hint: ExitHint) {
    const t = this.tracked.get(id);
    const name = t?.name ?? info?.Name.replace(/^\//, "") ?? hint.name ?? id;
    const container = this.docker.getContainer(id);
    let tail = `container ${name} was removed outside the agent; its exit code and output are lost`;
    if (info) {
      try {
        const logs = await container.logs({ stdout: true, stderr: true, follow: false, tail: OUTPUT_TAIL_LINES });
        tail = outputTail(demuxLogs(Buffer.isBuffer(logs) ? logs : Buffer.from(String(logs))));
      } catch (err) {
        tail = `(output unavailable: ${describe(err)})`;
      }
    }
    await this.removeQuietly(container);
    this.tracked.delete(id);
    this.reported.add(id);
    if (this.reported.size > REPORTED_MEMORY) {
      const oldest = this.reported.values().next().value;
      if (oldest !== undefined) this.reported.delete(oldest);
    }
    this.emit({
      kind: "exited",
      containerName: name,
      exitCode: info?.State.ExitCode ?? hint.exitCode ?? UNKNOWN_EXIT_CODE,
      oomKilled: (info?.State.OOMKilled ?? false) || (t?.oomSeen ?? false),
      outputTail: tail,
      timeMs: Date.now(),
    });
  }

  /** The id of a container of ours with this name, tracked or left by an earlier agent. */
  private async findId(containerName: string): Promise<string | undefined> {
    for (const t of this.tracked.values()) if (t.name === containerName) return t.id;
    let info: Dockerode.ContainerInspectInfo;
    try {
      info = await this.docker.getContainer(containerName).inspect();
    } catch (err) {
      if (dockerStatus(err) === 404) return undefined;
      if (isUnreachable(err)) throw unavailableError(this.dockerHost, err);
      throw err;
    }
    const labels = info.Config.Labels ?? {};
    const ours = Object.entries(this.scope).every(([k, v]) => labels[k] === v);
    return ours ? info.Id : undefined;
  }

  private async removeQuietly(container: Dockerode.Container): Promise<void> {
    try {
      await container.remove({ force: true });
    } catch (err) {
      // 404: gone already; 409: removal already in progress.
      const status = dockerStatus(err);
      if (status !== 404 && status !== 409) this.warn(`removing container ${container.id}: ${describe(err)}`);
    }
  }

  private emit(event: RuntimeEvent): void {
    if (this.listeners.length === 0) {
      this.unheard.push(event);
      return;
    }
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (err) {
        this.warn(`a runtime event listener threw: ${describe(err)}`);
      }
    }
  }
}

/** What start() asks the engine to create for a spec (exported for tests). */
export function containerCreateOptions(
  spec: LaunchSpec,
  options: { scopeLabels: Record<string, string>; networkMode: string; logConfig?: DockerRuntimeOptions["logConfig"] },
): Dockerode.ContainerCreateOptions {
  const hostConfig: Dockerode.HostConfig = {
    NetworkMode: options.networkMode,
    ExtraHosts: ["host.docker.internal:host-gateway"],
  };
  if (Number.isFinite(spec.cpuMillis) && spec.cpuMillis > 0) hostConfig.NanoCpus = Math.round(spec.cpuMillis * 1e6);
  if (Number.isFinite(spec.memoryBytes) && spec.memoryBytes > 0) {
    hostConfig.Memory = Math.round(spec.memoryBytes);
    // The limit is the limit: no extra swap on top of it.
    hostConfig.MemorySwap = hostConfig.Memory;
  }
  if (spec.mount) hostConfig.Binds = [`${spec.mount.source}:${spec.mount.target}`];
  if (spec.gpuIndices.length > 0) {
    hostConfig.DeviceRequests = [{ Driver: "nvidia", DeviceIDs: spec.gpuIndices.map(String), Capabilities: [["gpu"]] }];
  }
  if (options.logConfig)
    hostConfig.LogConfig = { Type: options.logConfig.type, Config: { ...options.logConfig.config } };
  const create: Dockerode.ContainerCreateOptions = {
    name: spec.containerName,
    Image: spec.image,
    Env: Object.entries(spec.env).map(([k, v]) => `${k}=${v}`),
    Labels: { ...spec.labels, ...options.scopeLabels },
    HostConfig: hostConfig,
  };
  const cmd = commandOf(spec);
  if (cmd) create.Cmd = cmd;
  return create;
}

/** Cmd for the container; undefined keeps the image's default. */
export function commandOf(spec: Pick<LaunchSpec, "command" | "shell">): string[] | undefined {
  if (spec.shell) {
    const script = spec.command.join(" ").trim();
    return script === "" ? undefined : ["sh", "-c", script];
  }
  return spec.command.length === 0 ? undefined : [...spec.command];
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
