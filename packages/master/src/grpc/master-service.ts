import type { ServerWritableStream } from "@grpc/grpc-js";
import type { ClusterEvent, ClusterStatus, Logger, MasterHandlers } from "@maro/proto";
import { PROTOCOL_VERSION } from "@maro/proto";
import type { ClusterEventRecord, Controller } from "../cluster/controller.js";
import { MaroError, toGrpcError } from "../errors.js";
import { requireIdentity } from "../security/identity.js";
import type { Enrolment } from "../security/join.js";
import { MASTER_VERSION } from "../version.js";
import { jobToProto, nodesToProto, type TelemetryView } from "./convert.js";
import { adminGuard } from "./guard.js";

export interface StatusInfo {
  clusterId: string;
  clusterName: string;
  redisAddress: string;
  startedAtMs: number;
}

/** The job, node, status and join-token part of the Master service. */
export function clusterHandlers(
  controller: Controller,
  enrolment: Enrolment,
  info: StatusInfo,
  log: Logger,
  telemetry?: TelemetryView,
): Pick<
  MasterHandlers,
  | "SubmitJob"
  | "StopJob"
  | "ListJobs"
  | "GetJob"
  | "ListNodes"
  | "GetClusterStatus"
  | "WatchEvents"
  | "RotateJoinToken"
  | "RevokeJoinToken"
> {
  const guard = adminGuard(log);
  const unary = guard.unary;
  const nodeName = (id: string) => id;
  const requireName = (name: string) => {
    if (!name) throw new MaroError("INVALID_ARGUMENT", "name: required");
    return name;
  };
  return {
    SubmitJob: unary(async (req) => ({ job: jobToProto(await controller.submitJob(req.spec), nodeName) })),
    StopJob: unary(async (req) => ({ job: jobToProto(await controller.stopJob(requireName(req.name)), nodeName) })),
    ListJobs: unary(() => ({ jobs: controller.listJobs().map((j) => jobToProto(j, nodeName, telemetry)) })),
    GetJob: unary((req) => jobToProto(controller.getJob(requireName(req.name)), nodeName, telemetry)),
    ListNodes: unary(() => ({ nodes: nodesToProto(controller.listNodes(), controller, telemetry) })),
    GetClusterStatus: unary((): ClusterStatus => {
      const nodes = controller.listNodes();
      const jobsByState: Record<string, number> = {};
      for (const j of controller.listJobs()) jobsByState[j.state] = (jobsByState[j.state] ?? 0) + 1;
      const allocatable = { cpuMillis: 0, memoryBytes: 0, gpu: 0 };
      const allocated = { cpuMillis: 0, memoryBytes: 0, gpu: 0 };
      let ready = 0;
      const held = controller.allocatedByNode();
      for (const n of nodes) {
        const up = n.state === "ready" && controller.isConnected(n.name);
        if (!up) continue;
        ready++;
        const a = held.get(n.id) ?? { cpuMillis: 0, memoryBytes: 0, gpu: 0 };
        allocatable.cpuMillis += n.allocatable.cpuMillis;
        allocatable.memoryBytes += n.allocatable.memoryBytes;
        allocatable.gpu += n.allocatable.gpu;
        allocated.cpuMillis += a.cpuMillis;
        allocated.memoryBytes += a.memoryBytes;
        allocated.gpu += a.gpu;
      }
      return {
        clusterId: info.clusterId,
        clusterName: info.clusterName,
        masterVersion: MASTER_VERSION,
        protocolVersion: PROTOCOL_VERSION,
        nodesReady: ready,
        nodesTotal: nodes.length,
        jobsByState,
        allocatable,
        allocated,
        redisAddress: info.redisAddress,
        startedAtMs: info.startedAtMs,
      };
    }),
    RotateJoinToken: unary(() => enrolment.rotate()),
    RevokeJoinToken: unary(async () => ({ id: await enrolment.revoke() })),
    WatchEvents: (call: ServerWritableStream<{ job: string }, ClusterEvent>) => {
      try {
        requireIdentity(call, "admin", call.getPath(), log);
      } catch (err) {
        call.emit("error", toGrpcError(err));
        return;
      }
      const filter = call.request.job;
      const listener = (event: ClusterEventRecord) => {
        if (!filter || event.job === filter) call.write(event);
      };
      controller.events.on("event", listener);
      const done = () => controller.events.off("event", listener);
      call.on("cancelled", done);
      call.on("close", done);
      call.on("error", done);
    },
  };
}
