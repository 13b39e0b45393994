import { readdirSync, readFileSync } from "node:fs";

/**
 * Helpers to find and stop the processes of one Samba instance by PID. An
 * instance is recognised by its own config file path on the command line
 * (`-s <conf>`, `--configfile=<conf>`), never by a program name, so other
 * Samba instances on the host are never touched.
 */

/** The argv of pid, or undefined if it is gone, a zombie, or unreadable. */
export function processArgv(pid: number): string[] | undefined {
  try {
    const raw = readFileSync(`/proc/${pid}/cmdline`, "utf8");
    if (raw === "") return undefined; // zombie or kernel thread
    return raw.replace(/\0$/, "").split("\0");
  } catch {
    return undefined;
  }
}

/** True while pid exists and is not a zombie (PID 1 here does not reap orphans). */
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X" && state !== "";
  } catch {
    return false;
  }
}

/** Whether an argv names the config file (as its own argument or as `--opt=<path>`). */
export function argvReferences(argv: readonly string[], path: string): boolean {
  return argv.some((arg) => arg === path || arg.endsWith(`=${path}`));
}

/** Live processes (other than this one) whose command line references path. */
export function processesReferencing(path: string): number[] {
  const pids: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return pids;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    const argv = processArgv(pid);
    if (argv && argvReferences(argv, path) && isAlive(pid)) pids.push(pid);
  }
  return pids.sort((a, b) => a - b);
}

/** The pid in a pid file, if the file exists and that process still references path. */
export function pidFromFile(file: string, path: string): number | undefined {
  let pid: number;
  try {
    pid = Number.parseInt(readFileSync(file, "utf8").trim(), 10);
  } catch {
    return undefined;
  }
  if (!Number.isInteger(pid) || pid <= 1) return undefined;
  const argv = processArgv(pid);
  return argv && argvReferences(argv, path) && isAlive(pid) ? pid : undefined;
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Waits until none of pids is alive; returns the ones still alive at the deadline. */
export async function waitGone(pids: readonly number[], timeoutMs: number): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  let alive = pids.filter(isAlive);
  while (alive.length > 0 && Date.now() < deadline) {
    await sleep(25);
    alive = alive.filter(isAlive);
  }
  return alive;
}

/**
 * SIGTERM to each pid (re-checked to still reference path right before the
 * signal, so a recycled pid is never hit), then SIGKILL to whatever is left
 * after graceMs. Returns the pids still alive afterwards.
 */
export async function terminate(pids: readonly number[], path: string, graceMs: number): Promise<number[]> {
  const ours = (pid: number) => {
    const argv = processArgv(pid);
    return argv !== undefined && argvReferences(argv, path) && isAlive(pid);
  };
  const targets = pids.filter(ours);
  for (const pid of targets) signal(pid, "SIGTERM");
  const left = await waitGone(targets, graceMs);
  for (const pid of left.filter(ours)) signal(pid, "SIGKILL");
  return waitGone(left, 2000);
}
