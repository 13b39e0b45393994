// The deployment file of a local Grass cluster (`maro grass create`):
//
//   mode: grass/local
//   name: demo
//   runtime: process          # or docker
//   nodes: 2                  # or a list of {name, resources: {cpu, memory, gpu}}
//   master: {api_server: {port: 0}, redis: {port: 0}}
//   docker: {socket: /var/run/docker.sock}

import { formatCpu, formatMemory } from "@maro/proto";
import { z } from "zod";
import { describeValue, SpecError, type SpecIssue } from "./errors.js";
import { cpu, dnsLabel, FieldProblem, field, gpu, memory, oneOf, port } from "./fields.js";
import { parseWith } from "./issues.js";
import { loadAndValidate } from "./load-yaml.js";
import { suggest } from "./suggest.js";

export type Runtime = "process" | "docker";
export const RUNTIMES: readonly Runtime[] = ["process", "docker"];
export const MAX_LOCAL_NODES = 64;

/** What a node offers the scheduler; "all" is everything the agent measures. */
export interface NodeResources {
  cpuMillis: number | "all";
  memoryBytes: number | "all";
  gpu: number | "all";
}

export interface LocalNodeSpec {
  name: string;
  resources: NodeResources;
}

export interface LocalDeployment {
  mode: "grass/local";
  name: string;
  runtime: Runtime;
  nodes: LocalNodeSpec[];
  master: { apiServer: { port: number }; redis: { port: number } };
  /** Set when the file names a Docker socket; else DOCKER_HOST or the default applies. */
  docker?: { socket: string };
}

/** The agent's `--resources` flag for a node: "cpu=2,memory=4Gi,gpu=all". */
export function nodeResourcesFlag(resources: NodeResources): string {
  const cpuText = resources.cpuMillis === "all" ? "all" : formatCpu(resources.cpuMillis);
  const memoryText = resources.memoryBytes === "all" ? "all" : formatMemory(resources.memoryBytes);
  return `cpu=${cpuText},memory=${memoryText},gpu=${resources.gpu}`;
}

/** MARO's other modes: known, so they get "not supported yet" rather than "unknown". */
const LATER_MODES = ["grass/azure", "grass/on-premises", "k8s/aks"];

const mode = field((value): "grass/local" => {
  if (value === "grass/local") return value;
  if (value === undefined) throw new FieldProblem("required; use grass/local");
  if (typeof value === "string" && LATER_MODES.includes(value)) {
    throw new FieldProblem(`${value} is not supported yet by this version; use grass/local`);
  }
  const near = typeof value === "string" ? suggest(value, ["grass/local", ...LATER_MODES]) : undefined;
  const hint = near === undefined ? "" : ` (did you mean ${near}?)`;
  throw new FieldProblem(`${describeValue(value)} is not a deployment mode; use grass/local${hint}`);
});

const dockerSocket = field((value): string => {
  if (value === undefined) throw new FieldProblem("required; e.g. /var/run/docker.sock");
  if (typeof value !== "string") {
    throw new FieldProblem(`expected a socket path such as /var/run/docker.sock, got ${describeValue(value)}`);
  }
  if (/^\//.test(value) || /^unix:\/\/\//.test(value) || /^(tcp|http|https):\/\/[^/\s]+$/.test(value)) {
    // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
    if (!/[\u0000-\u001f\u007f]/.test(value)) return value;
  }
  throw new FieldProblem(
    `${describeValue(value)} is not a Docker socket; use an absolute path (/var/run/docker.sock), unix:///path or tcp://host:port`,
  );
});

function nodeList(count: number): Array<{ name: string }> {
  return Array.from({ length: count }, (_, i) => ({ name: `node-${i + 1}` }));
}

const NODES_HINT = `a number of nodes from 1 to ${MAX_LOCAL_NODES}, or a list of {name, resources}`;

const nodeSchema = z.strictObject({
  name: dnsLabel("node name", "node-1"),
  resources: z
    .strictObject({
      cpu: cpu({ allowAll: true }),
      memory: memory({ allowAll: true }),
      gpu: gpu({ allowAll: true }),
    })
    .prefault({}),
});

const nodes = z
  .preprocess(
    (value, ctx) => {
      if (value === undefined) return nodeList(1);
      if (typeof value !== "number") return value;
      if (Number.isInteger(value) && value >= 1 && value <= MAX_LOCAL_NODES) return nodeList(value);
      ctx.issues.push({ code: "custom", message: `expected ${NODES_HINT}, got ${describeValue(value)}`, input: value });
      return value;
    },
    z
      .array(nodeSchema, {
        error: (issue) =>
          issue.code === "invalid_type" ? `expected ${NODES_HINT}, got ${describeValue(issue.input)}` : undefined,
      })
      .min(1)
      .max(MAX_LOCAL_NODES),
  )
  .prefault(undefined);

const deploymentSchema = z.strictObject({
  mode,
  name: dnsLabel("cluster name", "my-cluster"),
  runtime: oneOf("runtime", RUNTIMES, "process"),
  nodes,
  master: z
    .strictObject({
      api_server: z.strictObject({ port: port() }).prefault({}),
      redis: z.strictObject({ port: port() }).prefault({}),
    })
    .prefault({}),
  docker: z.strictObject({ socket: dockerSocket }).optional(),
});

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** Problems across fields, found on the raw document so they show up alongside the rest. */
function crossFieldIssues(doc: Record<string, unknown>): SpecIssue[] {
  const issues: SpecIssue[] = [];
  if (Array.isArray(doc.nodes)) {
    const first = new Map<string, number>();
    doc.nodes.forEach((node: unknown, index) => {
      const name = isRecord(node) ? node.name : undefined;
      if (typeof name !== "string") return;
      const earlier = first.get(name);
      if (earlier === undefined) first.set(name, index);
      else issues.push({ path: `nodes[${index}].name`, message: `"${name}" is already the name of nodes[${earlier}]` });
    });
  }
  const master = isRecord(doc.master) ? doc.master : {};
  const apiPort = isRecord(master.api_server) ? master.api_server.port : undefined;
  const redisPort = isRecord(master.redis) ? master.redis.port : undefined;
  if (typeof apiPort === "number" && apiPort !== 0 && apiPort === redisPort) {
    issues.push({
      path: "master.redis.port",
      message: `${redisPort} is also master.api_server.port; use another port, or 0 for any free port`,
    });
  }
  return issues;
}

/** Validates a parsed deployment document. Throws SpecError listing every problem. */
export function validateDeployment(doc: unknown): LocalDeployment {
  if (!isRecord(doc)) {
    throw new SpecError([
      { path: "", message: `expected a mapping of fields (mode, name, …) at the top, got ${describeValue(doc)}` },
    ]);
  }
  const parsed = parseWith(deploymentSchema, doc);
  const issues = [...(parsed.ok ? [] : parsed.issues), ...crossFieldIssues(doc)];
  if (!parsed.ok || issues.length > 0) throw new SpecError(issues);
  const { data } = parsed;
  const deployment: LocalDeployment = {
    mode: data.mode,
    name: data.name,
    runtime: data.runtime,
    nodes: data.nodes.map((node) => ({
      name: node.name,
      resources: { cpuMillis: node.resources.cpu, memoryBytes: node.resources.memory, gpu: node.resources.gpu },
    })),
    master: { apiServer: { port: data.master.api_server.port }, redis: { port: data.master.redis.port } },
  };
  if (data.docker !== undefined) deployment.docker = { socket: data.docker.socket };
  return deployment;
}

/** Reads and validates a deployment file. Throws SpecError with file positions. */
export function loadDeployment(path: string): LocalDeployment {
  return loadAndValidate(path, validateDeployment);
}
