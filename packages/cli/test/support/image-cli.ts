// `maro grass image …` on its own, for tests that run it as a child process
// (stdout belongs to node:test in the test process itself).

import { Command } from "commander";
import { registerImageCommands } from "../../src/commands/image.js";
import { CliError } from "../../src/errors.js";

const program = new Command("maro").exitOverride();
const grass = program.command("grass").exitOverride();
registerImageCommands(grass);
for (const c of grass.commands.flatMap((c) => [c, ...c.commands])) c.exitOverride();
try {
  await program.parseAsync(["grass", ...process.argv.slice(2)], { from: "user" });
} catch (err) {
  process.stderr.write(`maro: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = err instanceof CliError ? err.exitCode : 1;
}
