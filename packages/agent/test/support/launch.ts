import assert from "node:assert/strict";
import { type LaunchSpec, RuntimeError } from "../../src/runtime/types.js";

/** A LaunchSpec that runs `sleep 1000` under sh unless overridden. */
export function launchSpec(
  image: string,
  overrides: Partial<LaunchSpec> & Pick<LaunchSpec, "containerName">,
): LaunchSpec {
  return {
    image,
    command: ["sleep 1000"],
    shell: true,
    env: {},
    cpuMillis: 0,
    memoryBytes: 0,
    gpuIndices: [],
    labels: {},
    ...overrides,
  };
}

/** An assert.rejects validator for a RuntimeError with this code (and message pattern). */
export function isRuntimeError(code: RuntimeError["code"], pattern?: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof RuntimeError, `expected a RuntimeError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (pattern) assert.match(err.message, pattern);
    return true;
  };
}
