import { existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { ClusterStatusOut, ListNodesResponseOut } from "@maro/proto";
import type { Command } from "commander";
import { CliError } from "../errors.js";
import { readCluster } from "../home.js";
import { createLocalCluster, stopLocalDaemons } from "../local/create.js";
import { isAlive } from "../local/processes.js";
import { ago, printJson, resources, table } from "../output.js";
import { loadDeployment } from "../spec/deployment.js";
import { type OutputOption, outputFormat, withMaster } from "./context.js";
import { registerJoinTokenCommand } from "./join-token.js";

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
    .command("status <cluster>")
    .description("show the cluster's master, nodes, capacity and jobs")
    .option("-o, --output <format>", "table or json", "table")
    .action(async (cluster: string, opts: OutputOption) => {
      const format = outputFormat(opts);
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
  node
    .command("list <cluster>")
    .description("list nodes with their state, capacity and allocation")
    .option("-o, --output <format>", "table or json", "table")
    .action(async (cluster: string, opts: OutputOption) => {
      const format = outputFormat(opts);
      await withMaster(cluster, async (api) => {
        const res = await api.call<object, ListNodesResponseOut>("ListNodes", {});
        if (format === "json") return printJson(res.nodes);
        const rows = [["NAME", "STATE", "ADDRESS", "RUNTIME", "ALLOCATABLE", "ALLOCATED", "HEARTBEAT"]];
        for (const n of res.nodes)
          rows.push([
            n.name,
            n.state,
            n.address,
            n.runtime,
            resources(n.allocatable),
            resources(n.allocated),
            ago(Number(n.lastHeartbeatMs)),
          ]);
        process.stdout.write(`${table(rows)}\n`);
      });
    });
}
