// `docker save` without the docker CLI: GET /images/get from the local
// Docker engine (DOCKER_HOST, else /var/run/docker.sock) into a file.

import { createWriteStream } from "node:fs";
import { stat } from "node:fs/promises";
import { type IncomingMessage, request } from "node:http";
import { pipeline } from "node:stream/promises";

export const DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock";

export function localDockerHost(): string {
  return process.env.DOCKER_HOST || DEFAULT_DOCKER_HOST;
}

type Target = { socketPath: string } | { host: string; port: number };

/** Where a DOCKER_HOST value points: a unix socket, or plain-http tcp://host:port. */
export function dockerTarget(dockerHost: string): Target {
  if (dockerHost.startsWith("unix://")) return { socketPath: dockerHost.slice("unix://".length) };
  if (dockerHost.startsWith("/")) return { socketPath: dockerHost };
  if (dockerHost.startsWith("tcp://") || dockerHost.startsWith("http://")) {
    const url = new URL(dockerHost.replace(/^tcp:/, "http:"));
    return { host: url.hostname, port: url.port === "" ? 2375 : Number(url.port) };
  }
  throw new Error(`docker host "${dockerHost}" is not unix:///path/to/docker.sock or tcp://host:port`);
}

/** Starts a GET against the engine; resolves with the response once its headers are in. */
export function dockerGet(dockerHost: string, path: string): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = request({ ...dockerTarget(dockerHost), path, method: "GET" }, resolve);
    req.on("error", (err) =>
      reject(new Error(`no Docker engine at ${dockerHost} (${err.message}); start dockerd or set DOCKER_HOST`)),
    );
    req.end();
  });
}

async function text(res: IncomingMessage): Promise<string> {
  let body = "";
  for await (const piece of res) body += String(piece);
  return body;
}

/**
 * Writes the tarball `docker save <ref>` would make to dest; resolves with its
 * size. A ref without a tag saves every tag of the repository, as docker does.
 */
export async function saveImage(dockerHost: string, ref: string, dest: string): Promise<number> {
  const res = await dockerGet(dockerHost, `/images/get?names=${encodeURIComponent(ref)}`);
  if (res.statusCode !== 200) {
    const body = await text(res);
    let message = body.trim();
    try {
      message = (JSON.parse(body) as { message?: string }).message ?? message;
    } catch {
      // not JSON: keep the text
    }
    if (res.statusCode === 404)
      throw new Error(`the Docker engine at ${dockerHost} has no image "${ref}" (${message})`);
    throw new Error(`the Docker engine at ${dockerHost} could not save "${ref}": ${res.statusCode} ${message}`);
  }
  await pipeline(res, createWriteStream(dest, { mode: 0o600 }));
  return (await stat(dest)).size;
}
