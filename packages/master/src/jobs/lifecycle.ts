import {
  type ComponentRecord,
  type JobRecord,
  type JobState,
  TERMINAL_COMPONENT_STATES,
  TERMINAL_JOB_STATES,
} from "../state/records.js";

export interface DerivedState {
  state: JobState;
  reason: string;
}

function describeFailure(c: ComponentRecord): string {
  if (c.state === "lost") return `component ${c.id} was lost: ${c.message || "its node went down"}`;
  if (c.oomKilled) return `component ${c.id} was killed for running out of memory (exit code ${c.exitCode ?? 137})`;
  if (c.exitCode !== null) return `component ${c.id} exited with code ${c.exitCode}`;
  return `component ${c.id} failed: ${c.message}`;
}

/**
 * A job's state follows from its components (pure):
 * - a job that already ended keeps its state;
 * - any failed or lost component fails the job (the others are then stopped);
 * - a stop request ends as killed once every component has ended;
 * - every component succeeded → succeeded; all started → running;
 * - placed but not all started → scheduled; otherwise pending.
 */
export function deriveJobState(job: JobRecord): DerivedState {
  if (TERMINAL_JOB_STATES.has(job.state)) return { state: job.state, reason: job.reason };
  const failed = job.components.find((c) => c.state === "failed" || c.state === "lost");
  if (failed) return { state: "failed", reason: describeFailure(failed) };
  const allEnded = job.components.every((c) => TERMINAL_COMPONENT_STATES.has(c.state));
  if (job.stopRequested) {
    const why = job.stopReason || "stopped by request";
    return allEnded ? { state: "killed", reason: why } : { state: job.state, reason: `stopping: ${why}` };
  }
  if (job.components.length > 0 && job.components.every((c) => c.state === "succeeded")) {
    return { state: "succeeded", reason: "" };
  }
  if (job.components.every((c) => c.state === "running" || c.state === "restarting" || c.state === "succeeded")) {
    return { state: "running", reason: "" };
  }
  if (job.components.every((c) => c.state !== "pending")) return { state: "scheduled", reason: "" };
  return { state: "pending", reason: job.reason };
}

/** Components still holding resources on a node. */
export function holdsResources(c: ComponentRecord): boolean {
  return c.state === "starting" || c.state === "running" || c.state === "restarting";
}
