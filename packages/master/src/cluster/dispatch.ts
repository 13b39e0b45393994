import type { StartContainer } from "@maro/proto";
import type { ComponentRecord, JobRecord, NodeRecord } from "../state/records.js";

export interface ClusterIdentity {
  clusterId: string;
  clusterName: string;
}

export interface RedisEndpoint {
  host: string;
  port: number;
  password: string;
}

export interface DispatchContext extends ClusterIdentity {
  redis: RedisEndpoint;
  /** The Redis key of a job's roster (hash: component id → JSON). */
  rosterKey: (jobId: string) => string;
  /** Host directory mounted at a component's mount.target; empty when the cluster has none. */
  mountSource: string;
}

/**
 * MARO's component environment, plus what MARO forgot (the Redis address and
 * password) and the job's shape so peers know how many to wait for.
 */
export function componentEnv(
  ctx: DispatchContext,
  job: JobRecord,
  component: ComponentRecord,
  node: NodeRecord,
): Record<string, string> {
  const spec = job.spec.components.find((s) => s.type === component.type);
  return {
    CLUSTER_ID: ctx.clusterId,
    CLUSTER_NAME: ctx.clusterName,
    NODE_ID: node.id,
    NODE_NAME: node.name,
    NODE_ADDRESS: node.address,
    JOB_ID: job.id,
    JOB_NAME: job.name,
    COMPONENT_ID: component.id,
    COMPONENT_TYPE: component.type,
    COMPONENT_INDEX: String(component.index),
    COMPONENT_NUM: String(spec?.num ?? 1),
    JOB_COMPONENTS: job.spec.components.map((s) => `${s.type}=${s.num}`).join(","),
    JOB_SIZE: String(job.components.length),
    CONTAINER_NAME: component.containerName,
    REDIS_HOST: ctx.redis.host,
    REDIS_PORT: String(ctx.redis.port),
    REDIS_PASSWORD: ctx.redis.password,
    JOB_ROSTER_KEY: ctx.rosterKey(job.id),
  };
}

export function startMessage(
  ctx: DispatchContext,
  job: JobRecord,
  component: ComponentRecord,
  node: NodeRecord,
): StartContainer {
  const spec = job.spec.components.find((s) => s.type === component.type);
  return {
    containerName: component.containerName,
    jobId: job.id,
    jobName: job.name,
    componentId: component.id,
    componentType: component.type,
    componentIndex: component.index,
    spec: spec
      ? {
          type: spec.type,
          image: spec.image,
          resources: component.resources,
          num: spec.num,
          mountTarget: spec.mountTarget,
          command: spec.command,
          shell: spec.shell,
        }
      : null,
    env: componentEnv(ctx, job, component, node),
    gpuIndices: component.gpuIndices,
    mountSource: spec?.mountTarget ? ctx.mountSource : "",
    sourceDir: job.spec.sourceDir,
  };
}
