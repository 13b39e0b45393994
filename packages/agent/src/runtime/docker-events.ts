// Follows the Docker events stream for containers that die or run out of
// memory. The stream is reopened with backoff whenever it drops; after every
// (re)connect `onConnected` runs so the owner can inspect what it was tracking
// and catch an exit that happened while nobody was listening. Events are also
// replayed from the daemon's buffer with `since`, so duplicates are possible:
// the owner must treat them idempotently.

import type Dockerode from "dockerode";

export interface DockerContainerEvent {
  action: "die" | "oom";
  /** Container id. */
  id: string;
  /** Container name, from the event's attributes. */
  name: string | undefined;
  /** Exit code the engine put on a `die` event. */
  exitCode: number | undefined;
}

export interface DockerEventWatcherOptions {
  /** Only containers carrying all of these labels. */
  labels: Record<string, string>;
  onEvent(event: DockerContainerEvent): void;
  /** After every successful (re)connect. */
  onConnected(): void;
  onWarning(message: string): void;
  /** Reconnect delay: starts at initialMs, doubles up to maxMs. */
  backoff: { initialMs: number; maxMs: number };
}

interface EventsStream extends NodeJS.ReadableStream {
  destroy?: () => void;
}

export class DockerEventWatcher {
  /** Settles (never rejects) once the first connection attempt is over. */
  readonly ready: Promise<void>;
  private stream: EventsStream | undefined;
  private closed = false;
  private delayMs: number;
  private timer: NodeJS.Timeout | undefined;
  /** Unix seconds of the newest event seen (or of the last connect). */
  private sinceSeconds: number | undefined;
  private connected = false;

  constructor(
    private readonly docker: Dockerode,
    private readonly options: DockerEventWatcherOptions,
  ) {
    this.delayMs = options.backoff.initialMs;
    this.ready = this.connect();
  }

  get isConnected(): boolean {
    return this.connected;
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const stream = this.stream;
    this.stream = undefined;
    this.connected = false;
    stream?.destroy?.();
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    const label = Object.entries(this.options.labels).map(([k, v]) => `${k}=${v}`);
    let stream: EventsStream;
    try {
      stream = await this.docker.getEvents({
        ...(this.sinceSeconds === undefined ? {} : { since: this.sinceSeconds }),
        filters: { type: ["container"], event: ["die", "oom"], label },
      });
    } catch (err) {
      this.options.onWarning(`cannot follow Docker events (${errorText(err)}); retrying in ${this.delayMs} ms`);
      this.scheduleReconnect();
      return;
    }
    if (this.closed) {
      stream.destroy?.();
      return;
    }
    this.stream = stream;
    this.connected = true;
    this.delayMs = this.options.backoff.initialMs;
    // Events from here on are seen live; after a drop, replay from now on.
    this.sinceSeconds ??= Math.floor(Date.now() / 1000) - 1;

    let pending = "";
    stream.on("data", (chunk: Buffer | string) => {
      pending += typeof chunk === "string" ? chunk : chunk.toString("utf8");
      let newline = pending.indexOf("\n");
      while (newline >= 0) {
        const line = pending.slice(0, newline).trim();
        pending = pending.slice(newline + 1);
        if (line !== "") this.handleLine(line);
        newline = pending.indexOf("\n");
      }
    });
    let ended = false;
    const onEnd = (err?: unknown) => {
      if (ended) return;
      ended = true;
      if (this.stream !== stream) return;
      this.stream = undefined;
      this.connected = false;
      if (this.closed) return;
      const why = err === undefined ? "ended" : `failed: ${errorText(err)}`;
      this.options.onWarning(`Docker events stream ${why}; reconnecting in ${this.delayMs} ms`);
      this.scheduleReconnect();
    };
    stream.on("end", () => onEnd());
    stream.on("close", () => onEnd());
    stream.on("error", (err: unknown) => onEnd(err));
    this.options.onConnected();
  }

  private scheduleReconnect(): void {
    if (this.closed || this.timer) return;
    const delay = this.delayMs;
    this.delayMs = Math.min(this.delayMs * 2, this.options.backoff.maxMs);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.connect();
    }, delay);
  }

  private handleLine(line: string): void {
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch {
      this.options.onWarning(`ignoring a Docker event that is not JSON: ${line.slice(0, 200)}`);
      return;
    }
    const event = parseEvent(raw);
    if (!event) return;
    if (event.time !== undefined) this.sinceSeconds = Math.max(this.sinceSeconds ?? 0, event.time);
    this.options.onEvent(event.event);
  }
}

function parseEvent(raw: unknown): { event: DockerContainerEvent; time: number | undefined } | undefined {
  if (typeof raw !== "object" || raw === null) return undefined;
  const r = raw as {
    Type?: unknown;
    Action?: unknown;
    status?: unknown;
    id?: unknown;
    time?: unknown;
    Actor?: unknown;
  };
  if (r.Type !== undefined && r.Type !== "container") return undefined;
  const action = typeof r.Action === "string" ? r.Action : r.status;
  if (action !== "die" && action !== "oom") return undefined;
  const actor =
    typeof r.Actor === "object" && r.Actor !== null ? (r.Actor as { ID?: unknown; Attributes?: unknown }) : {};
  const id = typeof actor.ID === "string" ? actor.ID : r.id;
  if (typeof id !== "string" || id === "") return undefined;
  const attrs =
    typeof actor.Attributes === "object" && actor.Attributes !== null
      ? (actor.Attributes as Record<string, unknown>)
      : {};
  const name = typeof attrs.name === "string" ? attrs.name : undefined;
  const exitText = attrs.exitCode;
  const exitCode = typeof exitText === "string" && /^-?\d+$/.test(exitText) ? Number(exitText) : undefined;
  return {
    event: { action, id, name, exitCode },
    time: typeof r.time === "number" ? r.time : undefined,
  };
}

function errorText(err: unknown): string {
  if (typeof err === "object" && err !== null) {
    const e = err as { code?: unknown; message?: unknown };
    if (typeof e.code === "string") return e.code;
    if (typeof e.message === "string") return e.message;
  }
  return String(err);
}
