import type { Logger, MasterHandlers } from "@maro/proto";
import type { Telemetry } from "../telemetry/index.js";
import { adminGuard } from "./guard.js";

/** Stored events and anomalies, and nodes' resource history. */
export function telemetryHandlers(
  telemetry: Telemetry,
  log: Logger,
): Pick<MasterHandlers, "ListEvents" | "GetNodeMetrics"> {
  const { unary } = adminGuard(log);
  return {
    ListEvents: unary((req) => ({
      events: telemetry.listEvents({
        job: req.job,
        node: req.node,
        limit: req.limit,
        anomaliesOnly: req.anomaliesOnly,
      }),
    })),
    GetNodeMetrics: unary(async (req) => {
      const points = await telemetry.nodeMetrics(req.name, req.sinceMs);
      return {
        node: req.name,
        samples: points.map((p) => ({ timeMs: p.timeMs, node: p.usage, components: [], gone: [], full: true })),
      };
    }),
  };
}
