import type {
  ClusterEventOut,
  JobOut,
  ListJobsResponseOut,
  StopJobResponseOut,
  SubmitJobResponseOut,
} from "@maro/proto";
import type { Command } from "commander";
import type { MasterApi } from "../client.js";
import { CliError, EXIT } from "../errors.js";
import { readCluster } from "../home.js";
import { printJson } from "../output.js";
import { loadJob } from "../spec/job.js";
import { type OutputOption, outputFormat, withMaster } from "./context.js";
import { jobDetail, jobsTable } from "./job-view.js";
import { registerLogsCommand } from "./logs.js";

const TERMINAL = new Set(["succeeded", "failed", "killed"]);

function exitCodeFor(job: JobOut): number {
  if (job.state === "succeeded") return EXIT.OK;
  if (job.state === "killed") return EXIT.KILLED;
  return EXIT.FAILED;
}

/**
 * Follows a job until it ends: driven by the master's event stream, with a
 * slow GetJob as a safety net for events missed while the stream opened.
 */
async function waitForJob(
  api: MasterApi,
  name: string,
  timeoutMs: number,
  log: (line: string) => void,
): Promise<JobOut> {
  const stream = api.watch(name);
  try {
    return await new Promise<JobOut>((resolve, reject) => {
      let settled = false;
      const end = (fn: () => void) => {
        if (settled) return;
        settled = true;
        clearInterval(safety);
        if (timer) clearTimeout(timer);
        fn();
      };
      const check = () =>
        api.call<{ name: string }, JobOut>("GetJob", { name }).then(
          (job) => {
            if (TERMINAL.has(job.state)) end(() => resolve(job));
          },
          (err: unknown) => end(() => reject(err)),
        );
      const safety = setInterval(() => void check(), 2000);
      const timer =
        timeoutMs > 0
          ? setTimeout(
              () => end(() => reject(new CliError(`job ${name} did not end within ${timeoutMs / 1000}s`))),
              timeoutMs,
            )
          : null;
      stream.on("data", (e: ClusterEventOut) => {
        if (e.kind === "component")
          log(`${e.component}: ${e.state}${e.node ? ` on ${e.node}` : ""}${e.message ? ` (${e.message})` : ""}`);
        else if (e.kind === "job") log(`job ${e.job}: ${e.state}${e.message ? ` (${e.message})` : ""}`);
        if (e.kind === "job" && TERMINAL.has(e.state)) void check();
      });
      stream.on("error", () => {});
      void check();
    });
  } finally {
    stream.cancel();
  }
}

export function registerJobCommands(grass: Command): void {
  const job = grass.command("job").description("submit, list, inspect and stop jobs");
  registerLogsCommand(job);

  job
    .command("start <cluster> <job-file>")
    .description("submit a job; with --wait, follow it and exit 0 only if it succeeds")
    .option("--wait", "wait until the job ends")
    .option("--timeout <seconds>", "with --wait: give up after this long (0 = never)", "0")
    .option("-o, --output <format>", "table or json", "table")
    .action(async (cluster: string, file: string, opts: OutputOption & { wait?: boolean; timeout: string }) => {
      const format = outputFormat(opts);
      const timeout = Number(opts.timeout);
      if (!Number.isFinite(timeout) || timeout < 0)
        throw new CliError("--timeout: must be a number of seconds, 0 or more", EXIT.USAGE);
      const record = readCluster(cluster);
      const spec = loadJob(file, { runtime: record.runtime });
      await withMaster(cluster, async (api) => {
        const res = await api.call<object, SubmitJobResponseOut>("SubmitJob", { spec });
        const submitted = res.job as JobOut;
        if (!opts.wait) {
          if (format === "json") printJson(submitted);
          else process.stdout.write(`job ${submitted.name} submitted (${submitted.state})\n`);
          return;
        }
        process.stderr.write(`job ${submitted.name} submitted; waiting for it to end\n`);
        const ended = await waitForJob(api, submitted.name, timeout * 1000, (l) => process.stderr.write(`  ${l}\n`));
        if (format === "json") printJson(ended);
        else process.stdout.write(`${jobDetail(ended)}\n`);
        process.exitCode = exitCodeFor(ended);
      });
    });

  job
    .command("list <cluster>")
    .description("list the cluster's jobs")
    .option("-o, --output <format>", "table or json", "table")
    .action(async (cluster: string, opts: OutputOption) => {
      const format = outputFormat(opts);
      await withMaster(cluster, async (api) => {
        const res = await api.call<object, ListJobsResponseOut>("ListJobs", {});
        if (format === "json") printJson(res.jobs);
        else process.stdout.write(`${jobsTable(res.jobs)}\n`);
      });
    });

  job
    .command("get <cluster> <job>")
    .description("show a job: state, why, each component's node, exit code and last output")
    .option("-o, --output <format>", "table or json", "table")
    .action(async (cluster: string, name: string, opts: OutputOption) => {
      const format = outputFormat(opts);
      await withMaster(cluster, async (api) => {
        const res = await api.call<{ name: string }, JobOut>("GetJob", { name });
        if (format === "json") printJson(res);
        else process.stdout.write(`${jobDetail(res)}\n`);
      });
    });

  job
    .command("stop <cluster> <job>")
    .description("stop a job's components (SIGTERM, then SIGKILL after the grace period)")
    .option("--wait", "wait until every component has stopped")
    .option("-o, --output <format>", "table or json", "table")
    .action(async (cluster: string, name: string, opts: OutputOption & { wait?: boolean }) => {
      const format = outputFormat(opts);
      await withMaster(cluster, async (api) => {
        const res = await api.call<{ name: string }, StopJobResponseOut>("StopJob", { name });
        let result = res.job as JobOut;
        if (opts.wait && !TERMINAL.has(result.state)) result = await waitForJob(api, name, 60_000, () => {});
        if (format === "json") printJson(result);
        else process.stdout.write(`job ${result.name}: ${result.state}\n`);
      });
    });
}
