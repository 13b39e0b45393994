import type { AgentChannelHandlers, Logger, MasterHandlers } from "@maro/proto";
import type { Controller } from "../cluster/controller.js";
import { fetchImageHandler, imageHandlers } from "../images/handlers.js";
import type { ImageRegistry } from "../images/registry.js";
import type { LogStore } from "../logs/index.js";
import { requireIdentity } from "../security/identity.js";
import type { Enrolment } from "../security/join.js";
import type { Telemetry } from "../telemetry/index.js";
import { type AgentChannelOptions, agentChannelHandlers } from "./agent-channel.js";
import { dataHandlers } from "./data-service.js";
import { adminGuard } from "./guard.js";
import { logsHandlers } from "./logs-service.js";
import { clusterHandlers, type StatusInfo } from "./master-service.js";
import { nodeHandlers } from "./node-service.js";
import { scheduleHandlers } from "./schedule-service.js";
import { telemetryHandlers } from "./telemetry-service.js";

export interface HandlerDeps {
  controller: Controller;
  enrolment: Enrolment;
  images: ImageRegistry;
  /** null when the master runs no log sink. */
  logs: LogStore | null;
  dataRoot: string;
  status: StatusInfo;
  channel: AgentChannelOptions;
  telemetry: Telemetry;
  log: Logger;
}

/** Every method of both services, each behind its authorisation rule. */
export function allHandlers(deps: HandlerDeps): { master: MasterHandlers; agent: AgentChannelHandlers } {
  const guard = adminGuard(deps.log);
  const admin = (call: Parameters<typeof requireIdentity>[0] & { getPath(): string }) => {
    requireIdentity(call, "admin", call.getPath(), deps.log);
  };
  const node = (call: Parameters<typeof requireIdentity>[0] & { getPath(): string }) => {
    requireIdentity(call, "node", call.getPath(), deps.log);
  };
  return {
    master: {
      ...clusterHandlers(deps.controller, deps.enrolment, deps.status, deps.log, deps.telemetry),
      ...dataHandlers(deps.dataRoot, guard),
      ...logsHandlers(deps.logs, deps.controller, guard),
      ...imageHandlers(deps.images, admin),
      ...nodeHandlers(deps.controller, deps.log, deps.telemetry),
      ...scheduleHandlers(deps.controller, deps.log),
      ...telemetryHandlers(deps.telemetry, deps.log),
    },
    agent: {
      ...agentChannelHandlers(
        deps.controller,
        deps.enrolment,
        { ...deps.channel, telemetry: deps.telemetry },
        deps.log,
      ),
      ...fetchImageHandler(deps.images, node),
    },
  };
}
