import { Command, CommanderError } from "commander";
import { registerClusterCommands } from "./commands/cluster.js";
import { registerDataCommands } from "./commands/data.js";
import { registerImageCommands } from "./commands/image.js";
import { registerJobCommands } from "./commands/job.js";
import { registerNodeCommands } from "./commands/node.js";
import { registerScheduleCommands } from "./commands/schedule.js";
import { registerTemplateCommand } from "./commands/template.js";
import { CliError, EXIT } from "./errors.js";
import { SpecError } from "./spec/errors.js";

export const CLI_VERSION = "0.1.0";

export function buildProgram(): Command {
  const program = new Command("maro")
    .description("provision training clusters and run distributed jobs on them")
    .version(CLI_VERSION)
    .exitOverride()
    .showHelpAfterError("(run with --help for usage)");
  const grass = program.command("grass").description("Grass clusters: maro's own orchestrator").exitOverride();
  registerClusterCommands(grass);
  const node = grass.commands.find((c) => c.name() === "node");
  if (node) registerNodeCommands(node);
  registerJobCommands(grass);
  registerScheduleCommands(grass);
  registerTemplateCommand(grass);
  registerDataCommands(grass);
  registerImageCommands(grass);
  for (const cmd of [program, grass, ...grass.commands, ...grass.commands.flatMap((c) => c.commands)])
    cmd.exitOverride();
  return program;
}

/** Runs the CLI; resolves to the exit code. */
export async function run(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: "user" });
    return typeof process.exitCode === "number" ? process.exitCode : EXIT.OK;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === "commander.helpDisplayed" || err.code === "commander.version" || err.code === "commander.help")
        return EXIT.OK;
      return EXIT.USAGE;
    }
    if (err instanceof SpecError) {
      process.stderr.write(`maro: ${err.message}\n`);
      return EXIT.USAGE;
    }
    if (err instanceof CliError) {
      process.stderr.write(`maro: ${err.message}\n`);
      return err.exitCode;
    }
    process.stderr.write(`maro: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return EXIT.FAILED;
  }
}
