import fc from "fast-check";
import { schedule } from "../src/index.js";
import { arbSnapshot } from "./arbitraries.js";
const samples = fc.sample(arbSnapshot, { seed: 1, numRuns: 300 });
const reasons = new Map<string, number>();
let nodes = 0, jobs = 0, empty = 0;
for (const s of samples) {
  nodes += s.nodes.length; jobs += s.queue.length;
  for (const u of schedule(s, { now: 0 }).unplaced) {
    const k = u.reason.replace(/[0-9.]+/g, "#").slice(0, 60) ;
    if (u.neverFits) reasons.set(k, (reasons.get(k) ?? 0) + 1);
  }
  if (s.nodes.length === 0) empty++;
}
console.log({ nodes, jobs, empty });
console.log([...reasons].sort((a, b) => b[1] - a[1]).slice(0, 15));
