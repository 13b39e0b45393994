// @maro/scheduler: pure placement. State in (Snapshot), plan out (Plan).

export {
  formatAmount,
  formatCores,
  formatCpu,
  formatGpu,
  formatMemory,
  formatMetric,
  formatResources,
} from "./format.js";
export { type CapacityView, Ledger, type Mark } from "./ledger.js";
export { placementOrder, queueOrder } from "./order.js";
export { type Outcome, Planner, schedule } from "./schedule.js";
export * from "./types.js";
export { type JobProblem, validateJob } from "./validate.js";
