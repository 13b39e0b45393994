import type { ServerWritableStream } from "@grpc/grpc-js";
import type { JobLogsRequestOut, LogLine, MasterHandlers } from "@maro/proto";
import type { Controller } from "../cluster/controller.js";
import { MaroError } from "../errors.js";
import { CAUGHT_UP, type LogStore, type StoredLine } from "../logs/index.js";
import { TERMINAL_JOB_STATES } from "../state/records.js";
import type { AdminGuard } from "./guard.js";

/** How long `logs -f` keeps reading after its job ended: lines still in flight from the nodes. */
const DRAIN_AFTER_END_MS = 1500;

/** Keeps the last n items pushed (all of them when n is 0), in O(1) per push. */
class LastLines {
  private readonly items: StoredLine[] = [];
  private start = 0;

  constructor(private readonly n: number) {}

  push(item: StoredLine): void {
    if (this.n > 0 && this.items.length === this.n) {
      this.items[this.start] = item;
      this.start = (this.start + 1) % this.n;
    } else this.items.push(item);
  }

  /** The kept items in order; empties the buffer. */
  take(): StoredLine[] {
    const out = [...this.items.slice(this.start), ...this.items.slice(0, this.start)];
    this.items.length = 0;
    this.start = 0;
    return out;
  }
}

function send(call: ServerWritableStream<unknown, LogLine>, line: LogLine): Promise<void> {
  if (call.write(line)) return Promise.resolve();
  return new Promise((r) => call.once("drain", () => r()));
}

/** JobLogs: a job's stored lines, filtered to its current run (and a component), optionally followed live. */
export function logsHandlers(
  store: LogStore | null,
  controller: Controller,
  guard: AdminGuard,
): Pick<MasterHandlers, "JobLogs"> {
  return {
    JobLogs: guard.serverStream<JobLogsRequestOut, LogLine>(async (call) => {
      const req = call.request;
      const job = controller.getJob(req.job);
      if (!store) throw new MaroError("INVALID_ARGUMENT", "this master runs no log sink (started without --log-port)");
      const [type, index] = req.component ? req.component.split(":") : [];
      const wanted = job.components.filter(
        (c) => c.containerName && (!type || c.type === type) && (index === undefined || String(c.index) === index),
      );
      if (req.component && wanted.length === 0)
        throw new MaroError("INVALID_ARGUMENT", `component: job ${job.name} has no component "${req.component}"`);
      const componentOf = new Map(wanted.map((c) => [c.containerName, c.id]));
      const toLine = (l: StoredLine): LogLine => ({
        timeMs: l.timeMs,
        component: componentOf.get(l.container) ?? l.container,
        container: l.container,
        stream: l.stream,
        line: l.line,
      });
      const keep = (l: StoredLine) => componentOf.has(l.container);

      const stop = new AbortController();
      call.on("cancelled", () => stop.abort());
      if (!req.follow) {
        const lines = new LastLines(req.tail);
        for await (const l of store.read(job.name, { sinceMs: Number(req.sinceMs) || undefined }))
          if (keep(l)) lines.push(l);
        for (const l of lines.take()) await send(call, toLine(l));
        return;
      }
      // Follow: end once the job has ended and its last lines had time to arrive.
      const endSoon = () => setTimeout(() => stop.abort(), DRAIN_AFTER_END_MS);
      const onEvent = (e: { kind: string; job: string; state: string }) => {
        if (e.kind === "job" && e.job === job.name && TERMINAL_JOB_STATES.has(e.state as never)) endSoon();
      };
      controller.events.on("event", onEvent);
      if (TERMINAL_JOB_STATES.has(controller.getJob(job.name).state)) endSoon();
      try {
        const backlog = new LastLines(req.tail);
        let live = false;
        for await (const item of store.follow(job.name, { sinceMs: Number(req.sinceMs) || undefined }, stop.signal)) {
          if (item === CAUGHT_UP) {
            live = true;
            for (const l of backlog.take()) await send(call, toLine(l));
            continue;
          }
          if (!keep(item)) continue;
          if (live) await send(call, toLine(item));
          else backlog.push(item);
        }
        for (const l of backlog.take()) await send(call, toLine(l));
      } finally {
        controller.events.off("event", onEvent);
      }
    }),
  };
}
