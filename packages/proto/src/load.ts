import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import type { ProtoGrpcType as AgentGrpc } from "./gen/agent.js";
import type { ProtoGrpcType as MasterGrpc } from "./gen/master.js";

/** Bumped on any incompatible change to the agent channel or the Master service. */
export const PROTOCOL_VERSION = 1;

export const protoDir = join(dirname(fileURLToPath(import.meta.url)), "..", "proto");

export type MaroGrpc = AgentGrpc & MasterGrpc;

let cached: MaroGrpc | undefined;

/** Loads maro.v1 with the options the generated types were made with. */
export function loadMaroProto(): MaroGrpc {
  if (cached) return cached;
  const definition = protoLoader.loadSync(["maro/v1/master.proto", "maro/v1/agent.proto"], {
    includeDirs: [protoDir],
    longs: Number,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  cached = grpc.loadPackageDefinition(definition) as unknown as MaroGrpc;
  return cached;
}
