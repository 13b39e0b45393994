// Pushed images: `docker save` tarballs stored as <dir>/<sha256>.tar, their
// names and the nodes that loaded them in Redis. A push is written to a temp
// file, checked (size, sha256) and renamed into place; a failed or aborted
// push leaves neither a file nor a record.

import { createHash, randomBytes } from "node:crypto";
import { createReadStream, type ReadStream, statSync } from "node:fs";
import { type FileHandle, mkdir, open, readdir, rename, stat, unlink } from "node:fs/promises";
import { join } from "node:path";
import type { FileChunkOut, ImageInfoOut } from "@maro/proto";
import type { Redis } from "ioredis";
import { describe, MaroError } from "../errors.js";
import { type ImageKeys, imageKeys } from "./keys.js";
import { imageReferenceProblem, normalizeImageReference } from "./reference.js";

export const DEFAULT_MAX_IMAGE_BYTES = 20 * 1024 ** 3;
/** Read size of open(): one FetchImage message each. */
export const IMAGE_CHUNK_BYTES = 1024 * 1024;

const SHA256_HEX = /^[0-9a-f]{64}$/;
const PARTIAL = /^\.[0-9a-f]+\.partial$/;

export interface ImageRegistryOptions {
  /** Where <sha256>.tar files live, e.g. <data dir>/shared/images. */
  dir: string;
  redis: Redis;
  cluster: string;
  now?: () => number;
}

interface ImageRecord {
  name: string;
  sha256: string;
  size: number;
  pushedAtMs: number;
}

const invalid = (message: string) => new MaroError("INVALID_ARGUMENT", message);

export function isSha256Hex(value: string): boolean {
  return SHA256_HEX.test(value);
}

function parseRecord(json: string): ImageRecord | null {
  try {
    const r = JSON.parse(json) as Partial<ImageRecord>;
    if (typeof r.name !== "string" || typeof r.sha256 !== "string" || !isSha256Hex(r.sha256)) return null;
    return {
      name: r.name,
      sha256: r.sha256,
      size: typeof r.size === "number" ? r.size : 0,
      pushedAtMs: typeof r.pushedAtMs === "number" ? r.pushedAtMs : 0,
    };
  } catch {
    return null;
  }
}

async function writeAll(fh: FileHandle, data: Buffer): Promise<void> {
  let offset = 0;
  while (offset < data.length) {
    const { bytesWritten } = await fh.write(data, offset, data.length - offset);
    offset += bytesWritten;
  }
}

export class ImageRegistry {
  readonly dir: string;
  private readonly redis: Redis;
  private readonly keys: ImageKeys;
  private readonly now: () => number;

  constructor(options: ImageRegistryOptions) {
    this.dir = options.dir;
    this.redis = options.redis;
    this.keys = imageKeys(options.cluster);
    this.now = options.now ?? Date.now;
  }

  /** Where the tarball with this sha256 is (or would be) stored. */
  tarPath(sha256: string): string {
    return join(this.dir, `${sha256}.tar`);
  }

  /**
   * Stores a pushed tarball: a header chunk (path = image reference, size),
   * data chunks, an end chunk (sha256). Resolves once the file is in place and
   * recorded; a missing tag is recorded as ":latest".
   */
  async receive(chunks: AsyncIterable<FileChunkOut>, maxBytes = DEFAULT_MAX_IMAGE_BYTES): Promise<ImageInfoOut> {
    const it = chunks[Symbol.asyncIterator]();
    let tmp: string | undefined;
    let fh: FileHandle | undefined;
    try {
      const pull = async (what: string) => {
        try {
          return await it.next();
        } catch (err) {
          throw invalid(`the image push${what} was interrupted: ${describe(err)}`);
        }
      };
      const first = await pull("");
      if (first.done) throw invalid("the image push sent nothing: expected a header chunk first");
      const header = first.value.body === "header" ? first.value.header : null;
      if (!header)
        throw invalid(`the image push must start with a header chunk, not ${first.value.body ?? "an empty chunk"}`);
      const problem = imageReferenceProblem(header.path);
      const name = normalizeImageReference(header.path);
      if (problem !== null || name === null) throw invalid(`image name "${header.path}": ${problem ?? "invalid"}`);
      const size = header.size;
      if (!Number.isSafeInteger(size) || size <= 0)
        throw invalid(`image ${name}: header size ${size} is not a positive byte count`);
      if (size > maxBytes) throw invalid(`image ${name}: ${size} bytes is over the limit of ${maxBytes} bytes`);

      await this.fs(`create ${this.dir}`, () => mkdir(this.dir, { recursive: true }));
      const path = join(this.dir, `.${randomBytes(8).toString("hex")}.partial`);
      fh = await this.fs(`create ${path}`, () => open(path, "wx", 0o644));
      tmp = path;
      const hash = createHash("sha256");
      let received = 0;
      let claimed: string | null = null;
      for (;;) {
        const next = await pull(` of ${name}`);
        if (next.done) break;
        const chunk = next.value;
        if (claimed !== null) throw invalid(`image ${name}: a ${chunk.body ?? "chunk"} chunk came after the end chunk`);
        if (chunk.body === "data") {
          const data = chunk.data ?? Buffer.alloc(0);
          received += data.length;
          if (received > size) throw invalid(`image ${name}: more than the ${size} bytes the header announced`);
          hash.update(data);
          const handle = fh;
          await this.fs(`write ${path}`, () => writeAll(handle, data));
        } else if (chunk.body === "end") {
          claimed = (chunk.end?.sha256 ?? "").toLowerCase();
        } else if (chunk.body === "header") {
          throw invalid(`image ${name}: a second header chunk (one image per push)`);
        } else {
          throw invalid(`image ${name}: a chunk with neither header, data nor end`);
        }
      }
      if (claimed === null) {
        throw invalid(`image ${name}: the push ended without an end chunk (${received} of ${size} bytes received)`);
      }
      if (received !== size) throw invalid(`image ${name}: received ${received} bytes, the header announced ${size}`);
      if (!isSha256Hex(claimed)) throw invalid(`image ${name}: end chunk sha256 "${claimed}" is not 64 hex digits`);
      const sha256 = hash.digest("hex");
      if (claimed !== sha256) {
        throw invalid(`image ${name}: sha256 mismatch (sent ${claimed}, received bytes hash to ${sha256})`);
      }
      const handle = fh;
      await this.fs(`sync ${path}`, async () => {
        await handle.sync();
        await handle.close();
      });
      fh = undefined;

      const target = this.tarPath(sha256);
      const existed = await stat(target).then(
        () => true,
        () => false,
      );
      await this.fs(`rename ${path} to ${target}`, () => rename(path, target));
      tmp = undefined;
      const record: ImageRecord = { name, sha256, size, pushedAtMs: this.now() };
      try {
        await this.redis.hset(this.keys.images, name, JSON.stringify(record));
      } catch (err) {
        // Keep a file other records may already use; drop one only this push made.
        if (!existed) await unlink(target).catch(() => {});
        throw new MaroError("STATE_UNAVAILABLE", `image ${name}: cannot record it in Redis: ${describe(err)}`);
      }
      return { ...record, nodes: await this.nodesOf(sha256) };
    } catch (err) {
      await fh?.close().catch(() => {});
      if (tmp !== undefined) await unlink(tmp).catch(() => {});
      await Promise.resolve(it.return?.()).catch(() => {});
      throw err instanceof MaroError ? err : new MaroError("INTERNAL", `image push failed: ${describe(err)}`);
    }
  }

  /** Every pushed image by name, with the nodes that loaded it. */
  async list(): Promise<ImageInfoOut[]> {
    const all = await this.redis.hgetall(this.keys.images);
    const records = Object.values(all)
      .map(parseRecord)
      .filter((r): r is ImageRecord => r !== null)
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    if (records.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const r of records) pipeline.smembers(this.keys.imageNodes(r.sha256));
    const results = (await pipeline.exec()) ?? [];
    return records.map((r, i) => {
      const [err, members] = results[i] ?? [null, []];
      if (err) throw new MaroError("STATE_UNAVAILABLE", `cannot read the nodes of image ${r.name}: ${err.message}`);
      return { ...r, nodes: Array.isArray(members) ? members.map(String).sort() : [] };
    });
  }

  /** The pushed image with this reference (`name` means `name:latest`), or null. */
  async byName(name: string): Promise<ImageInfoOut | null> {
    const normalized = normalizeImageReference(name);
    if (normalized === null) return null;
    const json = await this.redis.hget(this.keys.images, normalized);
    const record = json === null ? null : parseRecord(json);
    return record ? { ...record, nodes: await this.nodesOf(record.sha256) } : null;
  }

  /** Records that `node` has (present) or no longer has the tarball's image loaded. */
  async markNode(sha256: string, node: string, present: boolean): Promise<void> {
    this.requireSha(sha256);
    if (present) await this.redis.sadd(this.keys.imageNodes(sha256), node);
    else await this.redis.srem(this.keys.imageNodes(sha256), node);
  }

  /** The stored tarball, read in IMAGE_CHUNK_BYTES pieces. */
  open(sha256: string): ReadStream {
    this.requireSha(sha256);
    const path = this.tarPath(sha256);
    try {
      if (!statSync(path).isFile()) throw new Error("not a file");
    } catch {
      throw new MaroError("INVALID_ARGUMENT", `image ${sha256} is not stored on the master`);
    }
    return createReadStream(path, { highWaterMark: IMAGE_CHUNK_BYTES });
  }

  /**
   * Deletes temp files of pushes a previous master process left behind.
   * Call it at startup only: it would break pushes in progress.
   */
  async sweepPartials(): Promise<number> {
    const names = await readdir(this.dir).catch(() => [] as string[]);
    const stale = names.filter((n) => PARTIAL.test(n));
    await Promise.all(stale.map((n) => unlink(join(this.dir, n)).catch(() => {})));
    return stale.length;
  }

  private async nodesOf(sha256: string): Promise<string[]> {
    return (await this.redis.smembers(this.keys.imageNodes(sha256))).sort();
  }

  private requireSha(sha256: string): void {
    if (!isSha256Hex(sha256)) throw invalid(`"${sha256}" is not a sha256 (64 lowercase hex digits)`);
  }

  private async fs<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw new MaroError("INTERNAL", `cannot store the image: ${what}: ${describe(err)}`);
    }
  }
}
