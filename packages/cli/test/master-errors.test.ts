// How errors from the master read in the CLI: the master's message, a hint for
// the codes that have one, and the code; UNIMPLEMENTED says to upgrade.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Metadata, type ServiceError, status } from "@grpc/grpc-js";
import { fromGrpcError } from "../src/client.js";
import { masterErrorMessage } from "../src/errors.js";

const ADDRESS = "127.0.0.1:7000";

/** A gRPC failure as grpc-js hands it to a callback, with the master's code trailer when given. */
function serviceError(code: status, details: string, maroCode?: string): ServiceError {
  const metadata = new Metadata();
  if (maroCode) metadata.set("maro-error-code", maroCode);
  return Object.assign(new Error(`${code} ${status[code]}: ${details}`), { code, details, metadata });
}

describe("master errors in the CLI", () => {
  it("NODE_NOT_FOUND points at node list", () => {
    const err = fromGrpcError(serviceError(status.NOT_FOUND, 'no node named "gpu-9"', "NODE_NOT_FOUND"), ADDRESS);
    assert.equal(
      err.message,
      'no node named "gpu-9"; see `maro grass node list <cluster>` for the cluster\'s nodes [NODE_NOT_FOUND]',
    );
    assert.equal(err.exitCode, 1);
    const hinted = fromGrpcError(
      serviceError(status.NOT_FOUND, 'node "x" not found; see `maro grass node list`', "NODE_NOT_FOUND"),
      ADDRESS,
    );
    assert.equal(
      hinted.message,
      'node "x" not found; see `maro grass node list` [NODE_NOT_FOUND]',
      "one hint, not two",
    );
  });

  it("SCHEDULE_NOT_FOUND says where a schedule's name comes from", () => {
    const err = fromGrpcError(
      serviceError(status.NOT_FOUND, 'no schedule named "sweep"', "SCHEDULE_NOT_FOUND"),
      ADDRESS,
    );
    assert.equal(
      err.message,
      'no schedule named "sweep"; a schedule is named by the `name` field of its schedule file [SCHEDULE_NOT_FOUND]',
    );
  });

  it("UNIMPLEMENTED, from the master's registry or from gRPC itself, says to upgrade the master", () => {
    const coded = fromGrpcError(
      serviceError(status.UNIMPLEMENTED, "drain is not implemented", "UNIMPLEMENTED"),
      ADDRESS,
    );
    assert.equal(
      coded.message,
      `the master at ${ADDRESS} does not support this command (drain is not implemented); upgrade the cluster's master to this CLI's version [UNIMPLEMENTED]`,
    );
    const bare = fromGrpcError(
      serviceError(status.UNIMPLEMENTED, "The server does not implement the method /maro.v1.Master/DrainNode"),
      ADDRESS,
    );
    assert.match(
      bare.message,
      /^the master at 127\.0\.0\.1:7000 does not support this command \(The server does not implement the method \/maro\.v1\.Master\/DrainNode\); upgrade/,
    );
  });

  it("other codes keep the master's message and code; no code keeps the message alone", () => {
    assert.equal(masterErrorMessage("JOB_EXISTS", 'job "a" exists', ADDRESS), 'job "a" exists [JOB_EXISTS]');
    assert.equal(masterErrorMessage(undefined, "something", ADDRESS), "something");
    const invalid = fromGrpcError(
      serviceError(status.INVALID_ARGUMENT, "invalid job:\npriority: bad", "INVALID_ARGUMENT"),
      ADDRESS,
    );
    assert.equal(invalid.message, "invalid job:\npriority: bad [INVALID_ARGUMENT]");
  });
});
