import { type Reservation, schedule } from "@maro/scheduler";
import { containerName } from "../jobs/new-job.js";
import type { ComponentRecord, JobRecord } from "../state/records.js";
import { startMessage } from "./dispatch.js";
import { applyPlan, buildSnapshot } from "./snapshot.js";
import type { ClusterState } from "./state.js";

/** Scheduling passes are at least this far apart. */
const MIN_GAP_MS = 10;

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
  private lastRunAt = Number.NEGATIVE_INFINITY;
  /** The last plan's reservation for the blocked head of the queue (memory is enough). */
  private reservations: Reservation[] = [];

  constructor(
    private readonly state: ClusterState,
    private readonly hooks: PlacementHooks,
  ) {}

  /**
   * Coalesces requests: one scheduling pass per turn of the event loop, and
   * at most one per MIN_GAP_MS, so a flood of status reports while jobs wait
   * for room does not rebuild the snapshot for each report.
   */
  requestSchedule(): void {
    if (this.queued) return;
    this.queued = true;
    const go = () => {
      this.queued = false;
      this.lastRunAt = performance.now();
      this.run().catch((err) => this.state.log.error("scheduling failed", { error: String(err) }));
    };
    const wait = this.lastRunAt + MIN_GAP_MS - performance.now();
    if (wait > 0) setTimeout(go, wait);
    else setImmediate(go);
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
    if (!snapshot) {
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
