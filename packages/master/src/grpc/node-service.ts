import type { Logger, MasterHandlers } from "@maro/proto";
import { MaroError } from "../errors.js";
import { adminGuard } from "./guard.js";

/** Cordon, uncordon and drain. */
export function nodeHandlers(log: Logger): Pick<MasterHandlers, "CordonNode" | "UncordonNode" | "DrainNode"> {
  const { unary } = adminGuard(log);
  const todo = () => {
    throw new MaroError("UNIMPLEMENTED", "not implemented yet");
  };
  return { CordonNode: unary(todo), UncordonNode: unary(todo), DrainNode: unary(todo) };
}
