export type { MaroGrpc } from "./load.js";
export { loadMaroProto, PROTOCOL_VERSION, protoDir } from "./load.js";
export * from "./types.js";
