// Makes a pushed image present on this node: when the engine does not have
// it, the tarball is streamed from the master (FetchImage) into `docker load`.
//
// An image this loader loaded also gets the tag maro-pushed:<sha256>, so a
// later push of different content under the same name is noticed (the node's
// copy carries another sha256's marker) and loaded again. An image the node
// had without any marker (pulled or built there) is used as it is.

import { Readable } from "node:stream";
import type { Logger } from "@maro/proto";
import Dockerode from "dockerode";
import {
  dockerConnection,
  dockerMessage,
  dockerStatus,
  isUnreachable,
  unavailableError,
} from "../runtime/docker-client.js";
import { RuntimeError } from "../runtime/types.js";

/** Repository of the marker tags (`maro-pushed:<sha256>`) put on loaded images. */
export const PUSHED_MARKER_REPO = "maro-pushed";

const SHA256_HEX = /^[0-9a-f]{64}$/;

export interface ImageStatusReport {
  name: string;
  sha256: string;
  present: boolean;
  message: string;
}

export interface ImageLoaderOptions {
  /** DOCKER_HOST style: unix:///var/run/docker.sock, a socket path or tcp://host:port. */
  dockerHost: string;
  /** The pushed tarball with this sha256, from the master. */
  fetch: (sha256: string) => AsyncIterable<Buffer>;
  /** Called once per ensure(): the image is present, or why it could not be loaded. */
  onStatus?: (status: ImageStatusReport) => void;
  log?: Logger;
}

interface Loaded {
  /** `Loaded image: <ref>` lines of docker load. */
  refs: string[];
  /** `Loaded image ID: <id>` lines (untagged images). */
  ids: string[];
  bytes: number;
  ms: number;
}

interface Inspected {
  Id: string;
  RepoTags?: string[] | null;
}

/** `name` → `name:latest`; a colon after the last "/" is the tag. */
function withTag(ref: string): string {
  return ref.lastIndexOf(":") > ref.lastIndexOf("/") ? ref : `${ref}:latest`;
}

function splitRef(ref: string): { repo: string; tag: string } {
  const full = withTag(ref);
  const colon = full.lastIndexOf(":");
  return { repo: full.slice(0, colon), tag: full.slice(colon + 1) };
}

const short = (sha256: string) => sha256.slice(0, 12);

export class ImageLoader {
  private readonly docker: Dockerode;
  private readonly dockerHost: string;
  private readonly fetch: ImageLoaderOptions["fetch"];
  private readonly onStatus: NonNullable<ImageLoaderOptions["onStatus"]>;
  private readonly log: Logger | undefined;
  /** Loads in progress, by sha256: concurrent ensure()s share one. */
  private readonly loads = new Map<string, Promise<Loaded>>();
  /** ensure()s in progress, by sha256 and name. */
  private readonly ensures = new Map<string, Promise<void>>();

  constructor(options: ImageLoaderOptions) {
    this.dockerHost = options.dockerHost;
    this.docker = new Dockerode(dockerConnection(options.dockerHost));
    this.fetch = options.fetch;
    this.onStatus = options.onStatus ?? (() => {});
    this.log = options.log;
  }

  /**
   * Resolves once the engine has `name` (loading the pushed tarball `sha256`
   * if needed); rejects with a RuntimeError saying which image failed and why.
   */
  ensure(name: string, sha256: string): Promise<void> {
    const key = `${sha256} ${name}`;
    const running = this.ensures.get(key);
    if (running) return running;
    const done = this.ensureOnce(name, sha256).finally(() => this.ensures.delete(key));
    this.ensures.set(key, done);
    return done;
  }

  private async ensureOnce(name: string, sha256: string): Promise<void> {
    try {
      if (!SHA256_HEX.test(sha256)) {
        throw new RuntimeError("START_FAILED", `image "${name}": "${sha256}" is not a sha256 of a pushed tarball`);
      }
      const current = await this.inspect(name);
      if (current && this.upToDate(current, sha256)) {
        this.report({ name, sha256, present: true, message: "already on this node" });
        return;
      }
      this.log?.info("loading pushed image", { image: name, sha256 });
      const loaded = await this.loadShared(name, sha256);
      const id = await this.loadedId(name, sha256, loaded);
      const tagged = await this.inspect(name);
      if (tagged?.Id !== id) await this.tag(id, name);
      await this.tag(id, `${PUSHED_MARKER_REPO}:${sha256}`);
      if (!(await this.inspect(name))) {
        throw new RuntimeError("IMAGE_NOT_FOUND", `image "${name}" is still missing after loading it`);
      }
      const mib = (loaded.bytes / 1024 / 1024).toFixed(1);
      const message = `loaded from the pushed tarball sha256:${short(sha256)} (${mib} MiB in ${(loaded.ms / 1000).toFixed(1)} s)`;
      this.log?.info("pushed image loaded", { image: name, sha256, bytes: loaded.bytes, ms: loaded.ms });
      this.report({ name, sha256, present: true, message });
    } catch (err) {
      const failure =
        err instanceof RuntimeError
          ? err
          : isUnreachable(err)
            ? unavailableError(this.dockerHost, err)
            : new RuntimeError("START_FAILED", `image "${name}" could not be loaded: ${dockerMessage(err)}`);
      this.log?.warn("pushed image not loaded", { image: name, sha256, reason: failure.message });
      this.report({ name, sha256, present: false, message: failure.message });
      throw failure;
    }
  }

  private report(status: ImageStatusReport): void {
    try {
      this.onStatus(status);
    } catch (err) {
      this.log?.warn("image status listener failed", { error: String(err) });
    }
  }

  /** True unless the image carries markers of other pushes only (it is an older push of this name). */
  private upToDate(image: Inspected, sha256: string): boolean {
    const markers = (image.RepoTags ?? []).filter((t) => t.startsWith(`${PUSHED_MARKER_REPO}:`));
    return markers.length === 0 || markers.includes(`${PUSHED_MARKER_REPO}:${sha256}`);
  }

  private async inspect(ref: string): Promise<Inspected | null> {
    try {
      return (await this.docker.getImage(ref).inspect()) as Inspected;
    } catch (err) {
      if (dockerStatus(err) === 404) return null;
      throw err;
    }
  }

  private async tag(id: string, ref: string): Promise<void> {
    const { repo, tag } = splitRef(ref);
    try {
      await this.docker.getImage(id).tag({ repo, tag });
    } catch (err) {
      if (isUnreachable(err)) throw err;
      throw new RuntimeError(
        "START_FAILED",
        `image "${ref}": cannot tag the loaded image ${id}: ${dockerMessage(err)}`,
      );
    }
  }

  /** The id of the image the tarball holds under `name`, or its only image. */
  private async loadedId(name: string, sha256: string, loaded: Loaded): Promise<string> {
    const wanted = withTag(name);
    if (loaded.refs.some((r) => withTag(r) === wanted)) {
      const image = await this.inspect(name);
      if (image) return image.Id;
    }
    const ids = new Set(loaded.ids);
    for (const ref of loaded.refs) {
      const image = await this.inspect(ref);
      if (image) ids.add(image.Id);
    }
    const [only, ...others] = [...ids];
    if (only !== undefined && others.length === 0) return only;
    const held = loaded.refs.length > 0 ? loaded.refs.join(", ") : `${ids.size} untagged image(s)`;
    throw new RuntimeError(
      "IMAGE_NOT_FOUND",
      `image "${name}" is not in the pushed tarball sha256:${short(sha256)} (it holds ${held})`,
    );
  }

  private loadShared(name: string, sha256: string): Promise<Loaded> {
    const running = this.loads.get(sha256);
    if (running) return running;
    const load = this.load(name, sha256).finally(() => this.loads.delete(sha256));
    this.loads.set(sha256, load);
    return load;
  }

  /** Streams the tarball into `docker load` and reads what it loaded. */
  private async load(name: string, sha256: string): Promise<Loaded> {
    const started = Date.now();
    let bytes = 0;
    let fetchError: unknown;
    const fetch = this.fetch;
    async function* counted(): AsyncGenerator<Buffer> {
      try {
        for await (const chunk of fetch(sha256)) {
          bytes += chunk.length;
          yield chunk;
        }
      } catch (err) {
        fetchError = err;
        throw err;
      }
    }
    const failed = (why: string) =>
      new RuntimeError("START_FAILED", `image "${name}" (sha256:${short(sha256)}) could not be loaded: ${why}`);
    const source = Readable.from(counted(), { objectMode: false });
    let output = "";
    try {
      const response = (await this.docker.loadImage(source)) as NodeJS.ReadableStream;
      for await (const piece of response) output += piece.toString();
    } catch (err) {
      source.destroy();
      if (fetchError !== undefined) {
        throw failed(
          `fetching it from the master failed: ${fetchError instanceof Error ? fetchError.message : String(fetchError)}`,
        );
      }
      if (isUnreachable(err)) throw unavailableError(this.dockerHost, err);
      throw failed(`docker load: ${dockerMessage(err)}`);
    }
    if (fetchError !== undefined) {
      throw failed(
        `fetching it from the master failed: ${fetchError instanceof Error ? fetchError.message : String(fetchError)}`,
      );
    }
    const loaded: Loaded = { refs: [], ids: [], bytes, ms: Date.now() - started };
    for (const line of output.split(/\r?\n/)) {
      if (line.trim() === "") continue;
      let message: { stream?: unknown; error?: unknown; errorDetail?: { message?: unknown } };
      try {
        message = JSON.parse(line) as typeof message;
      } catch {
        continue;
      }
      const error = message.errorDetail?.message ?? message.error;
      if (typeof error === "string" && error !== "") throw failed(`docker load: ${error}`);
      const text = typeof message.stream === "string" ? message.stream : "";
      for (const m of text.matchAll(/Loaded image( ID)?: (\S+)/g)) {
        if (m[1] && m[2]) loaded.ids.push(m[2]);
        else if (m[2]) loaded.refs.push(m[2]);
      }
    }
    return loaded;
  }
}
