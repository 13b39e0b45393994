// The admin client's view of cluster events (WatchEvents), each stamped with
// its arrival time here, and helpers to wait for one.
import type { ClientReadableStream } from "@grpc/grpc-js";
import type { ClusterEventOut, JobSpec, MasterClient } from "@maro/proto";
import { sleep } from "./report-io.js";

export interface SeenEvent {
  event: ClusterEventOut;
  /** performance.now() when it arrived. */
  at: number;
}

export class EventWatch {
  readonly seen: SeenEvent[] = [];
  private call: ClientReadableStream<ClusterEventOut>;

  constructor(client: MasterClient) {
    this.call = client.WatchEvents({ job: "" });
    this.call.on("data", (event: ClusterEventOut) => this.seen.push({ event, at: performance.now() }));
    this.call.on("error", () => {});
  }

  /** The first event from index `from` on that matches, waiting up to timeoutMs; null on timeout. */
  async waitFor(match: (e: ClusterEventOut) => boolean, timeoutMs: number, from = 0): Promise<SeenEvent | null> {
    const deadline = performance.now() + timeoutMs;
    let i = from;
    for (;;) {
      for (; i < this.seen.length; i++) {
        const s = this.seen[i] as SeenEvent;
        if (match(s.event)) return s;
      }
      if (performance.now() > deadline) return null;
      await sleep(5);
    }
  }

  cancel(): void {
    this.call.cancel();
  }
}

export function submitJob(client: MasterClient, spec: JobSpec): Promise<void> {
  return new Promise((resolve, reject) =>
    client.SubmitJob({ spec }, (err) =>
      err ? reject(new Error(`SubmitJob ${spec.name}: ${err.message}`)) : resolve(),
    ),
  );
}

export function stopJob(client: MasterClient, name: string): Promise<void> {
  return new Promise((resolve, reject) =>
    client.StopJob({ name }, (err) => (err ? reject(new Error(`StopJob ${name}: ${err.message}`)) : resolve())),
  );
}

export function nodesReady(client: MasterClient): Promise<Map<string, string>> {
  return new Promise((resolve, reject) =>
    client.ListNodes({}, (err, res) =>
      err || !res
        ? reject(err ?? new Error("ListNodes: no answer"))
        : resolve(new Map(res.nodes.map((n) => [n.name, n.state]))),
    ),
  );
}

/** Waits until the named nodes are registered and ready. */
export async function waitReady(client: MasterClient, names: string[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const nodes = await nodesReady(client);
    if (names.every((n) => nodes.get(n) === "ready")) return;
    if (Date.now() > deadline) throw new Error(`nodes not ready after ${timeoutMs} ms: ${names.join(", ")}`);
    await sleep(50);
  }
}
