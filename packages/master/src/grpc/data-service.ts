import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { type FileHandle, lstat, mkdir, open, readdir, rename, rm } from "node:fs/promises";
import { dirname, join, relative, sep } from "node:path";
import type { ServerReadableStream, ServerWritableStream } from "@grpc/grpc-js";
import type { DataListResponse, DataPushResponse, FileChunk, FileChunkOut, MasterHandlers } from "@maro/proto";
import { MaroError } from "../errors.js";
import { atomicWriteTarget, isAtomicWriteTemp, PathError, resolveConfined } from "../share/paths.js";
import type { AdminGuard } from "./guard.js";

const CHUNK_BYTES = 1024 * 1024;
const MAX_FILE_BYTES = 64 * 1024 ** 3;

function confined(root: string, path: string, allowRoot = false): Promise<string> {
  return resolveConfined(root, path, { allowRoot }).catch((err: unknown) => {
    if (err instanceof PathError) throw new MaroError("INVALID_ARGUMENT", `path: ${err.message}`);
    throw err;
  });
}

/** One file being received: written to a hidden temp name, renamed into place when complete and verified. */
interface Incoming {
  final: string;
  temp: string;
  handle: FileHandle;
  hash: ReturnType<typeof createHash>;
  expected: number;
  written: number;
}

async function receiveFiles(root: string, call: ServerReadableStream<FileChunkOut, DataPushResponse>) {
  let current: Incoming | null = null;
  let files = 0;
  let bytes = 0;
  try {
    for await (const chunk of call as AsyncIterable<FileChunkOut>) {
      if (chunk.header) {
        if (current) throw new MaroError("INVALID_ARGUMENT", `a new header before the end of ${current.final}`);
        const h = chunk.header;
        if (!(h.size >= 0 && h.size <= MAX_FILE_BYTES))
          throw new MaroError("INVALID_ARGUMENT", `${h.path}: size ${h.size} is out of range`);
        const final = await confined(root, h.path);
        await mkdir(dirname(final), { recursive: true });
        await confined(root, relative(root, dirname(final)), true); // the parent chain stays inside after mkdir
        const temp = atomicWriteTarget(final);
        current = {
          final,
          temp,
          handle: await open(temp, "wx", 0o644),
          hash: createHash("sha256"),
          expected: h.size,
          written: 0,
        };
      } else if (chunk.data) {
        if (!current) throw new MaroError("INVALID_ARGUMENT", "data before a file header");
        current.written += chunk.data.length;
        if (current.written > current.expected)
          throw new MaroError("INVALID_ARGUMENT", `${relative(root, current.final)}: more bytes than the header said`);
        current.hash.update(chunk.data);
        await current.handle.write(chunk.data);
      } else if (chunk.end) {
        if (!current) throw new MaroError("INVALID_ARGUMENT", "end before a file header");
        const name = relative(root, current.final);
        if (current.written !== current.expected)
          throw new MaroError(
            "INVALID_ARGUMENT",
            `${name}: got ${current.written} bytes, expected ${current.expected}`,
          );
        const digest = current.hash.digest("hex");
        if (digest !== chunk.end.sha256)
          throw new MaroError("INVALID_ARGUMENT", `${name}: sha256 mismatch (got ${digest}); the upload was corrupted`);
        await current.handle.sync();
        await current.handle.close();
        await rename(current.temp, current.final);
        files += 1;
        bytes += current.written;
        current = null;
      }
    }
    if (current) throw new MaroError("INVALID_ARGUMENT", `${relative(root, current.final)}: the stream ended mid-file`);
    return { files, bytes };
  } finally {
    if (current) {
      await current.handle.close().catch(() => {});
      await rm(current.temp, { force: true });
    }
  }
}

/** Writes with backpressure: waits for 'drain' when the stream's buffer is full. */
function send<T>(call: ServerWritableStream<unknown, T>, message: T): Promise<void> {
  if (call.write(message)) return Promise.resolve();
  return new Promise((resolve) => call.once("drain", () => resolve()));
}

async function sendFile(root: string, file: string, call: ServerWritableStream<unknown, FileChunk>) {
  const info = await lstat(file);
  await send(call, {
    header: { path: relative(root, file).split(sep).join("/"), size: info.size, mode: info.mode & 0o777 },
  });
  const hash = createHash("sha256");
  for await (const data of createReadStream(file, { highWaterMark: CHUNK_BYTES }) as AsyncIterable<Buffer>) {
    hash.update(data);
    await send(call, { data });
  }
  await send(call, { end: { sha256: hash.digest("hex") } });
}

/** Regular files under dir, depth first, in name order; symlinks are never followed. */
async function* walk(dir: string): AsyncGenerator<string> {
  const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name));
  for (const e of entries) {
    if (isAtomicWriteTemp(e.name)) continue;
    const path = join(dir, e.name);
    if (e.isDirectory()) yield* walk(path);
    else if (e.isFile()) yield path;
  }
}

/** DataPush, DataPull and DataList over the cluster's shared data directory. */
export function dataHandlers(
  root: string,
  guard: AdminGuard,
): Pick<MasterHandlers, "DataPush" | "DataPull" | "DataList"> {
  return {
    DataPush: guard.clientStream((call) => receiveFiles(root, call)),
    DataPull: guard.serverStream<{ path: string }, FileChunk>(async (call) => {
      const target = await confined(root, call.request.path, true);
      const info = await lstat(target).catch(() => {
        throw new MaroError("INVALID_ARGUMENT", `path: "${call.request.path}" does not exist in the shared data`);
      });
      if (info.isFile()) return sendFile(root, target, call);
      if (!info.isDirectory())
        throw new MaroError("INVALID_ARGUMENT", `path: "${call.request.path}" is not a file or directory`);
      for await (const file of walk(target)) await sendFile(root, file, call);
    }),
    DataList: guard.unary(async (req: { path: string }): Promise<DataListResponse> => {
      const target = await confined(root, req.path, true);
      const info = await lstat(target).catch(() => {
        throw new MaroError("INVALID_ARGUMENT", `path: "${req.path}" does not exist in the shared data`);
      });
      const names = info.isDirectory() ? (await readdir(target)).sort() : [""];
      const entries = [];
      for (const name of names) {
        if (isAtomicWriteTemp(name)) continue;
        const path = name ? join(target, name) : target;
        const st = await lstat(path);
        if (!st.isFile() && !st.isDirectory()) continue;
        entries.push({
          path: relative(root, path).split(sep).join("/"),
          directory: st.isDirectory(),
          size: st.isFile() ? st.size : 0,
          modifiedMs: Math.floor(st.mtimeMs),
        });
      }
      return { entries };
    }),
  };
}
