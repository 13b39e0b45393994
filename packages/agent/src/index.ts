export { AGENT_VERSION, type ChannelOptions, MasterChannel, RefusedError } from "./channel.js";
export { ownerLabels, toLaunchSpec } from "./launch-spec.js";
export { DockerRuntime, type DockerRuntimeOptions } from "./runtime/docker.js";
export * from "./runtime/types.js";
