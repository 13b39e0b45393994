import type { LogLineOut } from "@maro/proto";
import type { Command } from "commander";
import { fromGrpcError } from "../client.js";
import { CliError, EXIT } from "../errors.js";
import { parseDuration } from "../progress.js";
import { type OutputOption, outputFormat, withMaster } from "./context.js";

interface LogsOptions extends OutputOption {
  follow?: boolean;
  component?: string;
  tail: string;
  since?: string;
}

export function registerLogsCommand(job: Command): void {
  job
    .command("logs <cluster> <job>")
    .description("print a job's output; -f follows it until the job ends")
    .option("-f, --follow", "keep printing new lines until the job ends")
    .option("--component <type[:index]>", "only this component type, or one replica")
    .option("--tail <n>", "only the last n lines", "0")
    .option("--since <duration>", "only lines newer than this (30s, 5m, 2h)")
    .option("-o, --output <format>", "table or json (one JSON object per line)", "table")
    .action(async (cluster: string, name: string, opts: LogsOptions) => {
      const format = outputFormat(opts);
      const tail = Number(opts.tail);
      if (!Number.isInteger(tail) || tail < 0)
        throw new CliError("--tail: must be a whole number, 0 or more", EXIT.USAGE);
      if (opts.component && !/^[a-z0-9-]+(:\d+)?$/.test(opts.component))
        throw new CliError(`--component: "${opts.component}" is not type or type:index`, EXIT.USAGE);
      let sinceMs = 0;
      if (opts.since) {
        try {
          sinceMs = Date.now() - parseDuration(opts.since);
        } catch (err) {
          throw new CliError(`--since: ${(err as Error).message}`, EXIT.USAGE);
        }
      }
      await withMaster(cluster, async (api) => {
        const stream = api.client.JobLogs({
          job: name,
          follow: Boolean(opts.follow),
          component: opts.component ?? "",
          tail,
          sinceMs,
        });
        await new Promise<void>((resolve, reject) => {
          stream.on("data", (l: LogLineOut) => {
            if (format === "json") process.stdout.write(`${JSON.stringify(l)}\n`);
            else process.stdout.write(`${l.component.padEnd(12)} | ${l.line}\n`);
          });
          stream.on("error", (err) => reject(fromGrpcError(err as Parameters<typeof fromGrpcError>[0], api.address)));
          stream.on("end", () => resolve());
        });
      });
    });
}
