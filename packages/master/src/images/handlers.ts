// gRPC handlers for pushed images: ImagePush and ImageList on the Master
// service (the CLI), FetchImage on the agent channel (nodes).

import type { ServerWritableStream } from "@grpc/grpc-js";
import type { AgentChannelHandlers, MasterHandlers } from "@maro/proto";
import { toGrpcError } from "../errors.js";
import type { PeerCall } from "../security/identity.js";
import type { ImageRegistry } from "./registry.js";

/** Throws (a MaroError) when the caller may not make this call, e.g. requireIdentity(call, "admin", …). */
export type Authorize = (call: PeerCall & { getPath(): string }) => void;

export function imageHandlers(
  registry: ImageRegistry,
  authorize: Authorize,
): Pick<MasterHandlers, "ImagePush" | "ImageList"> {
  return {
    ImagePush: (call, callback) => {
      Promise.resolve()
        .then(() => authorize(call))
        .then(() => registry.receive(call))
        .then(
          (info) => callback(null, info),
          (err: unknown) => {
            call.destroy();
            callback(toGrpcError(err));
          },
        );
    },
    ImageList: (call, callback) => {
      Promise.resolve()
        .then(() => authorize(call))
        .then(() => registry.list())
        .then(
          (images) => callback(null, { images }),
          (err: unknown) => callback(toGrpcError(err)),
        );
    },
  };
}

/** Waits until the call can take more data; false when it went away instead. */
function writable<Req, Res>(call: ServerWritableStream<Req, Res>): Promise<boolean> {
  return new Promise((resolve) => {
    const done = (ok: boolean) => () => {
      call.off("drain", onDrain);
      call.off("close", onGone);
      call.off("cancelled", onGone);
      call.off("error", onGone);
      resolve(ok);
    };
    const onDrain = done(true);
    const onGone = done(false);
    call.on("drain", onDrain);
    call.on("close", onGone);
    call.on("cancelled", onGone);
    call.on("error", onGone);
  });
}

export function fetchImageHandler(
  registry: ImageRegistry,
  authorize: Authorize,
): Pick<AgentChannelHandlers, "FetchImage"> {
  return {
    FetchImage: (call) => {
      const fail = (err: unknown) => {
        if (!call.cancelled) call.emit("error", toGrpcError(err));
      };
      let file: ReturnType<ImageRegistry["open"]>;
      try {
        authorize(call);
        file = registry.open(call.request.sha256);
      } catch (err) {
        fail(err);
        return;
      }
      const stop = () => file.destroy();
      call.on("cancelled", stop);
      call.on("close", stop);
      (async () => {
        for await (const data of file) {
          if (call.cancelled || call.destroyed) return;
          if (!call.write({ data: data as Buffer }) && !(await writable(call))) return;
        }
        if (!call.cancelled) call.end();
      })().then(
        () => {
          call.off("cancelled", stop);
          call.off("close", stop);
        },
        (err: unknown) => {
          file.destroy();
          fail(err);
        },
      );
    },
  };
}
