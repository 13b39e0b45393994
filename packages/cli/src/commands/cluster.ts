import { existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { ClusterEventOut, ClusterStatusOut, ListNodesResponseOut } from "@maro/proto";
import type { Command } from "commander";
import { CliError, EXIT } from "../errors.js";
import { readCluster } from "../home.js";
import { createLocalCluster, stopLocalDaemons } from "../local/create.js";
import { isAlive } from "../local/processes.js";
import { ago, printJson, resources, table } from "../output.js";
import { loadDeployment } from "../spec/deployment.js";
import { type OutputOption, outputFormat, withMaster } from "./context.js";
import { registerJoinTokenCommand } from "./join-token.js";
import { labelsText, nodeStateText } from "./node.js";
import { registerNodeTopCommand } from "./node-top.js";
import { cpuUsedText, eventsTable, memoryUsedText } from "./telemetry-view.js";

const progress = { step: (m: string) => process.stderr.write(`  ${m}\n`) };

export function registerClusterCommands(grass: Command): void {
  grass
    .command("create <deployment-file>")
    .description("create a cluster from a deployment file (grass/local: a master and agents on this machine)")
    .option("-o, --output <format>", "table or json", "table")
    .action(async (file: string, opts: OutputOption) => {
      const format = outputFormat(opts);
      const deployment = loadDeployment(file);
      process.stderr.write(
        `creating cluster ${deployment.name} (${deployment.runtime} runtime, ${deployment.nodes.length} node(s))\n`,
      );
      const record = await createLocalCluster(deployment, progress);
      if (format === "json")
        printJson({
          name: record.name,
          mode: record.mode,
          runtime: record.runtime,
          master: record.masterAddress,
          nodes: Object.keys(record.pids.agents),
        });
      else
        process.stdout.write(
          `cluster ${record.name} is ready: master ${record.masterAddress}, nodes ${Object.keys(record.pids.agents).join(", ")}\n`,
        );
    });

  grass
    .command("delete <cluster>")
    .description("stop the cluster's daemons and everything they started, and remove its record")
    .option("-o, --output <format>", "table or json", "table")
    .action(async (cluster: string, opts: OutputOption) => {
      const format = outputFormat(opts);
      const record = readCluster(cluster);
      process.stderr.write(`deleting cluster ${cluster}\n`);
      const forced = await stopLocalDaemons(record);
      const survivors = [
        ...Object.entries(record.pids.agents)
          .filter(([, pid]) => isAlive(pid, record.dir))
          .map(([n]) => `agent ${n}`),
        ...(isAlive(record.pids.master, record.dir) ? ["master"] : []),
      ];
      if (survivors.length > 0)
        throw new CliError(`could not stop: ${survivors.join(", ")}; the record is kept at ${record.dir}`);
      if (existsSync(record.dir)) rmSync(record.dir, { recursive: true, force: true });
      if (format === "json") printJson({ name: cluster, deleted: true, forced });
      else
        process.stdout.write(
          `cluster ${cluster} deleted${forced.length ? ` (had to kill: ${forced.join(", ")})` : ""}\n`,
        );
    });

  grass
    .command("status <cluster> [view]")
    .description("show the cluster's master, nodes, capacity and jobs; `events`: its stored events and anomalies")
    .option("-o, --output <format>", "table or json", "table")
    .option("--job <name>", "events: only this job's")
    .option("--node <name>", "events: only this node's")
    .option("--anomalies", "events: only anomalies")
    .option("--limit <n>", "events: at most the newest n (default 200)")
    .action(async (cluster: string, view: string | undefined, opts: OutputOption & EventOptions) => {
      const format = outputFormat(opts);
      if (view === "events") return showEvents(cluster, format, opts);
      if (view !== undefined) throw new CliError(`[view]: "${view}" is not one of: events`, EXIT.USAGE);
      await withMaster(cluster, async (api, record) => {
        const s = await api.call<object, ClusterStatusOut>("GetClusterStatus", {});
        if (format === "json") return printJson({ ...s, runtime: record.runtime, masterAddress: record.masterAddress });
        const jobs =
          Object.entries(s.jobsByState)
            .map(([k, v]) => `${v} ${k}`)
            .join(", ") || "none";
        process.stdout.write(
          [
            `cluster:   ${s.clusterName} (${s.clusterId})`,
            `master:    ${record.masterAddress}, version ${s.masterVersion}, protocol ${s.protocolVersion}, up since ${new Date(Number(s.startedAtMs)).toISOString()}`,
            `redis:     ${s.redisAddress}`,
            `runtime:   ${record.runtime}`,
            `nodes:     ${s.nodesReady}/${s.nodesTotal} ready`,
            `capacity:  ${resources(s.allocatable)}`,
            `allocated: ${resources(s.allocated)}`,
            `jobs:      ${jobs}`,
            `logs:      ${join(record.dir, "logs")}`,
            "",
          ].join("\n"),
        );
      });
    });

  const node = grass.command("node").description("the cluster's nodes");
  registerJoinTokenCommand(node);
  registerNodeTopCommand(node);
  node
    .command("list <cluster>")
    .description("list nodes with their state, capacity and allocation")
    .option("-o, --output <format>", "table or json", "table")
    .action(async (cluster: string, opts: OutputOption) => {
      const format = outputFormat(opts);
      await withMaster(cluster, async (api) => {
        const res = await api.call<object, ListNodesResponseOut>("ListNodes", {});
        if (format === "json") return printJson(res.nodes);
        const rows = [
          [
            "NAME",
            "STATE",
            "ADDRESS",
            "RUNTIME",
            "ALLOCATABLE",
            "ALLOCATED",
            "CPU USED",
            "MEM USED",
            "HEARTBEAT",
            "LABELS",
          ],
        ];
        for (const n of res.nodes)
          rows.push([
            n.name,
            nodeStateText(n),
            n.address,
            n.runtime,
            resources(n.allocatable),
            resources(n.allocated),
            cpuUsedText(n),
            memoryUsedText(n),
            ago(Number(n.lastHeartbeatMs)),
            labelsText(n.labels),
          ]);
        process.stdout.write(`${table(rows)}\n`);
      });
    });
}

interface EventOptions {
  job?: string;
  node?: string;
  anomalies?: boolean;
  limit?: string;
}

/** `maro grass status <cluster> events`: the stored events, newest last. */
async function showEvents(cluster: string, format: "table" | "json", opts: EventOptions): Promise<void> {
  let limit = 0;
  if (opts.limit !== undefined) {
    limit = Number(opts.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 10_000)
      throw new CliError(`--limit: "${opts.limit}" is not a whole number from 1 to 10000`, EXIT.USAGE);
  }
  await withMaster(cluster, async (api) => {
    const res = await api.call<object, { events: ClusterEventOut[] }>("ListEvents", {
      job: opts.job ?? "",
      node: opts.node ?? "",
      anomaliesOnly: opts.anomalies === true,
      limit,
    });
    if (format === "json") return printJson(res.events);
    process.stdout.write(res.events.length === 0 ? "no events\n" : `${eventsTable(res.events)}\n`);
  });
}
