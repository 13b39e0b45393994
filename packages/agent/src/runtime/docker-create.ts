// What the docker runtime asks the engine to create for a LaunchSpec.

import type Dockerode from "dockerode";
import { containerGpuEnv, gpuDeviceRequests } from "./gpu.js";
import type { LaunchSpec } from "./types.js";

export interface LogConfig {
  type: string;
  config: Record<string, string>;
}

export interface CreateContext {
  scopeLabels: Record<string, string>;
  networkMode: string;
  logConfig?: LogConfig | undefined;
}

/** The engine's create request for a spec (exported for tests). */
export function containerCreateOptions(spec: LaunchSpec, options: CreateContext): Dockerode.ContainerCreateOptions {
  const hostConfig: Dockerode.HostConfig = {
    NetworkMode: options.networkMode,
    ExtraHosts: ["host.docker.internal:host-gateway"],
  };
  if (Number.isFinite(spec.cpuMillis) && spec.cpuMillis > 0) hostConfig.NanoCpus = Math.round(spec.cpuMillis * 1e6);
  if (Number.isFinite(spec.memoryBytes) && spec.memoryBytes > 0) {
    hostConfig.Memory = Math.round(spec.memoryBytes);
    // The limit is the limit: no extra swap on top of it.
    hostConfig.MemorySwap = hostConfig.Memory;
  }
  if (spec.mount) hostConfig.Binds = [`${spec.mount.source}:${spec.mount.target}`];
  if (spec.gpuIndices.length > 0) hostConfig.DeviceRequests = gpuDeviceRequests(spec.gpuIndices);
  if (options.logConfig)
    hostConfig.LogConfig = { Type: options.logConfig.type, Config: { ...options.logConfig.config } };
  // The GPU variables come last: a component cannot widen its own devices.
  const env = { ...spec.env, ...containerGpuEnv(spec.gpuIndices) };
  const create: Dockerode.ContainerCreateOptions = {
    name: spec.containerName,
    Image: spec.image,
    Env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
    Labels: { ...spec.labels, ...options.scopeLabels },
    HostConfig: hostConfig,
  };
  const cmd = commandOf(spec);
  if (cmd) create.Cmd = cmd;
  return create;
}

/** Cmd for the container; undefined keeps the image's default. */
export function commandOf(spec: Pick<LaunchSpec, "command" | "shell">): string[] | undefined {
  if (spec.shell) {
    const script = spec.command.join(" ").trim();
    return script === "" ? undefined : ["sh", "-c", script];
  }
  return spec.command.length === 0 ? undefined : [...spec.command];
}

/** True when the container carries every one of these labels. */
export function hasLabels(
  containerLabels: Record<string, string> | undefined,
  wanted: Record<string, string>,
): boolean {
  const labels = containerLabels ?? {};
  return Object.entries(wanted).every(([k, v]) => labels[k] === v);
}

/** The log driver config for one component: a fluentd tag of its own, maro.<job>.<container>. */
export function logConfigFor(config: LogConfig | undefined, spec: LaunchSpec): LogConfig | undefined {
  if (config?.type !== "fluentd") return config;
  const job = spec.labels["maro.job"] ?? "unknown";
  return { type: "fluentd", config: { ...config.config, tag: `maro.${job}.${spec.containerName}` } };
}
