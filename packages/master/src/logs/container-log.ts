// The file one container's lines are appended to. Appends queue up and are written
// together (group commit): one durable write per batch, after which the
// batch's promises resolve, so a resolved append is durable. File-structure changes
// (open, rotate) are synchronous, so a reader's synchronous snapshot of the directory
// always sees whole files and a committed size that matches them.
import {
  closeSync,
  constants,
  fdatasync,
  fstatSync,
  ftruncate,
  openSync,
  readFileSync,
  readSync,
  write,
} from "node:fs";
import { open, rename, unlink } from "node:fs/promises";
import { dirname } from "node:path";
import type { LogEvent } from "./log-event.js";
import { activePath, formatLine, isoOf, journalPath, type StoredLine } from "./log-files.js";
import { type JoinedLine, type PartialLimits, PartialLines } from "./partial-lines.js";

export interface ContainerLogHooks {
  maxFileBytes: number;
  /** false: a batch counts as committed once written to the OS, without O_DSYNC/fdatasync. */
  fsync: boolean;
  /** Whether anyone wants the committed lines (followers); if not, they are not built. */
  wantsLines(): boolean;
  partialLimits: PartialLimits;
  /** Moves the active file to `.1` (and older ones up); synchronous. */
  rotate(log: ContainerLog): void;
  /** A batch is durable: account its bytes and publish its lines. */
  committed(log: ContainerLog, lines: StoredLine[], bytes: number): void;
}

interface Queued {
  text: string;
  lines: JoinedLine[];
  resolve: () => void;
  reject: (err: unknown) => void;
}

const MAX_DATE_MS = 8.64e15;

// With O_DSYNC each write returns once its data is durable: one system call (and one
// thread-pool round trip) per batch instead of write + fdatasync. Where the platform
// has no O_DSYNC, an fdatasync follows each write.
const O_DSYNC: number | undefined = constants.O_DSYNC;
const BASE_FLAGS = constants.O_RDWR | constants.O_APPEND | constants.O_CREAT;

function writeAll(fd: number, buf: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const step = (offset: number) =>
      write(fd, buf, offset, buf.length - offset, null, (err, written) => {
        if (err) reject(err);
        else if (offset + written < buf.length) step(offset + written);
        else resolve();
      });
    step(0);
  });
}

function datasync(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fdatasync(fd, (err) => (err ? reject(err) : resolve())));
}

async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export class ContainerLog {
  readonly path: string;
  /** Bytes of the active file that are durable (and whole lines). */
  committed: number;
  lastUsedMs = 0;
  private fd: number;
  private readonly flags: number;
  private queue: Queued[] = [];
  private draining = false;
  private newFile: boolean;
  private needsNewline: boolean;
  private readonly partials: PartialLines;

  constructor(
    readonly jobDir: string,
    readonly job: string,
    readonly container: string,
    private readonly hooks: ContainerLogHooks,
    private readonly now: () => number,
  ) {
    this.path = activePath(jobDir, container);
    this.partials = new PartialLines(hooks.partialLimits);
    try {
      this.partials.load(readFileSync(journalPath(jobDir, container), "utf8"));
    } catch {}
    this.flags = BASE_FLAGS | (hooks.fsync ? (O_DSYNC ?? 0) : 0);
    this.fd = openSync(this.path, this.flags, 0o644);
    this.committed = fstatSync(this.fd).size;
    this.newFile = this.committed === 0;
    // A line torn by a crash must not swallow the next one.
    const last = Buffer.alloc(1);
    this.needsNewline =
      this.committed > 0 && readSync(this.fd, last, 0, 1, this.committed - 1) === 1 && last[0] !== 0x0a;
  }

  get busy(): boolean {
    return this.draining || this.queue.length > 0;
  }

  /** Appends the events' lines (joining split ones); resolves once they are durable. */
  append(events: LogEvent[]): Promise<void> {
    this.lastUsedMs = this.now();
    const lines = this.partials.push(events);
    let text = "";
    for (let i = 0; i < lines.length; i++) {
      let line = lines[i] as JoinedLine;
      if (!(Number.isFinite(line.timeMs) && Math.abs(line.timeMs) < MAX_DATE_MS)) {
        line = { ...line, timeMs: this.now() };
        lines[i] = line;
      }
      text += formatLine(line.timeMs, line.stream, line.line);
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ text, lines, resolve, reject });
      if (!this.draining) void this.drain();
    });
  }

  /** The committed lines as followers see them (built only when someone listens). */
  private stored(batch: Queued[]): StoredLine[] {
    if (!this.hooks.wantsLines()) return [];
    const out: StoredLine[] = [];
    for (const q of batch)
      for (const l of q.lines)
        out.push({
          container: this.container,
          time: isoOf(l.timeMs),
          timeMs: l.timeMs,
          stream: l.stream,
          line: l.line,
        });
    return out;
  }

  /** Closes the file once queued appends are written. */
  async close(): Promise<void> {
    while (this.busy) await new Promise<void>((r) => setImmediate(r));
    closeSync(this.fd);
  }

  /** Swaps in a fresh active file after the store renamed the old one (synchronous). */
  reopenAfterRotation(): void {
    closeSync(this.fd);
    this.fd = openSync(this.path, this.flags, 0o644);
    this.committed = 0;
    this.newFile = true;
    this.needsNewline = false;
  }

  private async drain(): Promise<void> {
    this.draining = true;
    try {
      while (this.queue.length > 0) {
        const batch = this.queue;
        this.queue = [];
        const journal = this.partials.takeJournal();
        try {
          const bytes = await this.writeBatch(batch);
          if (journal !== null) await this.writeJournal(journal);
          // The size readers snapshot and the lines followers get change together, synchronously.
          this.committed += bytes;
          this.hooks.committed(this, this.stored(batch), bytes);
          for (const q of batch) q.resolve();
        } catch (err) {
          for (const q of batch) q.reject(err);
        }
      }
    } finally {
      this.draining = false;
    }
  }

  private async writeBatch(batch: Queued[]): Promise<number> {
    let text = batch.length === 1 ? (batch[0] as Queued).text : batch.map((q) => q.text).join("");
    if (text.length === 0) return 0;
    if (this.needsNewline) text = `\n${text}`;
    const buf = Buffer.from(text, "utf8");
    if (this.committed > 0 && this.committed + buf.length > this.hooks.maxFileBytes) this.hooks.rotate(this);
    try {
      await writeAll(this.fd, buf);
      if (this.hooks.fsync && O_DSYNC === undefined) await datasync(this.fd);
    } catch (err) {
      // Roll back a partial write so the file keeps whole lines.
      await new Promise<void>((r) => ftruncate(this.fd, this.committed, () => r()));
      throw err;
    }
    if (this.newFile) {
      await syncDir(this.jobDir);
      this.newFile = false;
    }
    this.needsNewline = false;
    return buf.length;
  }

  private async writeJournal(journal: string): Promise<void> {
    const path = journalPath(this.jobDir, this.container);
    if (journal === "") {
      await unlink(path).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== "ENOENT") throw err;
      });
      return;
    }
    const tmp = `${path}.tmp`;
    const handle = await open(tmp, "w");
    try {
      await handle.writeFile(journal);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, path);
    await syncDir(dirname(path));
  }
}
