import type { EventEmitter } from "node:events";
import type { ContainerStatusOut, RegisterOut } from "@maro/proto";
import { MaroError } from "../errors.js";
import { holdsResources } from "../jobs/lifecycle.js";
import { newJob, validateJobSpec } from "../jobs/new-job.js";
import { type JobRecord, type JobSpecRecord, type NodeRecord, TERMINAL_JOB_STATES } from "../state/records.js";
import { JobLifecycle } from "./job-lifecycle.js";
import { NodeLifecycle } from "./node-lifecycle.js";
import { Placement } from "./placement.js";
import { ClusterState } from "./state.js";
import type { AgentSession, ControllerOptions } from "./types.js";

export type { AgentSession, ClusterEventRecord, ControllerOptions } from "./types.js";

/**
 * The master's one entry point to the cluster: owns its state in memory,
 * persists every change through the StateStore before acting on it, runs the
 * scheduler and drives the agents. The work is done by JobLifecycle,
 * NodeLifecycle and Placement over one ClusterState.
 */
export class Controller {
  private readonly state: ClusterState;
  private readonly jobLc: JobLifecycle;
  private readonly nodeLc: NodeLifecycle;
  private readonly placement: Placement;

  constructor(options: ControllerOptions) {
    this.state = new ClusterState(options);
    const requestSchedule = () => this.placement.requestSchedule();
    this.placement = new Placement(this.state, { lost: (job, node, why) => this.nodeLc.lostOnNode(job, node, why) });
    this.jobLc = new JobLifecycle(this.state, { requestSchedule, restart: (job, c) => this.placement.restart(job, c) });
    this.nodeLc = new NodeLifecycle(this.state, { requestSchedule, settle: (job) => this.jobLc.settle(job) });
  }

  /** Every job, component and node state change, as ClusterEventRecord. */
  get events(): EventEmitter {
    return this.state.events;
  }

  /**
   * Loads state. Nodes get two TTLs to reconnect before their components
   * count as lost: a restarted master must not fail work that goes on.
   */
  async init(): Promise<void> {
    const { state } = this;
    const loaded = await state.options.store.load();
    state.version = loaded.version;
    for (const job of loaded.jobs) {
      state.jobs.set(job.name, job);
      state.indexContainers(job);
      for (const r of job.retired) state.retiredBy.set(r.containerName, job);
      // Restarts that were waiting when the master stopped go on once nodes are back.
      for (const c of job.components)
        if (c.state === "restarting") this.jobLc.scheduleRestart(job, c, state.options.heartbeatTtlMs);
    }
    for (const node of loaded.nodes) {
      node.lastHeartbeatMs = state.now() + state.options.heartbeatTtlMs;
      state.nodes.set(node.name, node);
    }
    this.requestSchedule();
  }

  // ---- queries ---------------------------------------------------------

  listJobs(): JobRecord[] {
    return [...this.state.jobs.values()].sort(
      (a, b) => a.submittedAtMs - b.submittedAtMs || a.name.localeCompare(b.name),
    );
  }

  getJob(name: string): JobRecord {
    const job = this.state.jobs.get(name);
    if (!job) throw new MaroError("JOB_NOT_FOUND", `job "${name}" not found; see \`maro grass job list\``);
    return job;
  }

  listNodes(): NodeRecord[] {
    return [...this.state.nodes.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  getNode(name: string): NodeRecord {
    return this.nodeLc.getNode(name);
  }

  /** True when a registered node has this address (the log sink lets such sources send without its key). */
  isNodeAddress(address: string): boolean {
    const plain = address.replace(/^::ffff:/, "");
    for (const n of this.state.nodes.values()) if (n.state === "ready" && n.address === plain) return true;
    return false;
  }

  isConnected(nodeName: string): boolean {
    return this.state.sessions.has(nodeName);
  }

  /** The job and replica a container name belongs to, if the master wants it. */
  findContainer(name: string): { job: JobRecord; nodeId: string; componentId: string } | undefined {
    const found = this.state.findByContainer(name);
    return found ? { job: found.job, nodeId: found.component.nodeId, componentId: found.component.id } : undefined;
  }

  /** What replicas hold on each node, summed in one pass over the jobs. */
  allocatedByNode(): Map<string, { cpuMillis: number; memoryBytes: number; gpu: number }> {
    const sums = new Map<string, { cpuMillis: number; memoryBytes: number; gpu: number }>();
    for (const job of this.state.jobs.values())
      for (const c of job.components) {
        if (!holdsResources(c)) continue;
        const sum = sums.get(c.nodeId) ?? { cpuMillis: 0, memoryBytes: 0, gpu: 0 };
        sums.set(c.nodeId, sum);
        sum.cpuMillis += c.resources.cpuMillis;
        sum.memoryBytes += c.resources.memoryBytes;
        sum.gpu += c.resources.gpu;
      }
    return sums;
  }

  // ---- jobs --------------------------------------------------------------

  async submitJob(rawSpec: Parameters<typeof validateJobSpec>[0]): Promise<JobRecord> {
    const [job] = await this.submitJobs([validateJobSpec(rawSpec)]);
    return job as JobRecord;
  }

  /**
   * Queues validated jobs in one commit: all are accepted or none is (a
   * schedule's jobs, say). A name in use by an unfinished job refuses them all.
   */
  async submitJobs(specs: JobSpecRecord[]): Promise<JobRecord[]> {
    const { state } = this;
    const busy = specs
      .map((spec) => state.jobs.get(spec.name))
      .filter((j): j is JobRecord => j !== undefined && !TERMINAL_JOB_STATES.has(j.state));
    if (busy.length > 0)
      throw new MaroError(
        "JOB_EXISTS",
        busy
          .map((j) => `job "${j.name}" is ${j.state}; stop it first (maro grass job stop) or choose another name`)
          .join("; "),
      );
    state.requireStore();
    const jobs = specs.map((spec) => newJob(spec, state.now()));
    for (const job of jobs) {
      // A finished job of the same name is replaced: its containers are no longer known.
      for (const c of state.jobs.get(job.name)?.components ?? []) state.byContainer.delete(c.containerName);
      state.jobs.set(job.name, job);
    }
    await state.persist(jobs);
    for (const job of jobs) state.emit("job", job.name, "", "", "pending", "submitted");
    this.requestSchedule();
    return jobs;
  }

  async stopJob(name: string): Promise<JobRecord> {
    const job = this.getJob(name);
    await this.jobLc.stopJob(job);
    return job;
  }

  /** Stops every unfinished job a schedule started. */
  async stopSchedule(name: string): Promise<JobRecord[]> {
    const all = [...this.state.jobs.values()].filter((j) => j.spec.schedule === name);
    if (all.length === 0)
      throw new MaroError(
        "SCHEDULE_NOT_FOUND",
        `no job was started by schedule "${name}"; see \`maro grass job list\``,
      );
    const live = all.filter((j) => !TERMINAL_JOB_STATES.has(j.state));
    for (const job of live) await this.jobLc.stopJob(job);
    return live;
  }

  // ---- agents and nodes ------------------------------------------------------

  registerAgent(reg: RegisterOut, session: AgentSession): Promise<NodeRecord> {
    return this.nodeLc.register(reg, session);
  }

  /**
   * Matches what a (re)connecting agent runs against what the master wants:
   * wanted containers are adopted, unknown or stale ones are stopped, wanted
   * ones that vanished are lost (and their job placed again).
   */
  async reconcileAgent(nodeName: string, containers: ContainerStatusOut[]): Promise<void> {
    const node = this.state.nodes.get(nodeName);
    if (!node) return;
    for (const status of containers) await this.containerStatus(node.name, status);
    await this.nodeLc.reconcile(node, new Set(containers.map((c) => c.containerName)));
  }

  heartbeat(nodeName: string): void {
    this.nodeLc.heartbeat(nodeName);
  }

  async agentDisconnected(nodeName: string, session: AgentSession): Promise<void> {
    this.nodeLc.disconnected(nodeName, session);
  }

  /** Run every `intervalMs`: see NodeLifecycle.checkHeartbeats. */
  checkHeartbeats(intervalMs = 0): Promise<void> {
    return this.nodeLc.checkHeartbeats(intervalMs);
  }

  setCordoned(name: string, cordoned: boolean): Promise<NodeRecord> {
    return this.nodeLc.setCordoned(name, cordoned);
  }

  drainNode(name: string): Promise<{ node: NodeRecord; jobs: string[] }> {
    return this.nodeLc.drain(name);
  }

  /**
   * A node's report about one container. A node speaks only for its own
   * containers; one the master does not want there (unknown, stale, or placed
   * elsewhere since) is stopped.
   */
  async containerStatus(nodeName: string, status: ContainerStatusOut): Promise<void> {
    if (await this.nodeLc.retiredStatus(nodeName, status)) return;
    const found = this.state.findByContainer(status.containerName);
    if (found && found.component.nodeId === nodeName)
      return this.jobLc.containerStatus(nodeName, found.job, found.component, status);
    if (found)
      this.state.log.warn("status refused: container belongs to another node", {
        node: nodeName,
        container: status.containerName,
        owner: found.component.nodeId,
      });
    if (status.state === "running" || status.state === "starting")
      this.state.sendStop(nodeName, status.containerName, 0);
  }

  requestSchedule(): void {
    this.placement.requestSchedule();
  }
}
