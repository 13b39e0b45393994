import type { ContainerStatusOut, RegisterOut } from "@maro/proto";
import { MaroError } from "../errors.js";
import { holdsResources } from "../jobs/lifecycle.js";
import { mayRequeue, requeueJob } from "../jobs/requeue.js";
import { type JobRecord, type NodeRecord, TERMINAL_JOB_STATES } from "../state/records.js";
import type { ClusterState } from "./state.js";
import type { AgentSession } from "./types.js";

export interface NodeLifecycleHooks {
  requestSchedule(): void;
  /** Ends the job as its components now say (a job out of attempts fails). */
  settle(job: JobRecord): Promise<void>;
}

/**
 * Nodes coming, going and coming back: registration, heartbeats, the TTL that
 * marks a silent node down, cordons and drains, and placing a lost node's
 * jobs again elsewhere without ever running a replica twice.
 */
export class NodeLifecycle {
  private lastCheckMs = 0;

  constructor(
    private readonly state: ClusterState,
    private readonly hooks: NodeLifecycleHooks,
  ) {}

  getNode(name: string): NodeRecord {
    const node = this.state.nodes.get(name);
    if (!node) throw new MaroError("NODE_NOT_FOUND", `node "${name}" not found; see \`maro grass node list\``);
    return node;
  }

  async register(reg: RegisterOut, session: AgentSession): Promise<NodeRecord> {
    const { state } = this;
    const previous = state.sessions.get(reg.nodeName);
    if (previous && previous !== session) previous.close("replaced by a new connection from the same node");
    const known = state.nodes.get(reg.nodeName);
    const now = state.now();
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
      registeredAtMs: known?.registeredAtMs ?? now,
      cordoned: known?.cordoned ?? false,
      labels: { ...reg.labels },
    };
    state.nodes.set(node.name, node);
    state.sessions.set(node.name, session);
    await state.options.store.saveNode(node);
    state.emit("node", "", "", node.name, "ready", "agent registered");
    state.log.info("agent registered", { node: node.name, address: node.address, runtime: node.runtime });
    return node;
  }

  /** After a reconnect's statuses were applied: what the node no longer runs is settled. */
  async reconcile(node: NodeRecord, reported: Set<string>): Promise<void> {
    for (const job of this.state.jobs.values()) {
      const gone = job.retired.filter((r) => r.nodeId === node.id && !reported.has(r.containerName));
      if (gone.length > 0)
        await this.retiredEnded(
          job,
          gone.map((r) => r.containerName),
        );
      const missing = job.components.some(
        (c) => c.nodeId === node.id && c.state === "running" && !reported.has(c.containerName),
      );
      if (missing) await this.lostOnNode(job, node.name, "no longer runs it");
    }
    this.hooks.requestSchedule();
  }

  heartbeat(nodeName: string): void {
    const node = this.state.nodes.get(nodeName);
    if (node) node.lastHeartbeatMs = this.state.now();
  }

  disconnected(nodeName: string, session: AgentSession): void {
    if (this.state.sessions.get(nodeName) !== session) return;
    this.state.sessions.delete(nodeName);
    this.state.log.warn("agent disconnected", { node: nodeName });
    // The node keeps its components until the heartbeat TTL runs out: a
    // quick reconnect (agent restart) loses nothing.
  }

  /**
   * Marks nodes whose heartbeats stopped as down and places their jobs
   * elsewhere. `intervalMs` is how often this runs: when the master's own
   * event loop stalled longer than that, heartbeats may be waiting unread in
   * its sockets, so the stall is not counted against any node.
   */
  async checkHeartbeats(intervalMs = 0): Promise<void> {
    const { state } = this;
    const now = state.now();
    const gap = this.lastCheckMs > 0 ? now - this.lastCheckMs : 0;
    this.lastCheckMs = now;
    if (intervalMs > 0 && gap > 2 * intervalMs) {
      const stalled = gap - intervalMs;
      if (stalled >= 1000) state.log.warn("the master stalled; heartbeat deadlines extended", { stalledMs: stalled });
      for (const node of state.nodes.values()) node.lastHeartbeatMs += stalled;
      return;
    }
    await this.expireRetired(now);
    for (const node of state.nodes.values()) {
      if (node.state !== "ready" || now - node.lastHeartbeatMs <= state.options.heartbeatTtlMs) continue;
      node.state = "down";
      state.sessions.get(node.name)?.close("heartbeat expired");
      state.sessions.delete(node.name);
      await state.options.store.saveNode(node);
      state.emit("node", "", "", node.name, "down", `no heartbeat for ${now - node.lastHeartbeatMs} ms`);
      state.log.warn("node down", { node: node.name });
      for (const job of state.jobs.values()) {
        // Containers being stopped there can no longer be waited for: if the
        // node comes back, reconciliation stops them.
        const unreachable = job.retired.filter((r) => r.nodeId === node.id).map((r) => r.containerName);
        if (unreachable.length > 0) await this.retiredEnded(job, unreachable);
        if (job.components.some((c) => c.nodeId === node.id && holdsResources(c)))
          await this.lostOnNode(job, node.name, "stopped sending heartbeats");
      }
    }
  }

  /** Cordon: no new placements on the node; what runs there goes on. */
  async setCordoned(name: string, cordoned: boolean): Promise<NodeRecord> {
    const node = this.getNode(name);
    this.state.requireStore();
    if (node.cordoned !== cordoned) {
      node.cordoned = cordoned;
      await this.state.options.store.saveNode(node);
      this.state.emit("node", "", "", node.name, cordoned ? "cordoned" : "uncordoned", "");
      this.hooks.requestSchedule();
    }
    return node;
  }

  /** Cordons the node and places every job with a replica there again, elsewhere. */
  async drain(name: string): Promise<{ node: NodeRecord; jobs: string[] }> {
    const node = await this.setCordoned(name, true);
    const moved: string[] = [];
    for (const job of this.state.jobs.values()) {
      if (TERMINAL_JOB_STATES.has(job.state) || job.stopRequested) continue;
      if (!job.components.some((c) => c.nodeId === node.id && holdsResources(c))) continue;
      this.requeue(job, `node ${node.name} is being drained`);
      moved.push(job.name);
      await this.state.persist([job]);
    }
    this.hooks.requestSchedule();
    return { node, jobs: moved };
  }

  /**
   * A status about a container of an earlier placement: a live one is told
   * to stop (again), an ended one frees its resources. False when the name is
   * not a retired container of this node.
   */
  async retiredStatus(nodeName: string, status: ContainerStatusOut): Promise<boolean> {
    const job = this.state.retiredBy.get(status.containerName);
    const retired = job?.retired.find((r) => r.containerName === status.containerName);
    if (!job || !retired || retired.nodeId !== nodeName) return false;
    if (status.state === "running" || status.state === "starting")
      this.state.sendStop(nodeName, status.containerName, 0);
    else await this.retiredEnded(job, [status.containerName]);
    return true;
  }

  /**
   * A replica's node is gone (or no longer runs it): the whole job is placed
   * again elsewhere, within its attempt budget; past it, the job fails.
   */
  async lostOnNode(job: JobRecord, nodeName: string, why: string): Promise<void> {
    if (TERMINAL_JOB_STATES.has(job.state)) return;
    if (mayRequeue(job)) {
      this.requeue(job, `node ${nodeName} ${why}; placing the job again`);
      await this.state.persist([job]);
      this.state.emit("job", job.name, "", nodeName, "pending", job.reason);
      this.hooks.requestSchedule();
      return;
    }
    for (const c of job.components)
      if (c.nodeId === nodeName && holdsResources(c)) this.state.endComponent(c, "lost", `node ${nodeName} ${why}`);
    await this.hooks.settle(job);
  }

  /** Requeues the job in memory and tells reachable nodes to stop its old containers. */
  private requeue(job: JobRecord, reason: string): void {
    const { state } = this;
    for (const c of job.components) if (c.containerName) state.byContainer.delete(c.containerName);
    const { retired } = requeueJob(job, reason, (nodeId) => state.sessions.has(nodeId), state.now());
    for (const r of retired) {
      state.retiredBy.set(r.containerName, job);
      state.sendStop(r.nodeId, r.containerName);
    }
    state.log.warn("job placed again", { job: job.name, attempt: job.attempt, reason });
  }

  /** Old containers of a job stopped (or became unreachable): their resources are free. */
  private async retiredEnded(job: JobRecord, names: string[]): Promise<void> {
    const drop = new Set(names);
    job.retired = job.retired.filter((r) => !drop.has(r.containerName));
    for (const n of names) this.state.retiredBy.delete(n);
    await this.state.persist([job]);
    this.hooks.requestSchedule();
  }

  /**
   * An old container whose stop was never confirmed (its agent lost track of
   * it) stops holding up its job after the grace period and two TTLs: its
   * node is asked again, and any later report of it is stopped on sight.
   */
  private async expireRetired(now: number): Promise<void> {
    const { options } = this.state;
    const limit = options.stopGraceSeconds * 1000 + 2 * options.heartbeatTtlMs;
    for (const job of new Set(this.state.retiredBy.values())) {
      const stale = job.retired.filter((r) => now - r.retiredAtMs > limit);
      if (stale.length === 0) continue;
      for (const r of stale) {
        this.state.sendStop(r.nodeId, r.containerName, 0);
        this.state.log.warn("no stop confirmed for an old container", { job: job.name, container: r.containerName });
      }
      await this.retiredEnded(
        job,
        stale.map((r) => r.containerName),
      );
    }
  }
}
