// Parsers for the /proc files the probes read. Pure: text in, numbers out.

export interface CpuTimes {
  /** Jiffies since boot, all cpus together. */
  total: number;
  /** Of which idle (idle + iowait). */
  idle: number;
  /** Number of cpus (cpuN lines). */
  cpus: number;
}

/** /proc/stat: the aggregate "cpu" line and the count of per-cpu lines. */
export function parseCpuTimes(text: string): CpuTimes {
  let total = 0;
  let idle = 0;
  let cpus = 0;
  for (const line of text.split("\n")) {
    if (line.startsWith("cpu ")) {
      // user nice system idle iowait irq softirq steal [guest guest_nice: already in user/nice]
      const f = line.trim().split(/\s+/).slice(1, 9).map(Number);
      total = f.reduce((a, b) => a + (Number.isFinite(b) ? b : 0), 0);
      idle = (f[3] ?? 0) + (f[4] ?? 0);
    } else if (/^cpu\d+ /.test(line)) cpus++;
  }
  return { total, idle, cpus };
}

/** /proc/meminfo, in bytes. Used is what applications hold: total - available. */
export function parseMeminfo(text: string): { totalBytes: number; availableBytes: number } {
  const kb = new Map<string, number>();
  for (const line of text.split("\n")) {
    const m = /^(\w+):\s+(\d+)/.exec(line);
    if (m?.[1] && m[2]) kb.set(m[1], Number(m[2]));
  }
  const total = kb.get("MemTotal") ?? 0;
  const available =
    kb.get("MemAvailable") ?? (kb.get("MemFree") ?? 0) + (kb.get("Buffers") ?? 0) + (kb.get("Cached") ?? 0);
  return { totalBytes: total * 1024, availableBytes: available * 1024 };
}

/** /proc/net/dev: bytes received and sent since boot, all interfaces but loopback. */
export function parseNetDev(text: string): { rxBytes: number; txBytes: number } {
  let rxBytes = 0;
  let txBytes = 0;
  for (const line of text.split("\n")) {
    const colon = line.indexOf(":");
    if (colon < 0) continue;
    const name = line.slice(0, colon).trim();
    if (name === "lo" || name === "") continue;
    const f = line
      .slice(colon + 1)
      .trim()
      .split(/\s+/)
      .map(Number);
    // rx: bytes packets errs drop fifo frame compressed multicast; tx: bytes …
    rxBytes += f[0] ?? 0;
    txBytes += f[8] ?? 0;
  }
  return { rxBytes, txBytes };
}

export interface PidStat {
  ppid: number;
  pgrp: number;
  /** utime + stime, in clock ticks. */
  cpuTicks: number;
  /** Clock ticks after boot when it started: with the pid, identifies the process. */
  startTime: number;
}

/** /proc/<pid>/stat; null when it does not look like one. */
export function parsePidStat(text: string): PidStat | null {
  // The command name is in parentheses and may hold spaces or parentheses itself.
  const close = text.lastIndexOf(")");
  if (close < 0) return null;
  const f = text
    .slice(close + 1)
    .trim()
    .split(" ");
  // f[0] is field 3 (state): field n is f[n - 3].
  const ppid = Number(f[1]);
  const pgrp = Number(f[2]);
  const utime = Number(f[11]);
  const stime = Number(f[12]);
  const startTime = Number(f[19]);
  if (![ppid, pgrp, utime, stime, startTime].every(Number.isFinite)) return null;
  return { ppid, pgrp, cpuTicks: utime + stime, startTime };
}

/** VmRSS of /proc/<pid>/status, in bytes (0 for kernel threads and zombies). */
export function parseVmRss(text: string): number {
  const m = /^VmRSS:\s+(\d+)\s*kB/m.exec(text);
  return m?.[1] ? Number(m[1]) * 1024 : 0;
}

/** The value of one variable in /proc/<pid>/environ (NUL-separated), if set. */
export function environValue(environ: string, name: string): string | undefined {
  const prefix = `${name}=`;
  for (const entry of environ.split("\0")) if (entry.startsWith(prefix)) return entry.slice(prefix.length);
  return undefined;
}
