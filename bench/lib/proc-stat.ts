// CPU time and memory of another process, read from /proc (Linux).
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";

let ticks: number | undefined;

/** Clock ticks per second (USER_HZ), the unit of utime/stime in /proc/<pid>/stat. */
function clockTicks(): number {
  if (ticks === undefined) {
    try {
      ticks = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
    } catch {
      ticks = 100;
    }
  }
  return ticks;
}

export interface ProcSample {
  /** user + system CPU seconds since the process started. */
  cpuSeconds: number;
  rssBytes: number;
  /** Peak RSS (VmHWM) over the process's life. */
  peakRssBytes: number;
  atMs: number;
}

export function procSample(pid: number): ProcSample {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // "pid (comm) state ppid ..." — comm may hold spaces: split after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? 0) * 1024;
  return {
    cpuSeconds: (utime + stime) / clockTicks(),
    rssBytes: kb("VmRSS"),
    peakRssBytes: kb("VmHWM"),
    atMs: performance.now(),
  };
}

/** Share of one core used between two samples (1 = one full core). */
export function coreShare(a: ProcSample, b: ProcSample): number {
  const wall = (b.atMs - a.atMs) / 1000;
  return wall > 0 ? (b.cpuSeconds - a.cpuSeconds) / wall : 0;
}

export function mib(bytes: number): number {
  return Math.round((bytes / 2 ** 20) * 10) / 10;
}

/** Samples a process's RSS every intervalMs; returns the highest and the mean seen. */
export class RssWatcher {
  private timer: NodeJS.Timeout;
  private max = 0;
  private sum = 0;
  private n = 0;

  constructor(
    private readonly pid: number,
    intervalMs = 250,
  ) {
    this.timer = setInterval(() => {
      try {
        const s = procSample(this.pid);
        this.max = Math.max(this.max, s.rssBytes);
        this.sum += s.rssBytes;
        this.n++;
      } catch {}
    }, intervalMs);
    this.timer.unref();
  }

  stop(): { maxRssBytes: number; meanRssBytes: number } {
    clearInterval(this.timer);
    return { maxRssBytes: this.max, meanRssBytes: this.n > 0 ? this.sum / this.n : 0 };
  }
}
