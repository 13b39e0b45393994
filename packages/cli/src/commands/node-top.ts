// `maro grass node top <cluster> <node>`: a node's resource history over the last hour.

import { isDnsLabel } from "@maro/proto";
import type { Command } from "commander";
import { CliError, EXIT } from "../errors.js";
import { printJson } from "../output.js";
import { type OutputOption, outputFormat, withMaster } from "./context.js";
import { type MetricsSample, metricsSummary } from "./telemetry-view.js";

interface NodeMetricsOut {
  node: string;
  samples: MetricsSample[];
}

export function registerNodeTopCommand(node: Command): void {
  node
    .command("top <cluster> <node>")
    .description("show a node's cpu, memory, disk and network over the last hour (10 s points)")
    .option("-o, --output <format>", "table or json", "table")
    .option("--since <minutes>", "only the last N minutes (1-60)")
    .action(async (cluster: string, name: string, opts: OutputOption & { since?: string }) => {
      const format = outputFormat(opts);
      if (!isDnsLabel(name))
        throw new CliError(
          `<node>: "${name}" is not a node name (a DNS label); see \`maro grass node list\``,
          EXIT.USAGE,
        );
      let sinceMs = 0;
      if (opts.since !== undefined) {
        const minutes = Number(opts.since);
        if (!Number.isInteger(minutes) || minutes < 1 || minutes > 60)
          throw new CliError(`--since: "${opts.since}" is not a whole number of minutes from 1 to 60`, EXIT.USAGE);
        sinceMs = Date.now() - minutes * 60_000;
      }
      await withMaster(cluster, async (api) => {
        const res = await api.call<object, NodeMetricsOut>("GetNodeMetrics", { name, sinceMs });
        if (format === "json") return printJson(res);
        process.stdout.write(`${metricsSummary(res.node, res.samples)}\n`);
      });
    });
}
