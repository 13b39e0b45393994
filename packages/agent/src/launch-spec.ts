import type { StartContainerOut } from "@maro/proto";
import type { LaunchSpec } from "./runtime/types.js";

const LOOPBACK = /^(127\.|localhost$|::1$)/;

/** Labels that mark a component as this agent's, so it can find it again. */
export function ownerLabels(cluster: string, node: string): Record<string, string> {
  return { "maro.managed": "true", "maro.cluster": cluster, "maro.node": node };
}

/**
 * Turns a start command into what the runtime launches. In a container,
 * loopback means the container itself, so a Redis on the host's loopback is
 * reached through the host gateway instead.
 */
export function toLaunchSpec(
  start: StartContainerOut,
  runtime: "docker" | "process",
  owner: Record<string, string>,
): LaunchSpec {
  const spec = start.spec;
  const env = { ...start.env };
  if (runtime === "docker" && env.REDIS_HOST && LOOPBACK.test(env.REDIS_HOST)) env.REDIS_HOST = "host.docker.internal";
  const launch: LaunchSpec = {
    containerName: start.containerName,
    image: spec?.image ?? "",
    command: spec?.command ?? [],
    shell: spec?.shell ?? false,
    env,
    cpuMillis: spec?.resources?.cpuMillis ?? 0,
    memoryBytes: spec?.resources?.memoryBytes ?? 0,
    gpuIndices: [...start.gpuIndices],
    labels: {
      ...owner,
      "maro.job": start.jobName,
      "maro.job-id": start.jobId,
      "maro.component": start.componentId,
    },
  };
  if (spec?.mountTarget && start.mountSource) launch.mount = { source: start.mountSource, target: spec.mountTarget };
  if (start.sourceDir) launch.workdir = start.sourceDir;
  return launch;
}
