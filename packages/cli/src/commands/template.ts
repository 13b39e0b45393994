import type { Command } from "commander";
import { printJson } from "../output.js";
import { writeTemplates } from "../template/index.js";
import { type OutputOption, outputFormat } from "./context.js";

export function registerTemplateCommand(grass: Command): void {
  grass
    .command("template <dir>")
    .description("write commented example deployment.yml, job.yml and schedule.yml into dir")
    .option("--force", "overwrite existing files")
    .option("-o, --output <format>", "table or json", "table")
    .action((dir: string, opts: OutputOption & { force?: boolean }) => {
      const format = outputFormat(opts);
      const written = writeTemplates(dir, { force: Boolean(opts.force) });
      if (format === "json") printJson({ written });
      else for (const f of written) process.stdout.write(`wrote ${f}\n`);
    });
}
