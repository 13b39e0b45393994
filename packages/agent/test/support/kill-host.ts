// Runs test/support/runtime-host.ts in a child process and kills it with
// SIGKILL, as a crashed agent would die: no close(), no cleanup.

import { type ChildProcess, spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { HostConfig } from "./runtime-host.js";

const hostScript = join(dirname(fileURLToPath(import.meta.url)), "runtime-host.ts");

export interface Host {
  child: ChildProcess;
  output: () => string;
  /** SIGKILL by pid; resolves once the process is gone. */
  kill9: () => Promise<void>;
}

/** Starts the host and waits (at most timeoutMs) until it has started every spec. */
export async function startHost(config: HostConfig, timeoutMs = 60_000): Promise<Host> {
  const child = spawn(process.execPath, ["--import", "tsx", hostScript, JSON.stringify(config)], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    out += chunk.toString("utf8");
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    out += chunk.toString("utf8");
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const deadline = Date.now() + timeoutMs;
  while (!/^started$/m.test(out)) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`runtime host died: ${out}`);
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`runtime host did not start within ${timeoutMs} ms: ${out}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    child,
    output: () => out,
    kill9: async () => {
      if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
        process.kill(child.pid, "SIGKILL");
      }
      await exited;
    },
  };
}
