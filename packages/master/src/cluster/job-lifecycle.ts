import type { ContainerStatusOut } from "@maro/proto";
import { deriveJobState, holdsResources } from "../jobs/lifecycle.js";
import { decideExit } from "../jobs/restart.js";
import {
  type ComponentRecord,
  type JobRecord,
  TERMINAL_COMPONENT_STATES,
  TERMINAL_JOB_STATES,
} from "../state/records.js";
import type { ClusterState } from "./state.js";

const NEVER = { policy: "never", max: 0, backoffMs: 0 } as const;

export interface JobLifecycleHooks {
  requestSchedule(): void;
  /** Sends the replica's start to its node again (a restart). */
  restart(job: JobRecord, c: ComponentRecord): Promise<void>;
}

/**
 * What happens to a placed job as its replicas report: running, exits with
 * MARO's codes and restart policies, stops, and the job state that follows.
 */
export class JobLifecycle {
  constructor(
    private readonly state: ClusterState,
    private readonly hooks: JobLifecycleHooks,
  ) {}

  async stopJob(job: JobRecord): Promise<void> {
    if (TERMINAL_JOB_STATES.has(job.state)) return;
    job.stopRequested = true;
    this.stopRest(job, "stopped before it was placed");
    await this.settle(job);
  }

  /** A status report about one of this node's wanted containers. */
  async containerStatus(nodeName: string, job: JobRecord, component: ComponentRecord, status: ContainerStatusOut) {
    if (TERMINAL_COMPONENT_STATES.has(component.state)) return;
    if (status.state === "running") {
      component.state = "running";
      component.startedAtMs = Number(status.timeMs) || this.state.now();
      this.state.emit("component", job.name, component.id, nodeName, "running", "");
    } else if (status.state === "exited" || status.state === "failed_to_start") {
      this.exited(job, component, status);
      this.state.emit("component", job.name, component.id, nodeName, component.state, component.message);
    } else {
      return;
    }
    await this.settle(job);
  }

  private exited(job: JobRecord, component: ComponentRecord, status: ContainerStatusOut): void {
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
      this.state.endComponent(component, component.exitCode === 0 ? "succeeded" : "killed", message);
    } else if (decision.action === "restart") {
      component.state = "restarting";
      component.message = `${message || "exited"}; restart ${component.restarts + 1} of ${policy.max} in ${decision.delayMs} ms`;
      this.scheduleRestart(job, component, decision.delayMs);
    } else if (decision.action === "stop-job") {
      this.state.endComponent(component, "killed", "exit code 65: stop the whole job");
      job.stopRequested = true;
      job.stopReason = `component ${component.id} asked to stop the job (exit code 65)`;
      this.stopRest(job, "the job was stopped by exit code 65");
    } else {
      this.state.endComponent(component, decision.action, message);
    }
  }

  /** Starts the replica again on its node, with its identity (name, index, env), after the backoff. */
  scheduleRestart(job: JobRecord, c: ComponentRecord, delayMs: number): void {
    const timer = setTimeout(() => {
      if (c.state !== "restarting" || job.stopRequested || TERMINAL_JOB_STATES.has(job.state)) return;
      c.restarts += 1;
      c.state = "starting";
      this.state
        .persist([job])
        .then(async () => {
          this.state.emit("component", job.name, c.id, c.nodeId, "starting", `restart ${c.restarts}`);
          await this.hooks.restart(job, c);
        })
        .catch((err) => this.state.log.error("restart failed", { job: job.name, component: c.id, error: String(err) }));
    }, delayMs);
    timer.unref();
  }

  /** Ends the job's unplaced replicas and stops the ones that hold resources. */
  stopRest(job: JobRecord, unplacedReason: string): void {
    for (const c of job.components) {
      if (c.state === "pending") this.state.endComponent(c, "killed", unplacedReason);
      else if (holdsResources(c)) this.stopComponent(c);
    }
  }

  /**
   * Stops a replica that holds resources: one waiting to restart has nothing
   * running and ends at once; one whose node is unreachable ends as killed;
   * otherwise its node is told and its exit report ends it.
   */
  private stopComponent(c: ComponentRecord): void {
    if (c.state === "restarting") this.state.endComponent(c, "killed", "stopped while waiting to restart");
    else if (!this.state.sendStop(c.nodeId, c.containerName))
      this.state.endComponent(c, "killed", "stopped; its node is down");
  }

  /** Re-derives the job's state, stops what a failure leaves running, persists, frees capacity. */
  async settle(job: JobRecord): Promise<void> {
    const before = job.state;
    const derived = deriveJobState(job);
    job.state = derived.state;
    job.reason = derived.reason;
    if (TERMINAL_JOB_STATES.has(job.state) && before !== job.state) {
      job.finishedAtMs = this.state.now();
      this.stopRest(job, "job ended before it was placed");
    }
    await this.state.persist([job]);
    if (before !== job.state) this.state.emit("job", job.name, "", "", job.state, job.reason);
    this.hooks.requestSchedule();
  }
}
