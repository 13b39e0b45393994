import type { ServerReadableStream, ServerUnaryCall, ServerWritableStream, sendUnaryData } from "@grpc/grpc-js";
import type { Logger } from "@maro/proto";
import { toGrpcError } from "../errors.js";
import { requireIdentity } from "../security/identity.js";

/**
 * Handler wrappers for the admin-only Master service: each checks the
 * caller's certificate first and turns every failure into a coded gRPC error.
 */
export function adminGuard(log: Logger) {
  return {
    unary:
      <Req, Res>(fn: (request: Req) => Promise<Res> | Res) =>
      (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => {
        Promise.resolve()
          .then(() => requireIdentity(call, "admin", call.getPath(), log))
          .then(() => fn(call.request))
          .then(
            (res) => callback(null, res),
            (err: unknown) => callback(toGrpcError(err)),
          );
      },
    serverStream:
      <Req, Res>(fn: (call: ServerWritableStream<Req, Res>) => Promise<void>) =>
      (call: ServerWritableStream<Req, Res>) => {
        Promise.resolve()
          .then(() => requireIdentity(call, "admin", call.getPath(), log))
          .then(() => fn(call))
          .then(
            () => call.end(),
            (err: unknown) => {
              if (!call.cancelled) call.emit("error", toGrpcError(err));
            },
          );
      },
    clientStream:
      <Req, Res>(fn: (call: ServerReadableStream<Req, Res>) => Promise<Res>) =>
      (call: ServerReadableStream<Req, Res>, callback: sendUnaryData<Res>) => {
        Promise.resolve()
          .then(() => requireIdentity(call, "admin", call.getPath(), log))
          .then(() => fn(call))
          .then(
            (res) => callback(null, res),
            (err: unknown) => {
              call.destroy();
              callback(toGrpcError(err));
            },
          );
      },
  };
}

export type AdminGuard = ReturnType<typeof adminGuard>;
