import type { Logger, MasterHandlers } from "@maro/proto";
import { MaroError } from "../errors.js";
import { adminGuard } from "./guard.js";

/** Stored events and anomalies, and nodes' resource history. */
export function telemetryHandlers(log: Logger): Pick<MasterHandlers, "ListEvents" | "GetNodeMetrics"> {
  const { unary } = adminGuard(log);
  const todo = () => {
    throw new MaroError("UNIMPLEMENTED", "not implemented yet");
  };
  return { ListEvents: unary(todo), GetNodeMetrics: unary(todo) };
}
