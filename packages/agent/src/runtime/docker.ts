// ContainerRuntime on the Docker Engine API (dockerode). Exits are learned
// from the engine's events stream the moment a container dies; after the exit
// is reported the container is removed, so its name is free again.
//
// Containers outlive the agent. A new agent (after a crash or kill -9) finds
// its running containers by their scope labels and follows them as its own;
// those that stopped while no agent listened are reported by the first sweep,
// before list() answers, so a re-registering agent can hand their exits over.

import Dockerode from "dockerode";
import {
  DEFAULT_DOCKER_HOST,
  demuxLogs,
  describe,
  dockerConnection,
  dockerStatus,
  isLive,
  isUnreachable,
  nameOf,
  startError,
  unavailableError,
} from "./docker-client.js";
import { commandOf, containerCreateOptions, hasLabels, type LogConfig, logConfigFor } from "./docker-create.js";
import { type DockerContainerEvent, DockerEventWatcher } from "./docker-events.js";
import { OUTPUT_TAIL_LINES, outputTail } from "./tail.js";
import {
  type ContainerInfo,
  type ContainerRuntime,
  type LaunchSpec,
  RuntimeError,
  type RuntimeEvent,
} from "./types.js";

export { commandOf, containerCreateOptions };

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
  logConfig?: LogConfig;
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
  /** Containers started (or found running after an agent restart) whose exit is not reported yet. */
  private readonly tracked = new Map<string, Tracked>();
  /** Exit reports in progress, by container id. */
  private readonly exits = new Map<string, Promise<void>>();
  /** Ids whose exit was reported (the newest REPORTED_MEMORY of them). */
  private readonly reported = new Set<string>();
  /** Events emitted before anyone listened (exits found by the first sweep). */
  private readonly unheard: RuntimeEvent[] = [];
  /** Starts in progress by container name: starts of one name run one after another. */
  private readonly starting = new Map<string, Promise<void>>();
  /** The latest sweep (after each events (re)connect). */
  private sweeping: Promise<void> = Promise.resolve();
  private sweeps = 0;
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
      onConnected: () => {
        this.sweeping = this.sweep(this.sweeps++ === 0);
      },
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

  /**
   * Starts a component. A start for a name that already runs (a repeated
   * StartContainer, or a container found again after an agent restart) starts
   * nothing: the running container is reported as running.
   */
  async start(spec: LaunchSpec): Promise<void> {
    if (this.closed) throw new RuntimeError("RUNTIME_UNAVAILABLE", "the docker runtime is closed");
    const name = spec.containerName;
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
    // Listen before starting, so even an instant exit is seen live; and know
    // what an earlier agent left running before deciding a name is free.
    await this.watcher.ready;
    await this.sweeping;
    let container: Dockerode.Container | undefined;
    for (let tries = 0; container === undefined; tries++) {
      try {
        container = await this.docker.createContainer(
          containerCreateOptions(spec, {
            scopeLabels: this.scope,
            networkMode: this.networkMode,
            logConfig: logConfigFor(this.logConfig, spec),
          }),
        );
      } catch (err) {
        if (dockerStatus(err) !== 409 || tries > 0)
          throw startError(err, spec.image, spec.containerName, this.dockerHost);
        if (await this.adoptExisting(spec, err)) return;
        // It had stopped: its exit is reported and the name is free again.
      }
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

  /**
   * The name is taken. If this component runs under it already, it is
   * followed and reported as running (true). If it is ours but stopped, its
   * exit is reported and the container removed (false: create it again).
   * Anything else is NAME_IN_USE.
   */
  private async adoptExisting(spec: LaunchSpec, conflict: unknown): Promise<boolean> {
    let info: Dockerode.ContainerInspectInfo;
    try {
      info = await this.docker.getContainer(spec.containerName).inspect();
    } catch (err) {
      if (dockerStatus(err) === 404) return false; // removed meanwhile
      throw startError(err, spec.image, spec.containerName, this.dockerHost);
    }
    if (!hasLabels(info.Config.Labels, { ...spec.labels, ...this.scope })) {
      throw startError(conflict, spec.image, spec.containerName, this.dockerHost);
    }
    if (!info.State.Running) {
      await this.checkExit(info.Id, { name: spec.containerName });
      return false;
    }
    this.follow(info.Id, spec.containerName);
    const startedAt = Date.parse(info.State.StartedAt);
    this.emit({
      kind: "running",
      containerName: spec.containerName,
      timeMs: Number.isFinite(startedAt) ? startedAt : Date.now(),
    });
    return true;
  }

  /** Tracks a running container this runtime did not start (found again after a restart). */
  private follow(id: string, name: string): void {
    if (!this.tracked.has(id)) this.tracked.set(id, { id, name, started: Promise.resolve(true), oomSeen: false });
  }

  /**
   * SIGTERM, then SIGKILL after the grace period; resolves once the exit is
   * reported and the container removed. A name that is not there (never
   * started, already stopped, removed behind the agent's back) is a no-op.
   */
  async stop(containerName: string, graceSeconds: number): Promise<void> {
    await this.starting.get(containerName)?.catch(() => {});
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

  /**
   * Running components of this runtime's scope whose labels include all of
   * `labels`. One found stopped has its exit reported (and is removed) before
   * this resolves, so it is not listed.
   */
  async list(labels: Record<string, string>): Promise<ContainerInfo[]> {
    await this.watcher.ready;
    await this.sweeping;
    const label = [...Object.entries(this.scope), ...Object.entries(labels)].map(([k, v]) => `${k}=${v}`);
    let containers: Dockerode.ContainerInfo[];
    try {
      containers = await this.docker.listContainers({ all: true, filters: { label } });
    } catch (err) {
      if (isUnreachable(err)) throw unavailableError(this.dockerHost, err);
      throw err;
    }
    const stopped = containers.filter((c) => !isLive(c.State));
    await Promise.all(stopped.map((c) => this.checkExit(c.Id, { name: nameOf(c) })));
    return containers
      .filter((c) => isLive(c.State) || this.tracked.has(c.Id))
      .map((c) => ({ containerName: nameOf(c), running: true, labels: { ...c.Labels } }))
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
   * reported if they are no longer running; running ones an earlier agent
   * started are followed from now on. The first sweep also removes
   * containers an earlier agent created but never started.
   */
  private async sweep(first: boolean): Promise<void> {
    const checks = [...this.tracked.keys()].map((id) => this.checkExit(id, {}));
    let found: Dockerode.ContainerInfo[] = [];
    try {
      found = await this.docker.listContainers({
        all: true,
        filters: { label: Object.entries(this.scope).map(([k, v]) => `${k}=${v}`) },
      });
    } catch (err) {
      this.warn(`looking for containers that exited while the agent was away: ${describe(err)}`);
    }
    for (const c of found) {
      if (this.tracked.has(c.Id)) continue;
      if (isLive(c.State)) this.follow(c.Id, nameOf(c));
      else if (c.State === "created") {
        if (first) checks.push(this.removeQuietly(this.docker.getContainer(c.Id)));
      } else checks.push(this.checkExit(c.Id, { name: nameOf(c) }));
    }
    await Promise.allSettled(checks);
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
    if (info?.State.Status === "created" && !this.tracked.has(id)) return; // never ran: nothing to report
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
    return hasLabels(info.Config.Labels, this.scope) ? info.Id : undefined;
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
