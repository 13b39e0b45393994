export {
  type LocalDeployment,
  type LocalNodeSpec,
  loadDeployment,
  MAX_LOCAL_NODES,
  type NodeResources,
  nodeResourcesFlag,
  RUNTIMES,
  type Runtime,
  validateDeployment,
} from "./deployment.js";
export { formatIssue, formatPath, SpecError, type SpecIssue } from "./errors.js";
export {
  ALL_RESOURCE_MODES,
  ALLOCATION_METRICS,
  ALLOCATION_MODES,
  type AllocationMetric,
  type AllocationMode,
  type ComponentResources,
  type JobOptions,
  loadJob,
  MAX_JOB_REPLICAS,
  MAX_PRIORITY,
  MAX_REPLICAS_PER_COMPONENT,
  MIN_PRIORITY,
  SPREAD_ACROSS,
  type ValidComponentSpec,
  type ValidJobSpec,
  validateJob,
} from "./job.js";
export { type LoadedYaml, loadYamlFile, MAX_YAML_BYTES, MAX_YAML_DEPTH, parseYaml } from "./load-yaml.js";
export { loadSchedule, MAX_SCHEDULE_JOBS, type ValidSchedule, validateSchedule } from "./schedule.js";
