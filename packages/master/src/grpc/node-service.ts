import type { Logger, MasterHandlers, Node } from "@maro/proto";
import type { Controller } from "../cluster/controller.js";
import { MaroError } from "../errors.js";
import { nodesToProto, type TelemetryView } from "./convert.js";
import { adminGuard } from "./guard.js";

/** Cordon, uncordon and drain. */
export function nodeHandlers(
  controller: Controller,
  log: Logger,
  telemetry?: TelemetryView,
): Pick<MasterHandlers, "CordonNode" | "UncordonNode" | "DrainNode"> {
  const { unary } = adminGuard(log);
  const name = (n: string) => {
    if (!n) throw new MaroError("INVALID_ARGUMENT", "name: required; see `maro grass node list`");
    return n;
  };
  const view = (n: Awaited<ReturnType<Controller["setCordoned"]>>) =>
    nodesToProto([n], controller, telemetry)[0] as Node;
  return {
    CordonNode: unary(async (req) => view(await controller.setCordoned(name(req.name), true))),
    UncordonNode: unary(async (req) => view(await controller.setCordoned(name(req.name), false))),
    DrainNode: unary(async (req) => {
      const drained = await controller.drainNode(name(req.name));
      return { node: view(drained.node), jobs: drained.jobs };
    }),
  };
}
