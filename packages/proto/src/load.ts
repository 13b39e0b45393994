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

/**
 * Every master certificate carries this DNS name, and clients verify the
 * master under it, whatever address they dial (an IP address is not a valid
 * TLS server name). Only the cluster's own CA can sign it, so it is as strong
 * as checking the address.
 */
export const MASTER_TLS_NAME = "maro-master";

/** Channel options every maro client uses towards the master. */
export const MASTER_CHANNEL_OPTIONS = {
  "grpc.ssl_target_name_override": MASTER_TLS_NAME,
  "grpc.default_authority": MASTER_TLS_NAME,
  "grpc.max_receive_message_length": 8 * 1024 * 1024,
} as const;
