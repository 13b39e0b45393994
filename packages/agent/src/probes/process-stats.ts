// Per-component usage for the process runtime, from /proc. A component is
// every process whose environment names it (CONTAINER_NAME, which the master
// gives every component and its children inherit), so the whole process tree
// counts. Environments are read once per process; stat and status each tick
// for the processes of running components only (and new processes, once).

import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { environValue, parsePidStat, parseVmRss } from "./proc-parse.js";
import { readProcFile } from "./proc-read.js";
import { type ComponentProbe, type ComponentReading, type ComponentTarget, idsOf } from "./types.js";

/** USER_HZ: the unit of /proc/<pid>/stat times, 100 on every Linux architecture. */
const TICKS_PER_SECOND = 100;

export const CONTAINER_NAME_ENV = "CONTAINER_NAME";

interface Known {
  /** The component it belongs to, or null. */
  name: string | null;
  startTime: number;
  /** cpu ticks at the last reading. */
  ticks: number;
}

export class ProcessStatsProbe implements ComponentProbe {
  readonly name = "process";
  private readonly known = new Map<number, Known>();
  /** Components read at least once (their cpu is a delta from the next reading on). */
  private readonly primed = new Set<string>();
  private lastMs: number | null = null;

  constructor(
    private readonly options: {
      targets: () => Promise<ComponentTarget[]>;
      /** Default /proc. */
      procDir?: string;
    },
  ) {}

  async read(nowMs: number): Promise<ComponentReading[]> {
    const targets = (await this.options.targets().catch(() => [])).filter((t) => t.running);
    const seconds = this.lastMs === null ? 0 : (nowMs - this.lastMs) / 1000;
    this.lastMs = nowMs;
    if (targets.length === 0) {
      this.known.clear();
      this.primed.clear();
      return [];
    }
    const wanted = new Map(targets.map((t) => [t.containerName, t]));
    const proc = this.options.procDir ?? "/proc";
    const pids = (await readdir(proc).catch(() => [])).filter((e) => /^\d+$/.test(e)).map(Number);
    const alive = new Set(pids);
    for (const pid of this.known.keys()) if (!alive.has(pid)) this.known.delete(pid);

    const usage = new Map<string, { ticks: number; rss: number }>();
    await Promise.all(
      pids.map(async (pid) => {
        let k = this.known.get(pid);
        // Not a component's process: skip (a pid reused within one interval is missed until the next one).
        if (k && k.name === null) return;
        const dir = join(proc, String(pid));
        const stat = parsePidStat(await readProcFile(join(dir, "stat")).catch(() => ""));
        if (!stat) return;
        if (!k || k.startTime !== stat.startTime) {
          const environ = await readProcFile(join(dir, "environ")).catch(() => "");
          k = { name: environValue(environ, CONTAINER_NAME_ENV) ?? null, startTime: stat.startTime, ticks: 0 };
          this.known.set(pid, k);
        }
        if (k.name === null || !wanted.has(k.name)) return;
        const delta = Math.max(0, stat.cpuTicks - k.ticks);
        k.ticks = stat.cpuTicks;
        const rss = parseVmRss(await readProcFile(join(dir, "status")).catch(() => ""));
        const u = usage.get(k.name) ?? { ticks: 0, rss: 0 };
        u.ticks += delta;
        u.rss += rss;
        usage.set(k.name, u);
      }),
    );

    const out: ComponentReading[] = [];
    for (const [name, u] of usage) {
      const target = wanted.get(name);
      if (!target) continue;
      if (!this.primed.has(name) || seconds <= 0) {
        this.primed.add(name);
        continue;
      }
      out.push({
        containerName: name,
        cpuMillis: Math.round(((u.ticks / TICKS_PER_SECOND) * 1000) / seconds),
        memoryBytes: u.rss,
        ...idsOf(target.labels),
      });
    }
    for (const name of this.primed) if (!wanted.has(name)) this.primed.delete(name);
    return out;
  }
}
