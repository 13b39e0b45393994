// What the process runtime asks of the OS about its components: who is
// alive (and whether a pid is still the process it started: /proc/<pid>/stat
// start time), signalling a whole process group, waiting for one to die.

import { readdir, readFile } from "node:fs/promises";

interface ProcStat {
  /** R, S, D, Z (zombie), X (dead), ... */
  state: string;
  pgrp: number;
  /** Field 22: when the process started, in clock ticks after boot. */
  startTicks: string;
}

/** /proc/<pid>/stat, or undefined when there is no such process (or no /proc). */
export async function procStat(pid: number): Promise<ProcStat | undefined> {
  let text: string;
  try {
    text = await readFile(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  // "pid (comm) state ppid pgrp ..."; comm may hold spaces and parentheses.
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  // fields[0] is field 3 (state), so field N is fields[N - 3].
  return { state: fields[0] ?? "", pgrp: Number(fields[2]), startTicks: fields[19] ?? "" };
}

/**
 * The start time of a live process, "" where /proc is missing (then only the
 * pid identifies it), undefined when it is gone or a zombie.
 */
export async function startTicksOf(pid: number): Promise<string | undefined> {
  if (process.platform !== "linux") return isSignallable(pid) ? "" : undefined;
  const stat = await procStat(pid);
  if (!stat || stat.state === "Z" || stat.state === "X") return undefined;
  return stat.startTicks;
}

/** True while `pid` runs and is the process that started at `startTicks`. */
export async function isSameProcess(pid: number, startTicks: string): Promise<boolean> {
  const now = await startTicksOf(pid);
  return now !== undefined && now === startTicks;
}

/** True when some process has this pid (zombies included). */
export async function pidExists(pid: number): Promise<boolean> {
  if (process.platform === "linux") return (await procStat(pid)) !== undefined;
  return isSignallable(pid);
}

function isSignallable(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

export function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // Already gone.
    }
  }
}

/**
 * Waits (at most maxMs) until no live process is left in the group. Killed
 * members take a moment to die; orphans that init has not reaped yet are
 * zombies, which count as gone.
 */
export async function groupGone(pgid: number, maxMs: number): Promise<void> {
  const deadline = Date.now() + maxMs;
  while ((await groupAlive(pgid)) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function groupAlive(pgid: number): Promise<boolean> {
  try {
    process.kill(-pgid, 0);
  } catch {
    return false;
  }
  if (process.platform !== "linux") return true;
  let entries: string[];
  try {
    entries = await readdir("/proc");
  } catch {
    return true;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await procStat(Number(entry));
    if (stat && stat.pgrp === pgid && stat.state !== "Z" && stat.state !== "X") return true;
  }
  return false;
}
