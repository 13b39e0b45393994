import { type ServerDuplexStream, type ServerUnaryCall, type sendUnaryData, status } from "@grpc/grpc-js";
import type { Identity } from "@maro/pki";
import type {
  AgentChannelHandlers,
  AgentMessageOut,
  JoinRequestOut,
  JoinResponse,
  Logger,
  MasterMessage,
} from "@maro/proto";
import { isDnsLabel, PROTOCOL_VERSION } from "@maro/proto";
import type { AgentSession, Controller } from "../cluster/controller.js";
import { describe, toGrpcError } from "../errors.js";
import { requireIdentity } from "../security/identity.js";
import type { Enrolment } from "../security/join.js";
import type { Telemetry } from "../telemetry/index.js";

/** "ipv4:127.0.0.1:5000", "127.0.0.1:5000", "[::1]:5000" → the address alone. */
export function peerAddress(peer: string): string {
  const bare = peer.replace(/^ipv[46]:/, "");
  const v6 = /^\[(.*)\]:\d+$/.exec(bare);
  if (v6) return v6[1] ?? "";
  const i = bare.lastIndexOf(":");
  return i > 0 ? bare.slice(0, i) : bare;
}

export interface AgentChannelOptions {
  clusterId: string;
  clusterName: string;
  heartbeatIntervalMs: number;
  /** The log sink agents and Docker's log driver send to ("" when there is none), and its shared key. */
  logSinkAddress: string;
  logSinkSharedKey: string;
  /** A node reports that it loaded (or failed to load) a pushed image. */
  onImageStatus?: (node: string, status: { sha256: string; present: boolean; name: string; message: string }) => void;
  /** Takes samples and anomalies and answers heartbeats; without it they are ignored (and no pong is sent). */
  telemetry?: Telemetry;
}

/** Validates a Register message; returns the problem, or null when it is acceptable. */
export function registerProblem(
  msg: AgentMessageOut,
  clusterName: string,
  identity: Identity,
): { code: string; message: string } | null {
  const reg = msg.register;
  if (msg.body !== "register" || !reg)
    return { code: "NOT_REGISTERED", message: "the first message on the agent channel must be Register" };
  if (reg.protocolVersion !== PROTOCOL_VERSION)
    return {
      code: "PROTOCOL_MISMATCH",
      message: `agent speaks protocol ${reg.protocolVersion} but this master speaks ${PROTOCOL_VERSION}; install the same maro version on the node and the master`,
    };
  if (reg.clusterName !== clusterName)
    return {
      code: "WRONG_CLUSTER",
      message: `agent wants to join cluster "${reg.clusterName}" but this master runs "${clusterName}"`,
    };
  if (reg.nodeName !== identity.name)
    return {
      code: "PERMISSION_DENIED",
      message: `the certificate of node "${identity.name}" cannot register node "${reg.nodeName}"`,
    };
  if (!isDnsLabel(reg.nodeName))
    return { code: "INVALID_ARGUMENT", message: `node name "${reg.nodeName}" is not a DNS label` };
  const r = reg.allocatable;
  const safe = (n: number) => Number.isSafeInteger(n) && n >= 0;
  const gpus = reg.gpuIndices;
  if (
    !r ||
    !safe(r.cpuMillis) ||
    !safe(r.memoryBytes) ||
    !safe(r.gpu) ||
    r.gpu !== gpus.length ||
    new Set(gpus).size !== gpus.length ||
    gpus.some((g) => !Number.isInteger(g) || g < 0 || g > 1023)
  )
    return {
      code: "INVALID_ARGUMENT",
      message:
        "allocatable resources are missing, negative, too large, or disagree with the GPU list (distinct indices 0-1023, one per GPU)",
    };
  if (reg.runtime !== "docker" && reg.runtime !== "process")
    return { code: "INVALID_ARGUMENT", message: `runtime "${reg.runtime}" is not docker or process` };
  return null;
}

export function agentChannelHandlers(
  controller: Controller,
  enrolment: Enrolment,
  options: AgentChannelOptions,
  log: Logger,
): Pick<AgentChannelHandlers, "Connect" | "Join"> {
  return {
    Join: (call: ServerUnaryCall<JoinRequestOut, JoinResponse>, callback: sendUnaryData<JoinResponse>) => {
      enrolment.join(call.request, call.getPeer()).then(
        (res) => callback(null, res),
        (err: unknown) => callback(toGrpcError(err)),
      );
    },
    Connect: (call: ServerDuplexStream<AgentMessageOut, MasterMessage>) => {
      let identity: Identity;
      try {
        identity = requireIdentity(call, "node", call.getPath(), log);
      } catch (err) {
        call.emit("error", toGrpcError(err));
        return;
      }
      let nodeName: string | null = null;
      let closed = false;
      const session: AgentSession = {
        send: (message) => {
          if (!closed) call.write(message);
        },
        close: (reason) => {
          if (closed) return;
          closed = true;
          call.emit("error", { code: status.ABORTED, details: reason });
          call.end();
        },
      };
      // Messages are handled one at a time, in order.
      let chain: Promise<void> = Promise.resolve();
      call.on("data", (msg: AgentMessageOut) => {
        chain = chain
          .then(() => handle(msg))
          .catch((err) => {
            log.error("agent message failed", { node: nodeName, error: describe(err) });
          });
      });
      const finish = () => {
        if (closed) return;
        closed = true;
        if (nodeName) void controller.agentDisconnected(nodeName, session);
        call.end();
      };
      call.on("end", finish);
      call.on("error", finish);
      call.on("cancelled", finish);

      async function handle(msg: AgentMessageOut): Promise<void> {
        if (closed) return;
        if (nodeName === null) {
          const problem = registerProblem(msg, options.clusterName, identity);
          if (problem) {
            log.warn("agent refused", { ...problem, peer: call.getPeer() });
            call.write({ refused: problem });
            closed = true;
            // The stream also ends with an error status, not OK.
            const code =
              problem.code === "PERMISSION_DENIED"
                ? status.PERMISSION_DENIED
                : problem.code === "INVALID_ARGUMENT"
                  ? status.INVALID_ARGUMENT
                  : status.FAILED_PRECONDITION;
            call.emit("error", { code, details: `${problem.code}: ${problem.message}` });
            return;
          }
          const reg = msg.register;
          if (!reg) return;
          nodeName = reg.nodeName;
          const node = await controller.registerAgent(reg, session);
          session.send({
            registered: {
              nodeId: node.id,
              clusterId: options.clusterId,
              clusterName: options.clusterName,
              heartbeatIntervalMs: options.heartbeatIntervalMs,
              protocolVersion: PROTOCOL_VERSION,
              logSinkAddress: options.logSinkAddress,
              // The sink accepts registered node addresses without its key (Docker's
              // driver cannot authenticate, and a keyed client would wait for a HELO
              // that such a source never gets); others must do the handshake.
              logSinkSharedKey: controller.isNodeAddress(peerAddress(call.getPeer())) ? "" : options.logSinkSharedKey,
            },
          });
          await controller.reconcileAgent(node.name, reg.containers);
          return;
        }
        const telemetry = options.telemetry;
        if (msg.body === "heartbeat") {
          controller.heartbeat(nodeName);
          if (telemetry && msg.heartbeat) session.send({ pong: telemetry.heartbeat(nodeName, msg.heartbeat.timeMs) });
        } else if (msg.body === "sample" && msg.sample) {
          controller.heartbeat(nodeName);
          telemetry?.sample(nodeName, msg.sample);
        } else if (msg.body === "anomaly" && msg.anomaly) telemetry?.anomaly(nodeName, msg.anomaly);
        else if (msg.body === "image" && msg.image) options.onImageStatus?.(nodeName, msg.image);
        else if (msg.body === "status" && msg.status) {
          controller.heartbeat(nodeName);
          await controller.containerStatus(nodeName, msg.status);
        }
      }
    },
  };
}
