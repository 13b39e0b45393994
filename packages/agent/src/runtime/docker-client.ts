// Small helpers around dockerode: where the engine is, what its errors mean,
// and how to read a non-TTY log buffer.

import type Dockerode from "dockerode";
import { RuntimeError } from "./types.js";

export const DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock";

/**
 * Turns a DOCKER_HOST value into dockerode connection options:
 * `unix:///path/docker.sock`, a bare `/path/docker.sock`, or `tcp://host:port`
 * (plain http; TLS engines are not supported here).
 */
export function dockerConnection(dockerHost: string): Dockerode.DockerOptions {
  const host = dockerHost.trim();
  if (host.startsWith("/")) return { socketPath: host };
  if (host.startsWith("unix://")) {
    const socketPath = host.slice("unix://".length);
    if (!socketPath.startsWith("/")) {
      throw new Error(`invalid Docker host "${dockerHost}": expected unix:///absolute/path/to/docker.sock`);
    }
    return { socketPath };
  }
  if (host.startsWith("tcp://") || host.startsWith("http://")) {
    const url = new URL(host.replace(/^tcp:/, "http:"));
    return { host: url.hostname, port: url.port === "" ? 2375 : Number(url.port), protocol: "http" };
  }
  throw new Error(`invalid Docker host "${dockerHost}": expected unix:///path/to/docker.sock or tcp://host:port`);
}

/** The parts of a docker-modem / socket error this module looks at. */
interface DockerErrorShape {
  statusCode?: unknown;
  code?: unknown;
  json?: unknown;
  message?: unknown;
}

function shape(err: unknown): DockerErrorShape {
  return typeof err === "object" && err !== null ? (err as DockerErrorShape) : {};
}

/** The HTTP status the engine answered with, if it answered. */
export function dockerStatus(err: unknown): number | undefined {
  const status = shape(err).statusCode;
  return typeof status === "number" ? status : undefined;
}

/** The engine's own message ("No such image: x"), else the error's message. */
export function dockerMessage(err: unknown): string {
  const s = shape(err);
  const json = s.json;
  if (typeof json === "object" && json !== null) {
    const message = (json as { message?: unknown }).message;
    if (typeof message === "string" && message !== "") return message;
  }
  if (typeof s.message === "string") return s.message;
  return String(err);
}

const SOCKET_ERRORS = new Set(["ENOENT", "ECONNREFUSED", "EACCES", "ECONNRESET", "EPIPE", "ETIMEDOUT", "EHOSTUNREACH"]);

/** True when the engine could not be reached at all (no HTTP answer). */
export function isUnreachable(err: unknown): boolean {
  const code = shape(err).code;
  return dockerStatus(err) === undefined && typeof code === "string" && SOCKET_ERRORS.has(code);
}

export function unavailableError(dockerHost: string, err: unknown): RuntimeError {
  const code = shape(err).code;
  return new RuntimeError(
    "RUNTIME_UNAVAILABLE",
    `cannot reach the Docker engine at ${dockerHost} (${typeof code === "string" ? code : dockerMessage(err)}): ` +
      "start dockerd, point DOCKER_HOST at its socket, or run the agent with the process runtime",
  );
}

/**
 * Maps an error from creating or starting a container to a RuntimeError whose
 * message says what to fix.
 */
export function startError(err: unknown, image: string, containerName: string, dockerHost: string): RuntimeError {
  if (err instanceof RuntimeError) return err;
  if (isUnreachable(err)) return unavailableError(dockerHost, err);
  const status = dockerStatus(err);
  const message = dockerMessage(err);
  if (status === 404 && /image/i.test(message)) {
    return new RuntimeError(
      "IMAGE_NOT_FOUND",
      `image "${image}" is not on this node: push it with \`maro grass image push\` or pull it on the node`,
    );
  }
  if (status === 409) {
    return new RuntimeError(
      "NAME_IN_USE",
      `a container named "${containerName}" already exists on this node: stop it first or use another name (${message})`,
    );
  }
  if (/could not select device driver/i.test(message)) {
    return new RuntimeError(
      "START_FAILED",
      `container "${containerName}" (image "${image}") needs GPUs but this node's Docker engine has no NVIDIA runtime (${message}): ` +
        "install the NVIDIA Container Toolkit and restart dockerd, or run the agent with --resources gpu=0",
    );
  }
  return new RuntimeError("START_FAILED", `container "${containerName}" (image "${image}") did not start: ${message}`);
}

/**
 * Splits a non-TTY log buffer (8-byte frame headers: stream, 0, 0, 0, size
 * big-endian) into its payloads, stdout and stderr interleaved in order.
 * A buffer that is not framed (TTY containers) is returned as is.
 */
export function demuxLogs(buf: Buffer): Buffer {
  const parts: Buffer[] = [];
  let offset = 0;
  while (offset + 8 <= buf.length) {
    const stream = buf[offset];
    if ((stream !== 0 && stream !== 1 && stream !== 2) || buf[offset + 1] !== 0) return buf;
    const size = buf.readUInt32BE(offset + 4);
    const end = Math.min(buf.length, offset + 8 + size);
    parts.push(buf.subarray(offset + 8, end));
    offset = end;
  }
  if (offset < buf.length && parts.length === 0) return buf;
  return Buffer.concat(parts);
}

/** A listed container that is running, or paused (frozen but alive). */
export function isLive(state: string): boolean {
  return state === "running" || state === "paused";
}

/** A listed container's name, without the engine's leading slash. */
export function nameOf(c: Dockerode.ContainerInfo): string {
  return (c.Names[0] ?? c.Id).replace(/^\//, "");
}

export function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
