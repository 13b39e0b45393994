import { type ClientReadableStream, credentials, type Metadata, type ServiceError, status } from "@grpc/grpc-js";
import { type ClusterEventOut, loadMaroProto, MASTER_CHANNEL_OPTIONS, type MasterClient } from "@maro/proto";
import { CliError, masterErrorMessage } from "./errors.js";

type Unary<Req, Res> = (req: Req, cb: (err: ServiceError | null, res?: Res) => void) => unknown;

/** Turns a gRPC failure into a CLI error that says what to do. */
export function fromGrpcError(err: ServiceError, address: string): CliError {
  if (err.code === status.UNAVAILABLE)
    return new CliError(
      `cannot reach the master at ${address} (${err.details}); is the cluster running? see \`maro grass status\``,
    );
  if (err.code === status.DEADLINE_EXCEEDED) return new CliError(`the master at ${address} did not answer in time`);
  if (err.code === status.UNAUTHENTICATED || err.code === status.PERMISSION_DENIED)
    return new CliError(`the master at ${address} refused this CLI's certificate: ${err.details}`);
  const code = (err.metadata as Metadata | undefined)?.get("maro-error-code")[0];
  if (code === undefined && err.code === status.UNIMPLEMENTED)
    return new CliError(masterErrorMessage("UNIMPLEMENTED", err.details, address));
  return new CliError(
    masterErrorMessage(code === undefined ? undefined : String(code), err.details || err.message, address),
  );
}

/** The CLI's credentials for one cluster: its CA and the admin certificate. */
export interface AdminTls {
  caPem: string;
  keyPem: string;
  certPem: string;
}

export class MasterApi {
  readonly client: MasterClient;

  constructor(
    readonly address: string,
    tls: AdminTls,
  ) {
    const proto = loadMaroProto();
    const creds = credentials.createSsl(Buffer.from(tls.caPem), Buffer.from(tls.keyPem), Buffer.from(tls.certPem));
    this.client = new proto.maro.v1.Master(address, creds, { ...MASTER_CHANNEL_OPTIONS }) as unknown as MasterClient;
  }

  call<Req, Res>(method: keyof MasterClient & string, req: Req, timeoutMs = 15_000): Promise<Res> {
    const fn = this.client[method] as unknown as Unary<Req, Res>;
    return new Promise<Res>((resolve, reject) => {
      const deadline = new Date(Date.now() + timeoutMs);
      (fn as (req: Req, opts: object, cb: (err: ServiceError | null, res?: Res) => void) => unknown).call(
        this.client,
        req,
        { deadline },
        (err, res) => (err ? reject(fromGrpcError(err, this.address)) : resolve(res as Res)),
      );
    });
  }

  watch(job: string): ClientReadableStream<ClusterEventOut> {
    return this.client.WatchEvents({ job });
  }

  close(): void {
    this.client.close();
  }
}
