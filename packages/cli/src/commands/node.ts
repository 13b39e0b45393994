// `maro grass node cordon|uncordon|drain <cluster> <node>`: take a node out of
// (and back into) scheduling, or move everything off it.

import { isDnsLabel, type NodeOut } from "@maro/proto";
import type { Command } from "commander";
import { CliError, EXIT } from "../errors.js";
import { printJson, table } from "../output.js";
import { dnsLabelProblem } from "../spec/fields.js";
import { type OutputOption, outputFormat, withMaster } from "./context.js";

/** DrainNodeResponse as received. */
interface DrainNodeResponseOut {
  node: NodeOut | null;
  jobs: string[];
}

/** A node's state as `node list` shows it: "ready", "ready,CORDONED". */
export function nodeStateText(node: Pick<NodeOut, "state" | "cordoned">): string {
  return node.cordoned ? `${node.state},CORDONED` : node.state;
}

/** "gpu_model=A100,zone=a" in key order; "-" for none. */
export function labelsText(labels: Record<string, string> | null | undefined): string {
  const entries = Object.entries(labels ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return entries.length === 0 ? "-" : entries.map(([k, v]) => `${k}=${v}`).join(",");
}

function nodeName(name: string): string {
  if (!isDnsLabel(name)) throw new CliError(`<node>: ${dnsLabelProblem(name, "node name")}`, EXIT.USAGE);
  return name;
}

function nodeRow(node: NodeOut): string {
  return table([
    ["NAME", "STATE", "LABELS"],
    [node.name, nodeStateText(node), labelsText(node.labels)],
  ]);
}

export function registerNodeCommands(node: Command): void {
  node
    .command("cordon <cluster> <node>")
    .description("stop placing new components on a node; what runs there keeps running")
    .option("-o, --output <format>", "table or json", "table")
    .action(async (cluster: string, name: string, opts: OutputOption) => {
      const format = outputFormat(opts);
      const request = { name: nodeName(name) };
      await withMaster(cluster, async (api) => {
        const res = await api.call<{ name: string }, NodeOut>("CordonNode", request);
        if (format === "json") printJson(res);
        else process.stdout.write(`node ${res.name} cordoned: no new placements\n${nodeRow(res)}\n`);
      });
    });

  node
    .command("uncordon <cluster> <node>")
    .description("let the scheduler place components on a cordoned or drained node again")
    .option("-o, --output <format>", "table or json", "table")
    .action(async (cluster: string, name: string, opts: OutputOption) => {
      const format = outputFormat(opts);
      const request = { name: nodeName(name) };
      await withMaster(cluster, async (api) => {
        const res = await api.call<{ name: string }, NodeOut>("UncordonNode", request);
        if (format === "json") printJson(res);
        else process.stdout.write(`node ${res.name} uncordoned: placements allowed\n${nodeRow(res)}\n`);
      });
    });

  node
    .command("drain <cluster> <node>")
    .description("cordon a node and place the jobs running on it again elsewhere (whole jobs: they are gangs)")
    .option("-o, --output <format>", "table or json", "table")
    .action(async (cluster: string, name: string, opts: OutputOption) => {
      const format = outputFormat(opts);
      const request = { name: nodeName(name) };
      await withMaster(cluster, async (api) => {
        const res = await api.call<{ name: string }, DrainNodeResponseOut>("DrainNode", request);
        if (format === "json") return printJson(res);
        const drained = res.node?.name ?? request.name;
        const moved = res.jobs.length === 0 ? "no jobs to move" : `jobs moved: ${res.jobs.join(", ")}`;
        process.stdout.write(`node ${drained} drained (cordoned); ${moved}\n`);
        if (res.node) process.stdout.write(`${nodeRow(res.node)}\n`);
      });
    });
}
