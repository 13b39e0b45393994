// Reading stored lines back: forward through a file, backward from its end (for
// tail), and merged across containers in time order. Files are read through file
// descriptors opened by a snapshot, up to the byte limit the snapshot recorded,
// so rotation or deletion while reading changes nothing.
import { closeSync, read } from "node:fs";
import { parseLine, type StoredLine } from "./log-files.js";

/** One file of a snapshot: its descriptor and how many bytes of it to read. */
export interface FileView {
  fd: number;
  limit: number;
}

/** One container's files in a snapshot, oldest first. */
export interface ContainerView {
  container: string;
  files: FileView[];
}

const BLOCK = 64 * 1024;
const NEWLINE = 0x0a;

function readAt(fd: number, buf: Buffer, length: number, position: number): Promise<number> {
  return new Promise((resolve, reject) =>
    read(fd, buf, 0, length, position, (err, n) => (err ? reject(err) : resolve(n))),
  );
}

export function closeViews(views: ContainerView[]): void {
  for (const view of views)
    for (const file of view.files) {
      try {
        closeSync(file.fd);
      } catch {}
    }
}

/** The lines of one file, in order. */
async function* fileLines(file: FileView, container: string): AsyncGenerator<StoredLine> {
  let carry: Buffer | null = null;
  let position = 0;
  while (position < file.limit) {
    const block = Buffer.allocUnsafe(Math.min(BLOCK, file.limit - position));
    const n = await readAt(file.fd, block, block.length, position);
    if (n === 0) break;
    position += n;
    let buf: Buffer = block.subarray(0, n);
    if (carry) buf = Buffer.concat([carry, buf]);
    let start = 0;
    for (let i = buf.indexOf(NEWLINE); i !== -1; i = buf.indexOf(NEWLINE, start)) {
      const line = i > start ? parseLine(buf.toString("utf8", start, i), container) : null;
      start = i + 1;
      if (line) yield line;
    }
    carry = start < buf.length ? buf.subarray(start) : null;
  }
  if (carry) {
    const line = parseLine(carry.toString("utf8"), container);
    if (line) yield line;
  }
}

/** A container's lines across its files, oldest first, filtered. */
export async function* containerLines(
  view: ContainerView,
  keep: (l: StoredLine) => boolean,
): AsyncGenerator<StoredLine> {
  for (const file of view.files) for await (const line of fileLines(file, view.container)) if (keep(line)) yield line;
}

/** The last `count` lines `keep` accepts, reading backward from the newest file; oldest first. */
export async function lastLines(
  view: ContainerView,
  count: number,
  keep: (l: StoredLine) => boolean,
): Promise<StoredLine[]> {
  const found: StoredLine[] = []; // newest first
  for (let f = view.files.length - 1; f >= 0 && found.length < count; f--) {
    const file = view.files[f] as FileView;
    let position = file.limit;
    let tail: Buffer | null = null; // bytes after the last newline seen, the end of a line not yet whole
    while (found.length < count) {
      if (position === 0) {
        const line = tail && tail.length > 0 ? parseLine(tail.toString("utf8"), view.container) : null;
        if (line && keep(line)) found.push(line);
        break;
      }
      const size = Math.min(BLOCK, position);
      position -= size;
      const block = Buffer.allocUnsafe(size);
      const n = await readAt(file.fd, block, size, position);
      let buf: Buffer = block.subarray(0, n);
      if (tail) buf = Buffer.concat([buf, tail]);
      let end = buf.length;
      for (
        let i = buf.lastIndexOf(NEWLINE, end - 1);
        i !== -1 && found.length < count;
        i = buf.lastIndexOf(NEWLINE, end - 1)
      ) {
        const line = end > i + 1 ? parseLine(buf.toString("utf8", i + 1, end), view.container) : null;
        if (line && keep(line)) found.push(line);
        end = i;
        if (end === 0) break;
      }
      tail = buf.subarray(0, end);
    }
  }
  return found.reverse();
}

/** Merges sources that are each in time order into one, by time; ties go to the earlier source. */
export async function* mergeByTime(sources: AsyncIterator<StoredLine>[]): AsyncGenerator<StoredLine> {
  const heads: (StoredLine | undefined)[] = [];
  for (const source of sources) {
    const next = await source.next();
    heads.push(next.done ? undefined : next.value);
  }
  for (;;) {
    let best = -1;
    let bestMs = Number.POSITIVE_INFINITY;
    for (let i = 0; i < heads.length; i++) {
      const head = heads[i];
      if (head && (best === -1 || head.timeMs < bestMs)) {
        best = i;
        bestMs = head.timeMs;
      }
    }
    if (best === -1) return;
    yield heads[best] as StoredLine;
    const next = await (sources[best] as AsyncIterator<StoredLine>).next();
    heads[best] = next.done ? undefined : next.value;
  }
}

/** Merges arrays that are each in time order, by time; ties go to the earlier array. */
export function mergeArrays(lists: StoredLine[][]): StoredLine[] {
  const out: StoredLine[] = [];
  const at = lists.map(() => 0);
  for (;;) {
    let best = -1;
    let bestMs = Number.POSITIVE_INFINITY;
    for (let i = 0; i < lists.length; i++) {
      const head = (lists[i] as StoredLine[])[at[i] as number];
      if (head && (best === -1 || head.timeMs < bestMs)) {
        best = i;
        bestMs = head.timeMs;
      }
    }
    if (best === -1) return out;
    out.push((lists[best] as StoredLine[])[at[best] as number] as StoredLine);
    at[best] = (at[best] as number) + 1;
  }
}
