// Starts (idempotently) the test Docker engine and returns its DOCKER_HOST.
// The engine is stopped by the test script, never by a test.

import { execFileSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "..");

let cached: string | undefined;

export function testDockerHost(): string {
  if (cached !== undefined) return cached;
  const script = join(repoRoot, "scripts", "lib", "test-dockerd.sh");
  const out = execFileSync("bash", [script, "start"], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
  const host = out
    .trim()
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line.startsWith("unix://"))
    .pop();
  if (host === undefined) throw new Error(`${script} start printed no DOCKER_HOST: ${out}`);
  cached = host;
  return host;
}

/** The image test-dockerd.sh imports: busybox with /bin/sh, sleep, etc. */
export const TEST_IMAGE = "maro/busybox:test";
