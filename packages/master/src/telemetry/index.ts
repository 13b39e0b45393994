export type { HistoryPoint } from "./buckets.js";
export { Telemetry, type TelemetryCluster, type TelemetryOptions } from "./telemetry.js";
export type { ComponentUsageRecord, NodeUsageRecord, StoredEvent } from "./types.js";
