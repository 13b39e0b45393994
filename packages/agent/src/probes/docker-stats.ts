// Per-container usage from the Docker Engine API. One-shot stats (no waiting
// for a second reading inside the engine, ~tens of ms each), all containers
// at once; cpu is the delta of the container's cpu time between two of our
// readings, so a container shows up from its second reading on.
// dockerode is loaded on the first read, so importing the probes costs a
// process-runtime agent nothing of it.

import type Dockerode from "dockerode";
import { dockerConnection } from "../runtime/docker-client.js";
import { type ComponentProbe, type ComponentReading, type ComponentTarget, idsOf } from "./types.js";

/** The parts of a stats answer this probe reads. */
export interface DockerStatsShape {
  read?: string;
  cpu_stats?: { cpu_usage?: { total_usage?: number } };
  memory_stats?: { usage?: number; stats?: Record<string, number | undefined> };
}

/** Memory as `docker stats` shows it: usage less the inactive file cache (cgroup v1 or v2). */
export function containerMemory(stats: DockerStatsShape): number {
  const usage = stats.memory_stats?.usage ?? 0;
  const s = stats.memory_stats?.stats ?? {};
  const cache = s.total_inactive_file ?? s.inactive_file ?? 0;
  return Math.max(0, usage - (cache < usage ? cache : 0));
}

interface Last {
  cpuNs: number;
  atMs: number;
  reading: ComponentReading | null;
}

export class DockerStatsProbe implements ComponentProbe {
  readonly name = "docker";
  private docker: Promise<Dockerode> | null = null;
  private readonly last = new Map<string, Last>();

  constructor(
    private readonly options: {
      dockerHost: string;
      /** The components to sample (the runtime's list). */
      targets: () => Promise<ComponentTarget[]>;
      /** A stats call slower than this is dropped for the tick. Default 5000. */
      timeoutMs?: number;
    },
  ) {
    // Checked now, so a bad host fails where the probe is made.
    dockerConnection(options.dockerHost);
  }

  private engine(): Promise<Dockerode> {
    this.docker ??= import("dockerode").then(
      ({ default: Dockerode }) => new Dockerode(dockerConnection(this.options.dockerHost)),
    );
    return this.docker;
  }

  async read(): Promise<ComponentReading[]> {
    const targets = (await this.options.targets().catch(() => [])).filter((t) => t.running);
    const alive = new Set(targets.map((t) => t.containerName));
    for (const name of this.last.keys()) if (!alive.has(name)) this.last.delete(name);
    if (targets.length === 0) return [];
    const docker = await this.engine();
    const timeoutMs = this.options.timeoutMs ?? 5000;
    const results = await Promise.all(
      targets.map(async (t) => {
        const opts = { stream: false as const, "one-shot": true, abortSignal: AbortSignal.timeout(timeoutMs) };
        try {
          const stats = (await docker.getContainer(t.containerName).stats(opts)) as DockerStatsShape;
          return this.reading(t, stats);
        } catch {
          // Gone between list and stats, or too slow: keep the last reading; the list says when it is gone.
          return this.last.get(t.containerName)?.reading ?? null;
        }
      }),
    );
    return results.filter((r): r is ComponentReading => r !== null);
  }

  private reading(t: ComponentTarget, stats: DockerStatsShape): ComponentReading | null {
    const cpuNs = stats.cpu_stats?.cpu_usage?.total_usage;
    const readMs = stats.read ? Date.parse(stats.read) : Number.NaN;
    if (cpuNs === undefined || !Number.isFinite(readMs)) return null;
    const prev = this.last.get(t.containerName);
    if (prev && readMs <= prev.atMs) return prev.reading;
    const reading = prev
      ? {
          containerName: t.containerName,
          cpuMillis: Math.max(0, Math.round((cpuNs - prev.cpuNs) / 1e6 / ((readMs - prev.atMs) / 1000))),
          memoryBytes: containerMemory(stats),
          ...idsOf(t.labels),
        }
      : null;
    this.last.set(t.containerName, { cpuNs, atMs: readMs, reading });
    return reading;
  }
}
