export { Controller } from "./cluster/controller.js";
export { ERROR_CODES, type ErrorCode, MaroError } from "./errors.js";
export { type MasterInfoFile, type MasterOptions, type RunningMaster, startMaster } from "./server.js";
export { type RunningRedis, startRedisServer } from "./state/redis-server.js";
export { MASTER_VERSION } from "./version.js";
