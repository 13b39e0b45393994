// How long the operations take (reported as test diagnostics; the bound is loose, it only catches pathologies).

import assert from "node:assert/strict";
import { performance } from "node:perf_hooks";
import { it } from "node:test";
import { createCa, createCsr, issueClientCert, issueServerCert, signCsr } from "../src/index.js";

async function measure(runs: number, op: () => Promise<unknown>): Promise<{ median: number; max: number }> {
  await op(); // warm-up (module initialisation, JIT)
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await op();
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  return { median: times[Math.floor(runs / 2)] ?? Number.NaN, max: times[runs - 1] ?? Number.NaN };
}

it("every operation takes milliseconds", async (t) => {
  const ca = await createCa({ clusterName: "dev" });
  const csr = await createCsr({ kind: "node", name: "a" });
  const runs = 30;
  const results = {
    createCa: await measure(runs, () => createCa({ clusterName: "dev" })),
    issueServerCert: await measure(runs, () =>
      issueServerCert(ca, { clusterName: "dev", dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"] }),
    ),
    issueClientCert: await measure(runs, () => issueClientCert(ca, { kind: "admin", name: "admin" })),
    createCsr: await measure(runs, () => createCsr({ kind: "node", name: "a" })),
    signCsr: await measure(runs, () => signCsr(ca, csr.csrPem, { kind: "node", name: "a" })),
  };
  for (const [name, { median, max }] of Object.entries(results)) {
    t.diagnostic(`${name}: median ${median.toFixed(2)} ms, max ${max.toFixed(2)} ms (${runs} runs)`);
    assert.ok(median < 250, `${name} median ${median} ms`);
  }
});
