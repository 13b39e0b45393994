import type { RestartPolicyRecord } from "../state/records.js";

/** MARO's exit codes: 64 means never restart this replica, 65 means stop the whole job. */
export const EXIT_NEVER_RESTART = 64;
export const EXIT_STOP_JOB = 65;
const MAX_BACKOFF_MS = 5 * 60_000;

export type ExitDecision =
  | { action: "succeeded" }
  | { action: "failed" }
  | { action: "stop-job" }
  | { action: "restart"; delayMs: number };

/**
 * What to do when a replica exits (pure): MARO's exit codes first, then the
 * restart policy, within its budget, with doubling backoff.
 */
export function decideExit(exitCode: number | null, policy: RestartPolicyRecord, restartsSoFar: number): ExitDecision {
  if (exitCode === EXIT_STOP_JOB) return { action: "stop-job" };
  const ok = exitCode === 0;
  const wantsRestart =
    exitCode !== EXIT_NEVER_RESTART &&
    (policy.policy === "always" || (policy.policy === "on-failure" && !ok)) &&
    restartsSoFar < policy.max;
  if (wantsRestart) {
    const delayMs = Math.min(MAX_BACKOFF_MS, policy.backoffMs * 2 ** restartsSoFar);
    return { action: "restart", delayMs };
  }
  return { action: ok ? "succeeded" : "failed" };
}
