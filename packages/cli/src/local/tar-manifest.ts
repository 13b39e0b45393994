// Reads manifest.json out of a `docker save` tarball without unpacking it:
// tar is a sequence of 512-byte headers each followed by its data, padded to
// 512 bytes (ustar, with GNU long names and PAX path records understood).

import { type FileHandle, open } from "node:fs/promises";

const BLOCK = 512;
const MAX_MANIFEST_BYTES = 16 * 1024 * 1024;

/** One image of a `docker save` tarball's manifest.json. */
export interface DockerSaveManifestEntry {
  Config: string;
  RepoTags: string[] | null;
  Layers: string[];
}

function cString(block: Buffer, start: number, length: number): string {
  const field = block.subarray(start, start + length);
  const nul = field.indexOf(0);
  return field.subarray(0, nul === -1 ? field.length : nul).toString("utf8");
}

/** Header size field: octal text, or base-256 when the high bit of its first byte is set. */
function sizeField(block: Buffer): number {
  const field = block.subarray(124, 136);
  if (((field[0] ?? 0) & 0x80) !== 0) {
    let n = 0;
    for (let i = 1; i < field.length; i++) n = n * 256 + (field[i] ?? 0);
    return n;
  }
  const text = cString(block, 124, 12).trim();
  return text === "" ? 0 : Number.parseInt(text, 8);
}

function checksumOk(block: Buffer): boolean {
  const stored = Number.parseInt(cString(block, 148, 8).trim(), 8);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : (block[i] ?? 0);
  return stored === sum;
}

/** PAX extended header records: "<len> <key>=<value>\n". */
function paxPath(data: Buffer): string | undefined {
  let offset = 0;
  let path: string | undefined;
  while (offset < data.length) {
    const space = data.indexOf(0x20, offset);
    if (space === -1) break;
    const length = Number.parseInt(data.subarray(offset, space).toString("ascii"), 10);
    if (!Number.isFinite(length) || length <= 0) break;
    const record = data.subarray(space + 1, offset + length - 1).toString("utf8");
    const eq = record.indexOf("=");
    if (eq !== -1 && record.slice(0, eq) === "path") path = record.slice(eq + 1);
    offset += length;
  }
  return path;
}

async function readAt(fh: FileHandle, position: number, length: number): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await fh.read(buf, filled, length - filled, position + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return buf.subarray(0, filled);
}

/** The data of the first entry whose path satisfies `wanted`, or null; throws when the file is not a tar. */
export async function readTarEntry(
  path: string,
  wanted: (entryPath: string) => boolean,
  maxBytes = MAX_MANIFEST_BYTES,
): Promise<Buffer | null> {
  const fh = await open(path, "r");
  try {
    let offset = 0;
    let longName: string | undefined;
    for (;;) {
      const block = await readAt(fh, offset, BLOCK);
      if (block.length < BLOCK) {
        if (offset === 0) throw new Error(`${path} is not a tar file (shorter than one header)`);
        return null;
      }
      if (block.every((b) => b === 0)) return null;
      if (!checksumOk(block)) {
        throw new Error(`${path} is not a tar file (bad header checksum at byte ${offset})`);
      }
      const size = sizeField(block);
      const type = String.fromCharCode(block[156] ?? 0);
      const dataAt = offset + BLOCK;
      offset = dataAt + Math.ceil(size / BLOCK) * BLOCK;
      if (type === "L" || type === "x") {
        const data = await readAt(fh, dataAt, Math.min(size, 1024 * 1024));
        longName = type === "L" ? cString(data, 0, data.length) : (paxPath(data) ?? longName);
        continue;
      }
      if (type === "g") continue;
      let name = cString(block, 0, 100);
      if (cString(block, 257, 6).startsWith("ustar")) {
        const prefix = cString(block, 345, 155);
        if (prefix !== "") name = `${prefix}/${name}`;
      }
      if (longName !== undefined) name = longName;
      longName = undefined;
      name = name.replace(/^(\.\/)+/, "");
      if ((type === "0" || type === "\0") && wanted(name)) {
        if (size > maxBytes) throw new Error(`${path}: ${name} is ${size} bytes, over the ${maxBytes}-byte limit`);
        return await readAt(fh, dataAt, size);
      }
    }
  } finally {
    await fh.close();
  }
}

/** The images a `docker save` tarball holds; throws when it has no manifest.json. */
export async function readTarManifest(path: string): Promise<DockerSaveManifestEntry[]> {
  const data = await readTarEntry(path, (name) => name === "manifest.json");
  if (data === null) throw new Error(`${path} has no manifest.json: is it a \`docker save\` tarball?`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(data.toString("utf8"));
  } catch (err) {
    throw new Error(`${path}: manifest.json is not JSON (${(err as Error).message})`);
  }
  if (!Array.isArray(parsed)) throw new Error(`${path}: manifest.json is not a list of images`);
  return parsed as DockerSaveManifestEntry[];
}

/** Every RepoTags entry of the tarball's images, in order. */
export async function imageTags(path: string): Promise<string[]> {
  return (await readTarManifest(path)).flatMap((entry) =>
    Array.isArray(entry.RepoTags) ? entry.RepoTags.filter((t): t is string => typeof t === "string") : [],
  );
}
