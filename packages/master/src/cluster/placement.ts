import { type Reservation, schedule } from "@maro/scheduler";
import { containerName } from "../jobs/new-job.js";
import type { ComponentRecord, JobRecord } from "../state/records.js";
import { startMessage } from "./dispatch.js";
import { applyPlan, buildSnapshot } from "./snapshot.js";
import type { ClusterState } from "./state.js";

export interface PlacementHooks {
  /** The replica's node cannot be reached to start it. */
  lost(job: JobRecord, nodeId: string, why: string): Promise<void>;
}

/**
 * Runs the pure scheduler over the state, commits its plan, then sends the
 * starts: a plan is either committed and dispatched, or not applied at all.
 */
export class Placement {
  private queued = false;
  /** The last plan's reservation for the blocked head of the queue (memory is enough). */
  private reservations: Reservation[] = [];

  constructor(
    private readonly state: ClusterState,
    private readonly hooks: PlacementHooks,
  ) {}

  /** Coalesces requests: one scheduling pass per turn of the event loop. */
  requestSchedule(): void {
    if (this.queued) return;
    this.queued = true;
    setImmediate(() => {
      this.queued = false;
      this.run().catch((err) => this.state.log.error("scheduling failed", { error: String(err) }));
    });
  }

  private async run(): Promise<void> {
    const { state } = this;
    const snapshot = buildSnapshot(
      state.version,
      state.jobs.values(),
      state.nodes.values(),
      (n) => state.sessions.has(n.name),
      this.reservations,
    );
    if (snapshot.queue.length === 0) {
      this.reservations = [];
      return;
    }
    const plan = schedule(snapshot, { now: state.now() });
    this.reservations = plan.reservations;
    const byId = new Map([...state.jobs.values()].map((j) => [j.id, j]));
    const applied = applyPlan(plan, byId, state.now(), (job, i) => {
      const c = job.components[i] as ComponentRecord;
      return containerName(state.options.dispatch.clusterName, job, c);
    });
    if (applied.changed.length === 0) return;
    for (const job of applied.placed) {
      for (const c of job.components) c.address = state.nodes.get(c.nodeId)?.address ?? "";
      state.indexContainers(job);
    }
    await state.persist(applied.changed);
    for (const job of applied.placed) {
      state.emit("job", job.name, "", "", "scheduled", "");
      const images = await this.pushedImages(job);
      for (const c of job.components) this.dispatchStart(job, c, images);
    }
  }

  /** Sends one replica's start again (a restart on its node). */
  async restart(job: JobRecord, c: ComponentRecord): Promise<void> {
    this.dispatchStart(job, c, await this.pushedImages(job));
  }

  /** image name → sha256 for the job's images that were pushed to the cluster. */
  private async pushedImages(job: JobRecord): Promise<Map<string, string>> {
    const found = new Map<string, string>();
    const lookup = this.state.options.imageSha256;
    if (!lookup) return found;
    for (const spec of job.spec.components) {
      if (!spec.image || found.has(spec.image)) continue;
      const sha = await lookup(spec.image).catch(() => null);
      if (sha) found.set(spec.image, sha);
    }
    return found;
  }

  private dispatchStart(job: JobRecord, c: ComponentRecord, images: Map<string, string>): void {
    const node = this.state.nodes.get(c.nodeId);
    const session = this.state.sessions.get(c.nodeId);
    if (!node || !session) {
      void this.hooks.lost(job, c.nodeId, "disconnected before the start was sent");
      return;
    }
    const start = startMessage(this.state.options.dispatch, job, c, node);
    start.imageSha256 = images.get(start.spec?.image ?? "") ?? "";
    session.send({ start });
  }
}
