// Reads a V8 CPU profile (node --cpu-prof) and sums self time per function.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { BENCH_ROOT, type ProfileFrame, round } from "./report-io.js";

interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

interface CpuProfile {
  nodes: CpuProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** The newest .cpuprofile in dir. */
export function newestProfile(dir: string): string | null {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith(".cpuprofile"))
    .map((f) => join(dir, f))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  return files[0] ?? null;
}

/** Functions by self time (share of all samples, idle excluded), highest first. */
export function topFrames(dir: string, count: number): ProfileFrame[] {
  const file = newestProfile(dir);
  if (!file) return [];
  const profile = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, CpuProfileNode>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n);
  const short = (url: string) => (url.startsWith("file://") ? relative(BENCH_ROOT, url.slice(7)) : url);
  /** Native frames (no URL) are named with their nearest JavaScript caller and the nearest caller in our or a package's code. */
  const place = (node: CpuProfileNode): string => {
    const f = node.callFrame;
    if (f.url) return `${short(f.url)}:${f.lineNumber + 1}`;
    let first = "native";
    for (let p = parent.get(node.id); p; p = parent.get(p.id)) {
      const { url, functionName, lineNumber } = p.callFrame;
      if (!url) continue;
      const via = `via ${functionName || "(anonymous)"} ${short(url)}:${lineNumber + 1}`;
      if (url.startsWith("file://")) return first === "native" ? via : `${first}, ${via}`;
      if (first === "native") first = via;
    }
    return first;
  };
  const self = new Map<string, number>();
  let total = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const node = byId.get(profile.samples[i] ?? -1);
    if (!node) continue;
    const f = node.callFrame;
    if (f.functionName === "(idle)" || f.functionName === "(program)") continue;
    const key = `${f.functionName || "(anonymous)"}\u0000${place(node)}`;
    const dt = profile.timeDeltas[i] ?? 0;
    self.set(key, (self.get(key) ?? 0) + dt);
    total += dt;
  }
  return [...self.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([key, t]) => {
      const [name, where] = key.split("\u0000");
      return { name: name ?? "", where: where ?? "", percent: round((100 * t) / total, 1) };
    });
}
