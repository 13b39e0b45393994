// The Master API as the CLI's admin certificate reaches it, for tests that
// need more than `maro … -o json` prints: WatchEvents with receive times.

import { type ClientReadableStream, credentials, type ServiceError } from "@grpc/grpc-js";
import { type ClusterEventOut, loadMaroProto, MASTER_CHANNEL_OPTIONS, type MasterClient } from "@maro/proto";

/** An event from WatchEvents with the time this process received it. */
export interface SeenEvent {
  atMs: number;
  event: ClusterEventOut;
}

type Unary = (req: object, opts: object, cb: (err: ServiceError | null, res?: unknown) => void) => unknown;

/** The Master API with the admin certificate, as the CLI holds it. */
export class AdminApi {
  readonly client: MasterClient;
  constructor(address: string, tls: { caPem: string; keyPem: string; certPem: string }) {
    const creds = credentials.createSsl(Buffer.from(tls.caPem), Buffer.from(tls.keyPem), Buffer.from(tls.certPem));
    const proto = loadMaroProto();
    this.client = new proto.maro.v1.Master(address, creds, { ...MASTER_CHANNEL_OPTIONS }) as unknown as MasterClient;
  }
  call<T>(method: keyof MasterClient & string, req: object, timeoutMs = 10_000): Promise<T> {
    const fn = this.client[method] as unknown as Unary;
    return new Promise<T>((resolve, reject) => {
      fn.call(this.client, req, { deadline: new Date(Date.now() + timeoutMs) }, (err, res) =>
        err ? reject(new Error(`${method}: ${err.details || err.message} (code ${err.code})`)) : resolve(res as T),
      );
    });
  }
  /** Collects every event from now on (optionally one job's) into the returned list. */
  watch(job = ""): { seen: SeenEvent[]; close(): void } {
    const seen: SeenEvent[] = [];
    const stream: ClientReadableStream<ClusterEventOut> = this.client.WatchEvents({ job });
    stream.on("data", (event: ClusterEventOut) => seen.push({ atMs: Date.now(), event }));
    stream.on("error", () => {});
    return { seen, close: () => stream.cancel() };
  }
  close(): void {
    this.client.close();
  }
}
