// Job logs on disk: <dir>/<job>/<container>.log as JSON lines, rotated by size to
// .log.1, .log.2, …, with the total kept under a bound by deleting the oldest rotated
// files. Appends resolve once durable; reads merge containers by time; follow yields
// what is stored, then each newly committed line (pushed by the writer, no polling).
import { EventEmitter } from "node:events";
import { fstatSync, mkdirSync, openSync, renameSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { ContainerLog } from "./container-log.js";
import { checkName, type LogEvent } from "./log-event.js";
import { listJobFiles, rotatedPath, type StoredLine, scanLogDir } from "./log-files.js";
import { type ContainerView, closeViews, containerLines, lastLines, mergeArrays, mergeByTime } from "./log-read.js";

export interface LogStoreOptions {
  dir: string;
  /** Rotate a container's file before it grows past this (default 10 MiB). */
  maxFileBytes?: number;
  /** Delete the oldest rotated files to stay under this (default 1 GiB). Active files are never deleted. */
  maxTotalBytes?: number;
  /** A split line longer than this is stored in pieces of this many characters (default 1 Mi). */
  maxLineChars?: number;
  /** Files kept open for appending; the least recently used idle one is closed beyond this (default 256). */
  maxOpenFiles?: number;
  /**
   * true (default): an append resolves once its data is on disk (O_DSYNC or fdatasync), so an
   * ack survives a machine crash. false: once written to the OS (survives a master crash,
   * not a machine crash); much cheaper when clients send one line per ack (Docker's driver).
   */
  fsync?: boolean;
  /** Lines a follower may lag behind before its iteration fails (default 100 000). */
  maxFollowBacklog?: number;
  now?: () => number;
}

export interface ReadOptions {
  container?: string;
  /** Only the last N lines (after the other filters). */
  tail?: number;
  /** Only lines with time >= sinceMs. */
  sinceMs?: number;
}

/** What follow yields once the stored lines are out and live lines begin. */
export const CAUGHT_UP = "caught-up";
export type CaughtUp = typeof CAUGHT_UP;

interface Rotated {
  path: string;
  n: number;
  size: number;
  rotatedAtMs: number;
}

export class LogStore {
  private readonly dir: string;
  private readonly maxFileBytes: number;
  private readonly maxTotalBytes: number;
  private readonly now: () => number;
  private readonly open = new Map<string, ContainerLog>();
  private readonly rotated = new Map<string, Rotated[]>(); // "<job>/<container>" → files, .1 first
  private readonly events = new EventEmitter();
  private total = 0;
  private indexed = false;

  constructor(private readonly options: LogStoreOptions) {
    this.dir = options.dir;
    this.maxFileBytes = options.maxFileBytes ?? 10 * 1024 * 1024;
    this.maxTotalBytes = options.maxTotalBytes ?? 1024 * 1024 * 1024;
    this.now = options.now ?? Date.now;
    this.events.setMaxListeners(0);
  }

  /** Appends one container's events; resolves once they are durable. Bad names reject with LogRejectedError. */
  async append(job: string, container: string, events: LogEvent[]): Promise<void> {
    checkName("job", job);
    checkName("container", container);
    if (events.length === 0) return;
    this.index();
    await this.logFor(job, container).append(events);
  }

  /** A job's stored lines, in time order across its containers. */
  async *read(job: string, options: ReadOptions = {}): AsyncGenerator<StoredLine> {
    const views = this.snapshot(job, options.container);
    try {
      yield* this.readViews(views, options);
    } finally {
      closeViews(views);
    }
  }

  /**
   * The stored lines (as read), then CAUGHT_UP, then each line committed from then on, until
   * the signal aborts. No line is missed or repeated between the two parts.
   */
  async *follow(job: string, options: ReadOptions = {}, signal?: AbortSignal): AsyncGenerator<StoredLine | CaughtUp> {
    const limit = this.options.maxFollowBacklog ?? 100_000;
    const backlog: StoredLine[] = [];
    let wake: (() => void) | null = null;
    const onLines = (lineJob: string, container: string, lines: StoredLine[]) => {
      if (lineJob !== job || (options.container !== undefined && container !== options.container)) return;
      for (const line of lines) if (options.sinceMs === undefined || line.timeMs >= options.sinceMs) backlog.push(line);
      wake?.();
    };
    const onAbort = () => wake?.();
    // Subscribing and taking the snapshot happen in one synchronous step: a commit is either in both or after.
    this.events.on("lines", onLines);
    let views: ContainerView[] = [];
    try {
      views = this.snapshot(job, options.container);
      signal?.addEventListener("abort", onAbort);
      yield* this.readViews(views, options);
      closeViews(views);
      views = [];
      yield CAUGHT_UP;
      let next = 0;
      while (!signal?.aborted) {
        if (backlog.length - next > limit) throw new Error(`log follower fell more than ${limit} lines behind`);
        if (next < backlog.length) {
          yield backlog[next++] as StoredLine;
          if (next > 1024 && next * 2 > backlog.length) {
            backlog.splice(0, next);
            next = 0;
          }
          continue;
        }
        backlog.length = 0;
        next = 0;
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        wake = null;
      }
    } finally {
      this.events.off("lines", onLines);
      signal?.removeEventListener("abort", onAbort);
      closeViews(views);
    }
  }

  /** Bytes in the store's files, as it accounts them. */
  stats(): { totalBytes: number; openFiles: number } {
    this.index();
    return { totalBytes: this.total, openFiles: this.open.size };
  }

  /** Writes what is queued and closes every file. */
  async close(): Promise<void> {
    const logs = [...this.open.values()];
    this.open.clear();
    await Promise.all(logs.map((l) => l.close()));
  }

  private logFor(job: string, container: string): ContainerLog {
    const key = `${job}/${container}`;
    let log = this.open.get(key);
    if (log) return log;
    const jobDir = join(this.dir, job);
    mkdirSync(jobDir, { recursive: true });
    log = new ContainerLog(
      jobDir,
      job,
      container,
      {
        maxFileBytes: this.maxFileBytes,
        fsync: this.options.fsync ?? true,
        wantsLines: () => this.events.listenerCount("lines") > 0,
        partialLimits: { maxLineChars: this.options.maxLineChars ?? 1024 * 1024, maxPending: 16 },
        rotate: (l) => this.rotate(l),
        committed: (l, lines, bytes) => this.committed(l, lines, bytes),
      },
      this.now,
    );
    this.open.set(key, log);
    if (this.open.size > (this.options.maxOpenFiles ?? 256)) this.closeIdle();
    return log;
  }

  private closeIdle(): void {
    let oldest: [string, ContainerLog] | undefined;
    for (const entry of this.open)
      if (!entry[1].busy && (!oldest || entry[1].lastUsedMs < oldest[1].lastUsedMs)) oldest = entry;
    if (!oldest) return;
    this.open.delete(oldest[0]);
    void oldest[1].close();
  }

  private rotate(log: ContainerLog): void {
    const key = `${log.job}/${log.container}`;
    let files = this.rotated.get(key);
    if (!files) {
      files = [];
      this.rotated.set(key, files);
    }
    for (let i = files.length - 1; i >= 0; i--) {
      const file = files[i] as Rotated;
      const to = rotatedPath(log.jobDir, log.container, file.n + 1);
      renameSync(file.path, to);
      file.path = to;
      file.n++;
    }
    const first = rotatedPath(log.jobDir, log.container, 1);
    renameSync(log.path, first);
    files.unshift({ path: first, n: 1, size: log.committed, rotatedAtMs: this.now() });
    log.reopenAfterRotation();
  }

  private committed(log: ContainerLog, lines: StoredLine[], bytes: number): void {
    this.total += bytes;
    if (this.total > this.maxTotalBytes) this.trim();
    if (lines.length > 0) this.events.emit("lines", log.job, log.container, lines);
  }

  /** Deletes the oldest rotated files until the total fits (or none are left). */
  private trim(): void {
    while (this.total > this.maxTotalBytes) {
      let oldest: { files: Rotated[]; file: Rotated } | undefined;
      for (const files of this.rotated.values()) {
        const file = files[files.length - 1]; // the highest n is the oldest of its container
        if (file && (!oldest || file.rotatedAtMs < oldest.file.rotatedAtMs)) oldest = { files, file };
      }
      if (!oldest) return;
      oldest.files.pop();
      this.total -= oldest.file.size;
      try {
        unlinkSync(oldest.file.path);
      } catch {}
    }
  }

  /** Accounts the files already on disk, once. */
  private index(): void {
    if (this.indexed) return;
    this.indexed = true;
    const found = scanLogDir(this.dir);
    this.total += found.totalBytes;
    for (const [key, files] of found.rotated)
      this.rotated.set(
        key,
        files.map((f) => ({ path: f.path, n: f.n, size: f.size, rotatedAtMs: f.mtimeMs })),
      );
  }

  /** Opens every file of the job (or one container) now, with the bytes to read of each. Synchronous. */
  private snapshot(job: string, container?: string): ContainerView[] {
    checkName("job", job);
    if (container !== undefined) checkName("container", container);
    const jobDir = join(this.dir, job);
    const views: ContainerView[] = [];
    const byContainer = listJobFiles(jobDir);
    for (const name of [...byContainer.keys()].sort()) {
      if (container !== undefined && name !== container) continue;
      const view: ContainerView = { container: name, files: [] };
      views.push(view);
      const writer = this.open.get(`${job}/${name}`);
      for (const file of byContainer.get(name) ?? []) {
        let fd: number;
        try {
          fd = openSync(file.path, "r");
        } catch {
          continue; // deleted meanwhile: it was the oldest
        }
        // The active file may hold bytes of a batch still being written: read only what is committed.
        const limit = file.n === 0 && writer ? writer.committed : fstatSync(fd).size;
        view.files.push({ fd, limit });
      }
    }
    return views;
  }

  private async *readViews(views: ContainerView[], options: ReadOptions): AsyncGenerator<StoredLine> {
    const since = options.sinceMs;
    const keep = since === undefined ? () => true : (l: StoredLine) => l.timeMs >= since;
    if (options.tail !== undefined) {
      const tail = Math.max(0, Math.floor(options.tail));
      if (tail === 0) return;
      const lists = await Promise.all(views.map((v) => lastLines(v, tail, keep)));
      yield* mergeArrays(lists).slice(-tail);
      return;
    }
    yield* mergeByTime(views.map((v) => containerLines(v, keep)));
  }
}
