import { EventEmitter } from "node:events";
import { MaroError } from "../errors.js";
import type { ComponentRecord, JobRecord, NodeRecord } from "../state/records.js";
import type { AgentSession, ClusterEventRecord, ControllerOptions } from "./types.js";

/**
 * The cluster as the master holds it in memory: jobs, nodes, agent sessions
 * and the indexes over them, with the one way to persist a change (serialised
 * commits against the store's version) and to announce it (events).
 */
export class ClusterState {
  readonly events = new EventEmitter();
  readonly jobs = new Map<string, JobRecord>();
  readonly nodes = new Map<string, NodeRecord>();
  readonly sessions = new Map<string, AgentSession>();
  /** Container name → its job and replica: status reports are looked up here, not by a scan. */
  readonly byContainer = new Map<string, { job: JobRecord; component: ComponentRecord }>();
  /** Container name of an earlier placement being stopped → its job. */
  readonly retiredBy = new Map<string, JobRecord>();
  version = 0;
  readonly now: () => number;
  private writes: Promise<unknown> = Promise.resolve();
  /** Jobs changed since the last commit started, by name: each is written once per commit. */
  private readonly dirty = new Map<string, JobRecord>();
  private nextCommit: Promise<void> | null = null;

  constructor(readonly options: ControllerOptions) {
    this.now = options.now ?? Date.now;
  }

  get log() {
    return this.options.log;
  }

  /** Changes users ask for are refused while Redis is unreachable, before anything changes. */
  requireStore(): void {
    if (!this.options.store.available())
      throw new MaroError(
        "STATE_UNAVAILABLE",
        "the cluster's Redis is unreachable; the master keeps reconnecting, try again shortly",
      );
  }

  indexContainers(job: JobRecord): void {
    for (const component of job.components)
      if (component.containerName) this.byContainer.set(component.containerName, { job, component });
  }

  findByContainer(name: string): { job: JobRecord; component: ComponentRecord } | undefined {
    return name ? this.byContainer.get(name) : undefined;
  }

  endComponent(c: ComponentRecord, state: ComponentRecord["state"], message: string): void {
    c.state = state;
    c.message = message;
    c.finishedAtMs = this.now();
  }

  /** Tells a node to stop a container; false when the node cannot be reached. */
  sendStop(nodeId: string, containerName: string, graceSeconds = this.options.stopGraceSeconds): boolean {
    const session = this.sessions.get(nodeId);
    if (!session) return false;
    session.send({ stop: { containerName, graceSeconds } });
    return true;
  }

  /**
   * Persists jobs with group commit: changes made while a commit is in flight
   * join the next one, which writes each changed job once, as it is then.
   * Resolves when a commit holding these jobs' current state is in Redis.
   */
  persist(jobs: JobRecord[]): Promise<void> {
    for (const job of jobs) this.dirty.set(job.name, job);
    if (!this.nextCommit) {
      const next = this.writes.then(() => this.commitDirty());
      this.nextCommit = next;
      this.writes = next.catch(() => {});
    }
    return this.nextCommit;
  }

  private async commitDirty(): Promise<void> {
    this.nextCommit = null;
    const jobs = [...this.dirty.values()];
    this.dirty.clear();
    if (jobs.length === 0) return;
    const { store } = this.options;
    let next = await store.commit(this.version, jobs);
    if (next === null) {
      this.log.error("state changed under the master; is another master using this Redis?");
      const loaded = await store.load();
      next = await store.commit(loaded.version, jobs);
      if (next === null) throw new MaroError("STATE_UNAVAILABLE", "could not commit cluster state");
    }
    this.version = next;
  }

  emit(
    kind: ClusterEventRecord["kind"],
    job: string,
    component: string,
    node: string,
    state: string,
    message: string,
  ): void {
    const event: ClusterEventRecord = { timeMs: this.now(), kind, job, component, node, state, message };
    this.events.emit("event", event);
  }
}
