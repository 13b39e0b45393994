import type { ComponentRecord, JobRecord, RetiredContainerRecord } from "../state/records.js";
import { holdsResources } from "./lifecycle.js";

/** A job is placed again at most this many times after losing nodes. */
export const MAX_ATTEMPTS = 5;

export interface Requeued {
  /** Containers of the old placement still to be stopped (their node is reachable). */
  retired: RetiredContainerRecord[];
}

/**
 * Puts a whole (gang) job back in the queue (pure): every replica becomes
 * pending again with its identity (type, index) kept, the attempt count goes
 * up so new container names differ from the old ones, and replicas that still
 * hold resources on reachable nodes are retired: the caller stops them, and
 * the job is not placed again until they have stopped.
 */
export function requeueJob(
  job: JobRecord,
  reason: string,
  reachable: (nodeId: string) => boolean,
  nowMs: number,
): Requeued {
  const retired: RetiredContainerRecord[] = [];
  for (const c of job.components) {
    if (holdsResources(c) && c.state !== "restarting" && c.containerName && reachable(c.nodeId))
      retired.push({
        containerName: c.containerName,
        nodeId: c.nodeId,
        resources: { ...c.resources },
        gpuIndices: [...c.gpuIndices],
        retiredAtMs: nowMs,
      });
    resetComponent(c);
  }
  job.attempt += 1;
  job.retired.push(...retired);
  job.state = "pending";
  job.reason = reason;
  job.scheduledAtMs = 0;
  job.explanation = null;
  return { retired };
}

function resetComponent(c: ComponentRecord): void {
  c.state = "pending";
  c.nodeId = "";
  c.containerName = "";
  c.gpuIndices = [];
  c.exitCode = null;
  c.oomKilled = false;
  c.message = "";
  c.startedAtMs = 0;
  c.finishedAtMs = 0;
  c.address = "";
}

/** True when the job lost a node and may be placed again rather than fail. */
export function mayRequeue(job: JobRecord): boolean {
  return !job.stopRequested && job.attempt < MAX_ATTEMPTS;
}
