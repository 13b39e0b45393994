import type { Logger, MasterHandlers } from "@maro/proto";
import { MaroError } from "../errors.js";
import { adminGuard } from "./guard.js";

/** MARO's schedules: several jobs sharing one set of components. */
export function scheduleHandlers(log: Logger): Pick<MasterHandlers, "StartSchedule" | "StopSchedule"> {
  const { unary } = adminGuard(log);
  const todo = () => {
    throw new MaroError("UNIMPLEMENTED", "not implemented yet");
  };
  return { StartSchedule: unary(todo), StopSchedule: unary(todo) };
}
