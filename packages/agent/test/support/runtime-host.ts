// A stand-in for maro-agent that a test can kill -9: it starts the given
// components with a real runtime, prints "started" and waits to be killed.
// Usage: node --import tsx runtime-host.ts '<HostConfig as JSON>'

import { DockerRuntime } from "../../src/runtime/docker.js";
import { ProcessRuntime } from "../../src/runtime/process.js";
import type { ContainerRuntime, LaunchSpec } from "../../src/runtime/types.js";

export interface HostConfig {
  runtime: "docker" | "process";
  scopeLabels: Record<string, string>;
  /** process runtime */
  stateDir?: string;
  /** docker runtime */
  dockerHost?: string;
  specs: LaunchSpec[];
}

async function main(): Promise<void> {
  const config = JSON.parse(process.argv[2] ?? "") as HostConfig;
  const onWarning = (message: string) => process.stderr.write(`warning: ${message}\n`);
  const runtime: ContainerRuntime =
    config.runtime === "docker"
      ? new DockerRuntime({ dockerHost: config.dockerHost, scopeLabels: config.scopeLabels, onWarning })
      : new ProcessRuntime({ stateDir: config.stateDir ?? "", scopeLabels: config.scopeLabels, onWarning });
  runtime.onEvent((event) => process.stdout.write(`event ${JSON.stringify(event)}\n`));
  for (const spec of config.specs) await runtime.start(spec);
  process.stdout.write("started\n");
  setInterval(() => {}, 60_000);
}

main().catch((err: unknown) => {
  process.stderr.write(`runtime-host: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
