import { Metadata, status } from "@grpc/grpc-js";

// Every error the master returns has a stable code from this registry. The
// code travels in the `maro-error-code` trailer; the CLI maps it back.
export const ERROR_CODES = {
  INVALID_ARGUMENT: status.INVALID_ARGUMENT,
  JOB_NOT_FOUND: status.NOT_FOUND,
  JOB_EXISTS: status.ALREADY_EXISTS,
  NODE_NOT_FOUND: status.NOT_FOUND,
  SCHEDULE_NOT_FOUND: status.NOT_FOUND,
  UNIMPLEMENTED: status.UNIMPLEMENTED,
  JOB_FINISHED: status.FAILED_PRECONDITION,
  PROTOCOL_MISMATCH: status.FAILED_PRECONDITION,
  NOT_REGISTERED: status.FAILED_PRECONDITION,
  STATE_UNAVAILABLE: status.UNAVAILABLE,
  UNAUTHENTICATED: status.UNAUTHENTICATED,
  PERMISSION_DENIED: status.PERMISSION_DENIED,
  JOIN_REFUSED: status.UNAUTHENTICATED,
  INTERNAL: status.INTERNAL,
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class MaroError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "MaroError";
  }
}

export interface GrpcErrorShape {
  code: number;
  details: string;
  metadata: Metadata;
}

/** Turns any thrown value into a gRPC error; unknown errors become INTERNAL. */
export function toGrpcError(error: unknown): GrpcErrorShape {
  const known = error instanceof MaroError ? error : new MaroError("INTERNAL", describe(error));
  const metadata = new Metadata();
  metadata.set("maro-error-code", known.code);
  return { code: ERROR_CODES[known.code], details: known.message, metadata };
}

export function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
