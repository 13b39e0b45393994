export { isLabelKey, isLabelValue, LABEL_KEY_RULE, LABEL_VALUE_RULE, MAX_LABELS } from "./labels.js";
export type { MaroGrpc } from "./load.js";
export { loadMaroProto, MASTER_CHANNEL_OPTIONS, MASTER_TLS_NAME, PROTOCOL_VERSION, protoDir } from "./load.js";
export { createLogger, type LogFields, type Logger, silentLogger } from "./log.js";
export { freePort } from "./net.js";
export * from "./types.js";
export * from "./units.js";
