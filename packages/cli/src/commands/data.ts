import { createHash, randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { type FileHandle, lstat, mkdir, open, readdir, rename, rm } from "node:fs/promises";
import { dirname, join, relative, resolve, sep } from "node:path";
import type { ClientWritableStream, ServiceError } from "@grpc/grpc-js";
import type { DataListResponseOut, DataPushResponseOut, FileChunk, FileChunkOut } from "@maro/proto";
import type { Command } from "commander";
import { fromGrpcError } from "../client.js";
import { CliError, EXIT } from "../errors.js";
import { printJson, table } from "../output.js";
import { Progress } from "../progress.js";
import { type OutputOption, outputFormat, withMaster } from "./context.js";

const CHUNK = 1024 * 1024;

/** A path from the master, as a path under `root` here; anything that could leave root is refused. */
export function localTarget(root: string, remotePath: string): string {
  const parts = remotePath.split("/");
  if (remotePath.startsWith("/") || parts.some((p) => p === ".." || p === "" || p.includes("\0")))
    throw new CliError(`the master sent an unsafe path "${remotePath}"; nothing more was written`);
  return join(root, ...parts);
}

/** A pulled file's path relative to what was asked for: `exp/a/b` under `exp` is `a/b`; a single file keeps its name. */
export function underRemote(path: string, remote: string): string {
  const prefix = remote.replace(/^\/+|\/+$/g, "");
  if (prefix === "" || prefix === ".") return path;
  if (path.startsWith(`${prefix}/`)) return path.slice(prefix.length + 1);
  return path.split("/").pop() ?? path;
}

/** Regular files under a local path (or the file itself), with paths relative to the base. */
async function localFiles(base: string): Promise<{ file: string; rel: string; size: number }[]> {
  const info = await lstat(base).catch(() => {
    throw new CliError(`${base}: no such file or directory`, EXIT.USAGE);
  });
  if (info.isFile()) return [{ file: base, rel: "", size: info.size }];
  if (!info.isDirectory()) throw new CliError(`${base}: not a file or directory`, EXIT.USAGE);
  const out: { file: string; rel: string; size: number }[] = [];
  const walk = async (dir: string) => {
    for (const e of (await readdir(dir, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
      const path = join(dir, e.name);
      if (e.isDirectory()) await walk(path);
      else if (e.isFile())
        out.push({ file: path, rel: relative(base, path).split(sep).join("/"), size: (await lstat(path)).size });
    }
  };
  await walk(base);
  return out;
}

function write(stream: ClientWritableStream<FileChunk>, chunk: FileChunk): Promise<void> {
  if (stream.write(chunk)) return Promise.resolve();
  return new Promise((r) => stream.once("drain", () => r()));
}

async function push(api: import("../client.js").MasterApi, local: string, remote: string, quiet: boolean) {
  const files = await localFiles(resolve(local));
  const total = files.reduce((n, f) => n + f.size, 0);
  const progress = quiet ? null : new Progress(`push ${local}`, total);
  let sent = 0;
  const cleanRemote = remote.replace(/\/+$/g, "");
  const result = new Promise<DataPushResponseOut>((ok, fail) => {
    const stream = api.client.DataPush((err: ServiceError | null, res?: DataPushResponseOut) =>
      err || !res ? fail(fromGrpcError(err as ServiceError, api.address)) : ok(res),
    );
    (async () => {
      for (const f of files) {
        const path = [cleanRemote, f.rel].filter(Boolean).join("/") || f.file.split(sep).pop() || "file";
        await write(stream, { header: { path, size: f.size, mode: 0o644 } });
        const hash = createHash("sha256");
        for await (const data of createReadStream(f.file, { highWaterMark: CHUNK }) as AsyncIterable<Buffer>) {
          hash.update(data);
          await write(stream, { data });
          sent += data.length;
          progress?.update(sent);
        }
        await write(stream, { end: { sha256: hash.digest("hex") } });
      }
      stream.end();
    })().catch((err: unknown) => {
      progress?.interrupt();
      stream.cancel();
      fail(err);
    });
  });
  const res = await result.catch((err: unknown) => {
    progress?.interrupt();
    throw err;
  });
  progress?.update(sent, true);
  return res;
}

async function pull(api: import("../client.js").MasterApi, remote: string, local: string, quiet: boolean) {
  const root = resolve(local);
  const stream = api.client.DataPull({ path: remote });
  let current: { final: string; temp: string; handle: FileHandle; hash: ReturnType<typeof createHash> } | null = null;
  let files = 0;
  let bytes = 0;
  try {
    for await (const chunk of stream as AsyncIterable<FileChunkOut>) {
      if (chunk.header) {
        const final = localTarget(root, underRemote(chunk.header.path, remote));
        await mkdir(dirname(final), { recursive: true });
        const temp = join(dirname(final), `.${randomBytes(6).toString("hex")}.partial`);
        current = { final, temp, handle: await open(temp, "wx", 0o644), hash: createHash("sha256") };
        if (!quiet) process.stderr.write(`pull ${chunk.header.path} (${chunk.header.size} bytes)\n`);
      } else if (chunk.data && current) {
        current.hash.update(chunk.data);
        await current.handle.write(chunk.data);
        bytes += chunk.data.length;
      } else if (chunk.end && current) {
        await current.handle.close();
        if (current.hash.digest("hex") !== chunk.end.sha256) {
          await rm(current.temp, { force: true });
          throw new CliError(`${current.final}: sha256 mismatch; the download was corrupted`);
        }
        await rename(current.temp, current.final);
        files += 1;
        current = null;
      }
    }
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw fromGrpcError(err as ServiceError, api.address);
  } finally {
    if (current) {
      await current.handle.close().catch(() => {});
      await rm(current.temp, { force: true });
    }
  }
  return { files, bytes };
}

export function registerDataCommands(grass: Command): void {
  const data = grass.command("data").description("files in the cluster's shared data directory");
  data
    .command("push <cluster> <local> <remote>")
    .description("copy a local file or directory tree into the shared data (each file appears only when complete)")
    .option("-o, --output <format>", "table or json", "table")
    .action(async (cluster: string, local: string, remote: string, opts: OutputOption) => {
      const format = outputFormat(opts);
      await withMaster(cluster, async (api) => {
        const res = await push(api, local, remote, format === "json");
        if (format === "json") printJson(res);
        else process.stdout.write(`pushed ${res.files} file(s), ${res.bytes} bytes to ${remote}\n`);
      });
    });
  data
    .command("pull <cluster> <remote> <local>")
    .description("copy a file or directory tree from the shared data into a local directory")
    .option("-o, --output <format>", "table or json", "table")
    .action(async (cluster: string, remote: string, local: string, opts: OutputOption) => {
      const format = outputFormat(opts);
      await withMaster(cluster, async (api) => {
        const res = await pull(api, remote, local, format === "json");
        if (format === "json") printJson(res);
        else process.stdout.write(`pulled ${res.files} file(s), ${res.bytes} bytes into ${local}\n`);
      });
    });
  data
    .command("ls <cluster> [path]")
    .description("list a directory of the shared data")
    .option("-o, --output <format>", "table or json", "table")
    .action(async (cluster: string, path: string | undefined, opts: OutputOption) => {
      const format = outputFormat(opts);
      await withMaster(cluster, async (api) => {
        const res = await api.call<{ path: string }, DataListResponseOut>("DataList", { path: path ?? "" });
        if (format === "json") return printJson(res.entries);
        const rows = [["PATH", "SIZE", "MODIFIED"]];
        for (const e of res.entries)
          rows.push([
            e.directory ? `${e.path}/` : e.path,
            e.directory ? "-" : String(e.size),
            new Date(Number(e.modifiedMs)).toISOString(),
          ]);
        process.stdout.write(`${table(rows)}\n`);
      });
    });
}
