import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { decideExit } from "../src/jobs/restart.js";

const never = { policy: "never", max: 0, backoffMs: 0 } as const;
const onFailure = { policy: "on-failure", max: 3, backoffMs: 100 } as const;
const always = { policy: "always", max: 2, backoffMs: 1000 } as const;

describe("decideExit: MARO's exit codes and restart policies", () => {
  test("without a policy: 0 succeeds, anything else fails", () => {
    assert.deepEqual(decideExit(0, never, 0), { action: "succeeded" });
    assert.deepEqual(decideExit(3, never, 0), { action: "failed" });
    assert.deepEqual(decideExit(null, never, 0), { action: "failed" });
  });

  test("on-failure restarts failures with doubling backoff, within its budget", () => {
    assert.deepEqual(decideExit(1, onFailure, 0), { action: "restart", delayMs: 100 });
    assert.deepEqual(decideExit(137, onFailure, 2), { action: "restart", delayMs: 400 });
    assert.deepEqual(decideExit(1, onFailure, 3), { action: "failed" });
    assert.deepEqual(decideExit(0, onFailure, 0), { action: "succeeded" });
  });

  test("always restarts successes too; backoff is capped at five minutes", () => {
    assert.deepEqual(decideExit(0, always, 1), { action: "restart", delayMs: 2000 });
    assert.deepEqual(decideExit(0, { ...always, max: 100, backoffMs: 60_000 }, 10), {
      action: "restart",
      delayMs: 300_000,
    });
  });

  test("exit 64 is never restarted; exit 65 stops the whole job, whatever the policy", () => {
    assert.deepEqual(decideExit(64, onFailure, 0), { action: "failed" });
    assert.deepEqual(decideExit(64, always, 0), { action: "failed" });
    assert.deepEqual(decideExit(65, onFailure, 0), { action: "stop-job" });
    assert.deepEqual(decideExit(65, never, 0), { action: "stop-job" });
  });
});
