// `maro grass schedule start|stop`: MARO's schedules, several jobs with the
// same components started (and stopped) together.

import { isDnsLabel, type JobOut } from "@maro/proto";
import type { Command } from "commander";
import { CliError, EXIT } from "../errors.js";
import { readCluster } from "../home.js";
import { printJson } from "../output.js";
import { dnsLabelProblem } from "../spec/fields.js";
import { loadSchedule } from "../spec/schedule.js";
import { type OutputOption, outputFormat, withMaster } from "./context.js";
import { jobsTable } from "./job-view.js";

/** ScheduleResponse as received. */
interface ScheduleResponseOut {
  name: string;
  jobs: JobOut[];
}

function print(res: ScheduleResponseOut, format: "table" | "json", verb: string): void {
  if (format === "json") {
    printJson(res);
    return;
  }
  const count = `${res.jobs.length} job${res.jobs.length === 1 ? "" : "s"}`;
  process.stdout.write(`schedule ${res.name}: ${count} ${verb}\n`);
  if (res.jobs.length > 0) process.stdout.write(`${jobsTable(res.jobs)}\n`);
}

export function registerScheduleCommands(grass: Command): void {
  const schedule = grass
    .command("schedule")
    .description("start and stop schedules: several jobs with the same components");

  schedule
    .command("start <cluster> <schedule-file>")
    .description("start one job per name in the file's job_names, all or none")
    .option("-o, --output <format>", "table or json", "table")
    .action(async (cluster: string, file: string, opts: OutputOption) => {
      const format = outputFormat(opts);
      const record = readCluster(cluster);
      const spec = loadSchedule(file, { runtime: record.runtime });
      await withMaster(cluster, async (api) => {
        const res = await api.call<object, ScheduleResponseOut>("StartSchedule", {
          name: spec.name,
          jobNames: spec.jobNames,
          template: spec.template,
        });
        print(res, format, "started");
      });
    });

  schedule
    .command("stop <cluster> <schedule>")
    .description("stop every job of the schedule that has not ended")
    .option("-o, --output <format>", "table or json", "table")
    .action(async (cluster: string, name: string, opts: OutputOption) => {
      const format = outputFormat(opts);
      if (!isDnsLabel(name)) throw new CliError(`<schedule>: ${dnsLabelProblem(name, "schedule name")}`, EXIT.USAGE);
      await withMaster(cluster, async (api) => {
        const res = await api.call<{ name: string }, ScheduleResponseOut>("StopSchedule", { name });
        print(res, format, "stopped");
      });
    });
}
