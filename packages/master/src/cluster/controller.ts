import { EventEmitter } from "node:events";
import type { ContainerStatusOut, Logger, MasterMessage, RegisterOut } from "@maro/proto";
import { schedule } from "@maro/scheduler";
import { MaroError } from "../errors.js";
import { deriveJobState, holdsResources } from "../jobs/lifecycle.js";
import { containerName, newJob, validateJobSpec } from "../jobs/new-job.js";
import { decideExit } from "../jobs/restart.js";
import {
  type ComponentRecord,
  type JobRecord,
  type NodeRecord,
  TERMINAL_COMPONENT_STATES,
  TERMINAL_JOB_STATES,
} from "../state/records.js";
import type { StateStore } from "../state/store.js";
import { type DispatchContext, startMessage } from "./dispatch.js";
import { applyPlan, buildSnapshot } from "./snapshot.js";

const NEVER = { policy: "never", max: 0, backoffMs: 0 } as const;

/** The master's link to one connected agent. */
export interface AgentSession {
  send(message: MasterMessage): void;
  close(reason: string): void;
}

export interface ClusterEventRecord {
  timeMs: number;
  kind: "job" | "component" | "node";
  job: string;
  component: string;
  node: string;
  state: string;
  message: string;
}

export interface ControllerOptions {
  store: StateStore;
  dispatch: DispatchContext;
  log: Logger;
  heartbeatTtlMs: number;
  stopGraceSeconds: number;
  /** The sha256 of an image pushed to the cluster under this name, so agents load it first. */
  imageSha256?: (name: string) => Promise<string | null>;
  now?: () => number;
}

/**
 * Owns the cluster's state in memory, persists every change through the
 * StateStore before acting on it, runs the scheduler and drives the agents.
 */
export class Controller {
  readonly events = new EventEmitter();
  private readonly jobs = new Map<string, JobRecord>();
  private readonly nodes = new Map<string, NodeRecord>();
  private readonly sessions = new Map<string, AgentSession>();
  /** Container name → its job and replica: status reports are looked up here, not by a scan. */
  private readonly byContainer = new Map<string, { job: JobRecord; component: ComponentRecord }>();
  private version = 0;
  private writes: Promise<unknown> = Promise.resolve();
  private scheduleQueued = false;
  private readonly now: () => number;

  constructor(private readonly options: ControllerOptions) {
    this.now = options.now ?? Date.now;
  }

  /**
   * Loads state. Nodes get two TTLs to reconnect before their components
   * count as lost: a restarted master must not fail work that goes on.
   */
  async init(): Promise<void> {
    const loaded = await this.options.store.load();
    this.version = loaded.version;
    for (const job of loaded.jobs) {
      this.jobs.set(job.name, job);
      this.indexContainers(job);
      // Restarts that were waiting when the master stopped go on once nodes are back.
      for (const c of job.components)
        if (c.state === "restarting") this.scheduleRestart(job, c, this.options.heartbeatTtlMs);
    }
    for (const node of loaded.nodes) {
      node.lastHeartbeatMs = this.now() + this.options.heartbeatTtlMs;
      this.nodes.set(node.name, node);
    }
    this.requestSchedule();
  }

  // ---- queries ---------------------------------------------------------

  listJobs(): JobRecord[] {
    return [...this.jobs.values()].sort((a, b) => a.submittedAtMs - b.submittedAtMs || a.name.localeCompare(b.name));
  }

  getJob(name: string): JobRecord {
    const job = this.jobs.get(name);
    if (!job) throw new MaroError("JOB_NOT_FOUND", `job "${name}" not found; see \`maro grass job list\``);
    return job;
  }

  listNodes(): NodeRecord[] {
    return [...this.nodes.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  /** True when a registered node has this address (the log sink lets such sources send without its key). */
  isNodeAddress(address: string): boolean {
    const plain = address.replace(/^::ffff:/, "");
    for (const n of this.nodes.values()) if (n.state === "ready" && n.address === plain) return true;
    return false;
  }

  isConnected(nodeName: string): boolean {
    return this.sessions.has(nodeName);
  }

  allocatedOn(nodeId: string): { cpuMillis: number; memoryBytes: number; gpu: number } {
    const sum = { cpuMillis: 0, memoryBytes: 0, gpu: 0 };
    for (const job of this.jobs.values())
      for (const c of job.components)
        if (c.nodeId === nodeId && holdsResources(c)) {
          sum.cpuMillis += c.resources.cpuMillis;
          sum.memoryBytes += c.resources.memoryBytes;
          sum.gpu += c.resources.gpu;
        }
    return sum;
  }

  // ---- jobs --------------------------------------------------------------

  async submitJob(rawSpec: Parameters<typeof validateJobSpec>[0]): Promise<JobRecord> {
    const spec = validateJobSpec(rawSpec);
    const existing = this.jobs.get(spec.name);
    if (existing && !TERMINAL_JOB_STATES.has(existing.state))
      throw new MaroError(
        "JOB_EXISTS",
        `job "${spec.name}" is ${existing.state}; stop it first (maro grass job stop) or choose another name`,
      );
    const job = newJob(spec, this.now());
    // A finished job of the same name is replaced: its containers are no longer known.
    for (const c of existing?.components ?? []) this.byContainer.delete(c.containerName);
    this.jobs.set(job.name, job);
    await this.persist([job]);
    this.emit("job", job.name, "", "", "pending", "submitted");
    this.requestSchedule();
    return job;
  }

  async stopJob(name: string): Promise<JobRecord> {
    const job = this.getJob(name);
    if (TERMINAL_JOB_STATES.has(job.state)) return job;
    job.stopRequested = true;
    this.stopRest(job, "stopped before it was placed");
    await this.settle(job);
    return job;
  }

  // ---- agents ------------------------------------------------------------

  async registerAgent(reg: RegisterOut, session: AgentSession): Promise<NodeRecord> {
    const previous = this.sessions.get(reg.nodeName);
    if (previous && previous !== session) previous.close("replaced by a new connection from the same node");
    const now = this.now();
    const node: NodeRecord = {
      id: reg.nodeName,
      name: reg.nodeName,
      state: "ready",
      address: reg.address,
      runtime: reg.runtime,
      agentVersion: reg.agentVersion,
      allocatable: {
        cpuMillis: reg.allocatable?.cpuMillis ?? 0,
        memoryBytes: reg.allocatable?.memoryBytes ?? 0,
        gpu: reg.allocatable?.gpu ?? 0,
      },
      gpuIndices: [...reg.gpuIndices],
      lastHeartbeatMs: now,
      registeredAtMs: this.nodes.get(reg.nodeName)?.registeredAtMs ?? now,
    };
    this.nodes.set(node.name, node);
    this.sessions.set(node.name, session);
    await this.options.store.saveNode(node);
    this.emit("node", "", "", node.name, "ready", "agent registered");
    this.options.log.info("agent registered", { node: node.name, address: node.address, runtime: node.runtime });
    return node;
  }

  /**
   * Matches what a (re)connecting agent runs against what the master wants:
   * unknown containers are stopped, wanted ones that vanished are lost.
   */
  async reconcileAgent(nodeName: string, containers: ContainerStatusOut[]): Promise<void> {
    const node = this.nodes.get(nodeName);
    if (!node) return;
    const reported = new Set(containers.map((c) => c.containerName));
    for (const status of containers) await this.containerStatus(node.name, status);
    for (const job of this.jobs.values()) {
      const missing = job.components.filter(
        (c) => c.nodeId === node.id && c.state === "running" && !reported.has(c.containerName),
      );
      for (const c of missing) this.endComponent(c, "lost", `node ${node.name} no longer runs it`);
      if (missing.length > 0) await this.settle(job);
    }
    this.requestSchedule();
  }

  heartbeat(nodeName: string): void {
    const node = this.nodes.get(nodeName);
    if (node) node.lastHeartbeatMs = this.now();
  }

  async agentDisconnected(nodeName: string, session: AgentSession): Promise<void> {
    if (this.sessions.get(nodeName) !== session) return;
    this.sessions.delete(nodeName);
    this.options.log.warn("agent disconnected", { node: nodeName });
    // The node keeps its components until the heartbeat TTL runs out: a
    // quick reconnect (agent restart) loses nothing.
  }

  /** Marks nodes whose heartbeats stopped as down and their components as lost. */
  async checkHeartbeats(): Promise<void> {
    const now = this.now();
    for (const node of this.nodes.values()) {
      if (node.state !== "ready" || now - node.lastHeartbeatMs <= this.options.heartbeatTtlMs) continue;
      node.state = "down";
      this.sessions.get(node.name)?.close("heartbeat expired");
      this.sessions.delete(node.name);
      await this.options.store.saveNode(node);
      this.emit("node", "", "", node.name, "down", `no heartbeat for ${now - node.lastHeartbeatMs} ms`);
      this.options.log.warn("node down", { node: node.name });
      for (const job of this.jobs.values()) {
        const lost = job.components.filter((c) => c.nodeId === node.id && holdsResources(c));
        for (const c of lost) this.endComponent(c, "lost", `node ${node.name} stopped sending heartbeats`);
        if (lost.length > 0) await this.settle(job);
      }
    }
  }

  async containerStatus(nodeName: string, status: ContainerStatusOut): Promise<void> {
    const found = this.findByContainer(status.containerName);
    if (!found || found.component.nodeId !== nodeName) {
      // A node speaks only for its own containers: a report about another
      // node's container is refused (logged, changes nothing).
      if (found)
        this.options.log.warn("status refused: container belongs to another node", {
          node: nodeName,
          container: status.containerName,
          owner: found.component.nodeId,
        });
      else if (status.state === "running" || status.state === "starting") {
        this.sessions.get(nodeName)?.send({ stop: { containerName: status.containerName, graceSeconds: 0 } });
      }
      return;
    }
    const { job, component } = found;
    if (TERMINAL_COMPONENT_STATES.has(component.state)) return;
    if (status.state === "running") {
      component.state = "running";
      component.startedAtMs = Number(status.timeMs) || this.now();
      this.emit("component", job.name, component.id, nodeName, "running", "");
    } else if (status.state === "exited" || status.state === "failed_to_start") {
      component.exitCode = status.hasExitCode ? status.exitCode : null;
      component.oomKilled = status.oomKilled;
      component.outputTail = status.outputTail;
      const stopped = job.stopRequested || TERMINAL_JOB_STATES.has(job.state);
      const message =
        status.state === "failed_to_start"
          ? status.message
          : status.oomKilled
            ? "out of memory"
            : component.exitCode === 0
              ? ""
              : `exit code ${status.exitCode}`;
      const policy = job.spec.components.find((s) => s.type === component.type)?.restart ?? NEVER;
      const decision =
        status.state === "failed_to_start"
          ? ({ action: "failed" } as const)
          : decideExit(component.exitCode, policy, component.restarts);
      if (stopped) {
        this.endComponent(component, component.exitCode === 0 ? "succeeded" : "killed", message);
      } else if (decision.action === "restart") {
        component.state = "restarting";
        component.message = `${message || "exited"}; restart ${component.restarts + 1} of ${policy.max} in ${decision.delayMs} ms`;
        this.scheduleRestart(job, component, decision.delayMs);
      } else if (decision.action === "stop-job") {
        this.endComponent(component, "killed", "exit code 65: stop the whole job");
        job.stopRequested = true;
        job.stopReason = `component ${component.id} asked to stop the job (exit code 65)`;
        this.stopRest(job, "the job was stopped by exit code 65");
      } else {
        this.endComponent(component, decision.action, message);
      }
      this.emit("component", job.name, component.id, nodeName, component.state, component.message);
    } else {
      return;
    }
    await this.settle(job);
  }

  /** Starts the replica again on its node, with its identity (name, index, env), after the backoff. */
  private scheduleRestart(job: JobRecord, c: ComponentRecord, delayMs: number): void {
    const timer = setTimeout(() => {
      if (c.state !== "restarting" || job.stopRequested || TERMINAL_JOB_STATES.has(job.state)) return;
      c.restarts += 1;
      c.state = "starting";
      this.persist([job])
        .then(async () => {
          this.emit("component", job.name, c.id, c.nodeId, "starting", `restart ${c.restarts}`);
          this.dispatchStart(job, c, await this.pushedImages(job));
        })
        .catch((err) =>
          this.options.log.error("restart failed", { job: job.name, component: c.id, error: String(err) }),
        );
    }, delayMs);
    timer.unref();
  }

  // ---- scheduling ----------------------------------------------------------

  requestSchedule(): void {
    if (this.scheduleQueued) return;
    this.scheduleQueued = true;
    setImmediate(() => {
      this.scheduleQueued = false;
      this.runSchedule().catch((err) => this.options.log.error("scheduling failed", { error: String(err) }));
    });
  }

  private async runSchedule(): Promise<void> {
    const snapshot = buildSnapshot(this.version, this.jobs.values(), this.nodes.values(), (n) =>
      this.sessions.has(n.name),
    );
    if (snapshot.queue.length === 0) return;
    const plan = schedule(snapshot, { now: this.now() });
    const byId = new Map([...this.jobs.values()].map((j) => [j.id, j]));
    const applied = applyPlan(plan, byId, this.now(), (job, i) => {
      const c = job.components[i] as ComponentRecord;
      return containerName(this.options.dispatch.clusterName, job, c);
    });
    if (applied.changed.length === 0) return;
    for (const job of applied.placed) this.indexContainers(job);
    await this.persist(applied.changed);
    for (const job of applied.placed) {
      this.emit("job", job.name, "", "", "scheduled", "");
      const images = await this.pushedImages(job);
      for (const c of job.components) this.dispatchStart(job, c, images);
    }
  }

  /** image name → sha256 for the job's images that were pushed to the cluster. */
  private async pushedImages(job: JobRecord): Promise<Map<string, string>> {
    const found = new Map<string, string>();
    const lookup = this.options.imageSha256;
    if (!lookup) return found;
    for (const spec of job.spec.components) {
      if (!spec.image || found.has(spec.image)) continue;
      const sha = await lookup(spec.image).catch(() => null);
      if (sha) found.set(spec.image, sha);
    }
    return found;
  }

  private dispatchStart(job: JobRecord, c: ComponentRecord, images: Map<string, string>): void {
    const node = this.nodes.get(c.nodeId);
    const session = this.sessions.get(c.nodeId);
    if (!node || !session) {
      this.endComponent(c, "lost", `node ${c.nodeId} disconnected before the start was sent`);
      void this.settle(job);
      return;
    }
    const start = startMessage(this.options.dispatch, job, c, node);
    start.imageSha256 = images.get(start.spec?.image ?? "") ?? "";
    session.send({ start });
  }

  // ---- helpers -------------------------------------------------------------

  private indexContainers(job: JobRecord): void {
    for (const component of job.components)
      if (component.containerName) this.byContainer.set(component.containerName, { job, component });
  }

  private findByContainer(name: string): { job: JobRecord; component: ComponentRecord } | undefined {
    return name ? this.byContainer.get(name) : undefined;
  }

  private endComponent(c: ComponentRecord, state: ComponentRecord["state"], message: string): void {
    c.state = state;
    c.message = message;
    c.finishedAtMs = this.now();
  }

  /** Ends the job's unplaced replicas and stops the ones that hold resources. */
  private stopRest(job: JobRecord, unplacedReason: string): void {
    for (const c of job.components) {
      if (c.state === "pending") this.endComponent(c, "killed", unplacedReason);
      else if (holdsResources(c)) this.stopComponent(c);
    }
  }

  /**
   * Stops a replica that holds resources: one waiting to restart has nothing
   * running and ends at once; one whose node is unreachable ends as killed;
   * otherwise its node is told and its exit report ends it.
   */
  private stopComponent(c: ComponentRecord): void {
    if (c.state === "restarting") this.endComponent(c, "killed", "stopped while waiting to restart");
    else if (!this.sendStop(c)) this.endComponent(c, "killed", "stopped; its node is down");
  }

  /** Returns false when the component's node cannot be reached. */
  private sendStop(c: ComponentRecord): boolean {
    const session = this.sessions.get(c.nodeId);
    if (!session) return false;
    session.send({ stop: { containerName: c.containerName, graceSeconds: this.options.stopGraceSeconds } });
    return true;
  }

  /** Re-derives the job's state, stops what a failure leaves running, persists, frees capacity. */
  private async settle(job: JobRecord): Promise<void> {
    const before = job.state;
    const derived = deriveJobState(job);
    job.state = derived.state;
    job.reason = derived.reason;
    if (TERMINAL_JOB_STATES.has(job.state) && before !== job.state) {
      job.finishedAtMs = this.now();
      this.stopRest(job, "job ended before it was placed");
    }
    await this.persist([job]);
    if (before !== job.state) this.emit("job", job.name, "", "", job.state, job.reason);
    this.requestSchedule();
  }

  /** Serialises commits so each one is made against the version the last one produced. */
  private persist(jobs: JobRecord[]): Promise<void> {
    const snapshot = jobs.map((j) => structuredClone(j));
    const write = this.writes.then(async () => {
      let next = await this.options.store.commit(this.version, snapshot);
      if (next === null) {
        this.options.log.error("state changed under the master; is another master using this Redis?");
        const loaded = await this.options.store.load();
        next = await this.options.store.commit(loaded.version, snapshot);
        if (next === null) throw new MaroError("STATE_UNAVAILABLE", "could not commit cluster state");
      }
      this.version = next;
    });
    this.writes = write.catch(() => {});
    return write;
  }

  private emit(
    kind: ClusterEventRecord["kind"],
    job: string,
    component: string,
    node: string,
    state: string,
    message: string,
  ) {
    const event: ClusterEventRecord = { timeMs: this.now(), kind, job, component, node, state, message };
    this.events.emit("event", event);
  }
}
