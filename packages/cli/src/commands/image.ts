// `maro grass image push|list`: images travel as `docker save` tarballs to the
// master, which hands them to the nodes that need them (no registry needed).

import { createHash } from "node:crypto";
import { createReadStream, rmSync } from "node:fs";
import { mkdtemp, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ServiceError } from "@grpc/grpc-js";
import type { FileChunk, ImageInfoOut, ImageListResponseOut } from "@maro/proto";
import type { Command } from "commander";
import { fromGrpcError, type MasterApi } from "../client.js";
import { CliError, EXIT } from "../errors.js";
import { readCluster } from "../home.js";
import { localDockerHost, saveImage } from "../local/docker-image.js";
import { imageTags } from "../local/tar-manifest.js";
import { ago, printJson, table } from "../output.js";
import { formatBytes, Progress } from "../progress.js";
import { type OutputOption, outputFormat, withMaster } from "./context.js";

const CHUNK_BYTES = 1024 * 1024;

// The master's grammar (packages/master/src/images/reference.ts), checked here
// too so a bad name fails before a large tarball is saved and sent.
const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

/** `name[:tag]` → `name:tag` (default latest); a usage error when Docker would not accept it. */
export function imageReference(ref: string): string {
  const colon = ref.lastIndexOf(":");
  const name = colon === -1 ? ref : ref.slice(0, colon);
  const tag = colon === -1 ? "latest" : ref.slice(colon + 1);
  if (name === "" || name.length > 255 || !name.split("/").every((c) => COMPONENT.test(c)) || !TAG.test(tag)) {
    throw new CliError(
      `"${ref}" is not an image name maro can push: use name[:tag] with a lowercase name ([a-z0-9] words ` +
        `joined by ".", "_" or "-", "/"-separated) and a tag of up to 128 [A-Za-z0-9_.-]`,
      EXIT.USAGE,
    );
  }
  return `${name}:${tag}`;
}

/** Sends a tarball as ImagePush header, data (1 MiB), end (sha256); resolves with what the master stored. */
async function pushTarball(api: MasterApi, name: string, path: string, size: number): Promise<ImageInfoOut> {
  let settled = false;
  let call: ReturnType<MasterApi["client"]["ImagePush"]> | undefined;
  const answer = new Promise<ImageInfoOut>((resolve, reject) => {
    call = api.client.ImagePush((err: ServiceError | null, res?: ImageInfoOut) => {
      settled = true;
      if (err) reject(fromGrpcError(err, api.address));
      else if (res) resolve(res);
      else reject(new CliError(`the master at ${api.address} gave no answer to the push`));
    });
  });
  answer.catch(() => {});
  const stream = call;
  if (!stream) throw new CliError("cannot start the push");
  const answered = answer.then(
    () => {},
    () => {},
  );
  const send = async (chunk: FileChunk) => {
    if (stream.write(chunk)) return;
    await Promise.race([new Promise<void>((resolve) => stream.once("drain", () => resolve())), answered]);
  };

  const progress = new Progress(`push ${name}`, size);
  const hash = createHash("sha256");
  let sent = 0;
  try {
    await send({ header: { path: name, size, mode: 0o644 } });
    for await (const piece of createReadStream(path, { highWaterMark: CHUNK_BYTES })) {
      if (settled) break;
      const data = piece as Buffer;
      hash.update(data);
      await send({ data });
      sent += data.length;
      progress.update(sent);
    }
    if (!settled) {
      if (sent !== size) throw new CliError(`${path} changed while it was sent (${sent} bytes read, ${size} expected)`);
      await send({ end: { sha256: hash.digest("hex") } });
      stream.end();
      progress.update(sent, true);
    }
  } catch (err) {
    stream.cancel();
    progress.interrupt();
    throw err instanceof CliError ? err : new CliError(`cannot read ${path}: ${(err as Error).message}`);
  }
  try {
    return await answer;
  } catch (err) {
    progress.interrupt();
    throw err;
  }
}

/** Runs fn with a private temp dir that is removed afterwards, on Ctrl-C too. */
async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), "maro-image-"));
  const remove = () => rmSync(dir, { recursive: true, force: true });
  const onSignal = () => {
    remove();
    process.exit(130);
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    return await fn(dir);
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    remove();
  }
}

/**
 * The tarball's one image name; a usage error when it is not a `docker save`
 * tarball, or (unless `named`: --image-name decides) has no or several tags.
 */
async function nameFromTarball(path: string, named: boolean): Promise<string | undefined> {
  let tags: string[];
  try {
    tags = await imageTags(path);
  } catch (err) {
    throw new CliError(`--image-path: ${(err as Error).message}`, EXIT.USAGE);
  }
  if (named) return undefined;
  const [only, ...others] = tags;
  if (only === undefined)
    throw new CliError(`--image-path: ${path} has no image tag (RepoTags): name it with --image-name`, EXIT.USAGE);
  if (others.length > 0)
    throw new CliError(
      `--image-path: ${path} has several image tags (${tags.join(", ")}): choose one with --image-name`,
      EXIT.USAGE,
    );
  return imageReference(only);
}

interface PushOptions extends OutputOption {
  imageName?: string;
  imagePath?: string;
}

function imagesTable(images: ImageInfoOut[]): string {
  if (images.length === 0) return "no images pushed yet (maro grass image push <cluster> --image-name NAME)";
  return table([
    ["NAME", "SHA256", "SIZE", "PUSHED", "NODES"],
    ...images.map((i) => [
      i.name,
      i.sha256.slice(0, 12),
      formatBytes(i.size),
      ago(i.pushedAtMs),
      i.nodes.length > 0 ? i.nodes.join(",") : "-",
    ]),
  ]);
}

export function registerImageCommands(grass: Command): void {
  const image = grass.command("image").description("push images to a cluster (no registry needed) and list them");

  image
    .command("push <cluster>")
    .description(
      "send an image to the master as a `docker save` tarball; nodes load it before starting components that use it",
    )
    .option(
      "--image-name <name>",
      "image in the local Docker engine (DOCKER_HOST); with --image-path, the name to give it",
    )
    .option("--image-path <file>", "a `docker save` tarball; its one tag names the image unless --image-name is given")
    .option("-o, --output <format>", "table or json", "table")
    .action(async (cluster: string, opts: PushOptions) => {
      const format = outputFormat(opts);
      const given = opts.imageName === undefined ? undefined : imageReference(opts.imageName);
      readCluster(cluster); // an unknown cluster fails before a large image is saved
      const info = await withTempDir(async (dir) => {
        let path: string;
        let name: string;
        if (opts.imagePath !== undefined) {
          path = opts.imagePath;
          const found = await stat(path).catch(() => null);
          if (!found?.isFile()) throw new CliError(`--image-path: ${path} is not a readable file`, EXIT.USAGE);
          const fromTar = await nameFromTarball(path, given !== undefined);
          name = given ?? fromTar ?? "";
        } else if (given !== undefined) {
          name = given;
          path = join(dir, "image.tar");
          const host = localDockerHost();
          process.stderr.write(`saving ${name} from the Docker engine at ${host}\n`);
          try {
            await saveImage(host, name, path);
            await imageTags(path);
          } catch (err) {
            throw new CliError(`--image-name: ${(err as Error).message}`);
          }
        } else {
          throw new CliError("image push: give --image-name NAME or --image-path FILE.tar", EXIT.USAGE);
        }
        const size = (await stat(path)).size;
        return withMaster(cluster, (api) => pushTarball(api, name, path, size));
      });
      if (format === "json") printJson(info);
      else
        process.stdout.write(
          `image ${info.name} pushed (sha256:${info.sha256.slice(0, 12)}, ${formatBytes(info.size)})\n`,
        );
    });

  image
    .command("list <cluster>")
    .description("list pushed images and the nodes that have loaded them")
    .option("-o, --output <format>", "table or json", "table")
    .action(async (cluster: string, opts: OutputOption) => {
      const format = outputFormat(opts);
      await withMaster(cluster, async (api) => {
        const res = await api.call<object, ImageListResponseOut>("ImageList", {});
        if (format === "json") printJson(res.images);
        else process.stdout.write(`${imagesTable(res.images)}\n`);
      });
    });
}
