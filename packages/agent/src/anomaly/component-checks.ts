// Per-component conditions: crashes, OOM kills, restart loops, hangs.

import type { Anomaly, ComponentIds, ComponentView, DetectorOptions } from "./types.js";

interface Running {
  ids: ComponentIds;
  /** Last time it used cpu or wrote output (or started). */
  activeMs: number;
  hung: boolean;
  stopping: boolean;
  /** It appeared in a sample, so leaving the samples means it is gone. */
  sampled: boolean;
}

interface Starts {
  /** Times of restarts within the window, oldest first. */
  restarts: number[];
  looping: boolean;
}

/** A Map used as a bounded LRU: touching an entry moves it to the end. */
function touch<K, V>(map: Map<K, V>, key: K, value: V, max: number): void {
  map.delete(key);
  map.set(key, value);
  while (map.size > max) {
    const oldest = map.keys().next();
    if (oldest.done) break;
    map.delete(oldest.value);
  }
}

function startKey(containerName: string, ids: ComponentIds): string {
  return ids.jobId && ids.componentId ? `${ids.jobId}/${ids.componentId}` : `container:${containerName}`;
}

export class ComponentChecks {
  private readonly running = new Map<string, Running>();
  private readonly starts = new Map<string, Starts>();

  constructor(private readonly o: DetectorOptions) {}

  started(timeMs: number, containerName: string, ids: ComponentIds): Anomaly[] {
    const known = this.running.get(containerName);
    const merged = { ...known?.ids, ...defined(ids) };
    touch(
      this.running,
      containerName,
      { ids: merged, activeMs: timeMs, hung: false, stopping: false, sampled: false },
      this.o.maxComponents,
    );
    const key = startKey(containerName, merged);
    const history = this.starts.get(key);
    if (!history) {
      touch(this.starts, key, { restarts: [], looping: false }, this.o.maxComponents);
      return [];
    }
    history.restarts.push(timeMs);
    touch(this.starts, key, history, this.o.maxComponents);
    return this.checkLoop(timeMs, containerName, merged, history);
  }

  stopRequested(containerName: string): void {
    const r = this.running.get(containerName);
    if (r) r.stopping = true;
  }

  exited(timeMs: number, containerName: string, exitCode: number, oomKilled: boolean, ids: ComponentIds): Anomaly[] {
    const r = this.running.get(containerName);
    this.running.delete(containerName);
    if (r?.stopping) return [];
    const who = { containerName, ...r?.ids, ...defined(ids) };
    if (oomKilled)
      return [
        {
          kind: "oom-killed",
          severity: "critical",
          cleared: false,
          message: `${containerName} was killed for running out of memory (exit code ${exitCode})`,
          timeMs,
          ...who,
        },
      ];
    if (exitCode !== 0)
      return [
        {
          kind: "component-crashed",
          severity: "warning",
          cleared: false,
          message: `${containerName} exited with code ${exitCode}`,
          timeMs,
          ...who,
        },
      ];
    return [];
  }

  output(timeMs: number, containerName: string, atMs: number): Anomaly[] {
    const r = this.running.get(containerName);
    if (!r) return [];
    r.activeMs = Math.max(r.activeMs, atMs);
    return this.unhang(timeMs, containerName, r, "wrote output");
  }

  sample(timeMs: number, components: ComponentView[]): Anomaly[] {
    const out: Anomaly[] = [];
    const seen = new Set<string>();
    for (const c of components) {
      seen.add(c.containerName);
      let r = this.running.get(c.containerName);
      if (!r) {
        r = { ids: {}, activeMs: timeMs, hung: false, stopping: false, sampled: true };
        touch(this.running, c.containerName, r, this.o.maxComponents);
      }
      r.sampled = true;
      r.ids = { ...r.ids, ...defined({ jobId: c.jobId, componentId: c.componentId }) };
      if (c.cpuMillis > this.o.hungCpuMillis) {
        r.activeMs = timeMs;
        out.push(...this.unhang(timeMs, c.containerName, r, `uses cpu (${c.cpuMillis} millicores)`));
      }
      const after = this.o.hungAfterMs;
      if (after > 0 && !r.hung && !r.stopping && timeMs - r.activeMs >= after) {
        r.hung = true;
        out.push({
          kind: "component-hung",
          severity: "warning",
          cleared: false,
          message: `${c.containerName} used no cpu and wrote no output for ${Math.round((timeMs - r.activeMs) / 1000)} s`,
          timeMs,
          containerName: c.containerName,
          ...r.ids,
        });
      }
    }
    // Sampled before and missing now: it ended without an exit reaching us.
    for (const [name, r] of this.running) if (r.sampled && !seen.has(name)) this.running.delete(name);
    for (const [key, history] of this.starts) {
      prune(history, timeMs - this.o.restartLoopWindowMs);
      if (history.looping && history.restarts.length < this.o.restartLoopCount) {
        history.looping = false;
        out.push({
          kind: "restart-loop",
          severity: "info",
          cleared: true,
          message: `${key} no longer restarts in a loop`,
          timeMs,
          ...idsOfKey(key),
        });
      }
    }
    return out;
  }

  get tracked(): { running: number; starts: number } {
    return { running: this.running.size, starts: this.starts.size };
  }

  private checkLoop(timeMs: number, containerName: string, ids: ComponentIds, history: Starts): Anomaly[] {
    prune(history, timeMs - this.o.restartLoopWindowMs);
    // Only the last restartLoopCount restarts matter.
    while (history.restarts.length > this.o.restartLoopCount) history.restarts.shift();
    if (history.looping || history.restarts.length < this.o.restartLoopCount) return [];
    history.looping = true;
    return [
      {
        kind: "restart-loop",
        severity: "critical",
        cleared: false,
        message: `${containerName} restarted ${history.restarts.length} times within ${Math.round(this.o.restartLoopWindowMs / 1000)} s`,
        timeMs,
        containerName,
        ...ids,
      },
    ];
  }

  private unhang(timeMs: number, containerName: string, r: Running, why: string): Anomaly[] {
    if (!r.hung) return [];
    r.hung = false;
    return [
      {
        kind: "component-hung",
        severity: "info",
        cleared: true,
        message: `${containerName} is active again: it ${why}`,
        timeMs,
        containerName,
        ...r.ids,
      },
    ];
  }
}

function prune(history: Starts, before: number): void {
  while (history.restarts.length > 0 && (history.restarts[0] ?? 0) < before) history.restarts.shift();
}

function idsOfKey(key: string): ComponentIds & { containerName?: string } {
  if (key.startsWith("container:")) return { containerName: key.slice("container:".length) };
  const slash = key.indexOf("/");
  return { jobId: key.slice(0, slash), componentId: key.slice(slash + 1) };
}

function defined(ids: ComponentIds): ComponentIds {
  const out: ComponentIds = {};
  if (ids.jobId) out.jobId = ids.jobId;
  if (ids.componentId) out.componentId = ids.componentId;
  return out;
}
