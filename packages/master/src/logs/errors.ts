import { MaroError } from "../errors.js";

/**
 * Bytes from a Forward-protocol client that do not follow the protocol (bad msgpack, a
 * wrong message shape, a failed handshake). The sink logs it and closes that connection.
 */
export class ForwardProtocolError extends Error {
  readonly code = "FORWARD_PROTOCOL";
  constructor(message: string) {
    super(message);
    this.name = "ForwardProtocolError";
  }
}

/**
 * Well-formed data that can never be stored (a tag that is not `maro.<job>.<container>`,
 * a name that could escape the log directory). Permanent: retrying cannot help, so the
 * sink acknowledges and drops such events (and logs why) instead of making clients resend.
 */
export class LogRejectedError extends MaroError {
  constructor(message: string) {
    super("INVALID_ARGUMENT", message);
    this.name = "LogRejectedError";
  }
}
