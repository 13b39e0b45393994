// On-disk layout and line format of the log store:
//   <dir>/<job>/<container>.log        the file being appended to
//   <dir>/<job>/<container>.log.<n>    rotated files, .1 the newest
//   <dir>/<job>/.<container>.partial   pieces of a split line still waiting for their last piece
// Each line is JSON: {"time": ISO-8601, "stream": "stdout"|"stderr", "line": "..."}.
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import type { LogStream } from "./log-event.js";

export interface StoredLine {
  /** The container (from the tag) whose file holds the line. */
  container: string;
  /** ISO-8601, as stored. */
  time: string;
  timeMs: number;
  stream: LogStream;
  line: string;
}

export interface LogFile {
  path: string;
  /** 0 for the active file, n for `.log.<n>`. */
  n: number;
}

const FILE_NAME = /^([a-z0-9][a-z0-9_.-]*)\.log(?:\.([1-9][0-9]{0,5}))?$/;

export function activePath(jobDir: string, container: string): string {
  return join(jobDir, `${container}.log`);
}

export function rotatedPath(jobDir: string, container: string, n: number): string {
  return join(jobDir, `${container}.log.${n}`);
}

export function journalPath(jobDir: string, container: string): string {
  return join(jobDir, `.${container}.partial`);
}

/** The container and rotation number a file name stands for, or null for other files. */
export function parseFileName(name: string): { container: string; n: number } | null {
  const m = FILE_NAME.exec(name);
  if (!m || (m[1] as string).includes("..")) return null;
  return { container: m[1] as string, n: m[2] ? Number(m[2]) : 0 };
}

/** A job's log files per container, oldest first (highest n first, the active file last). Synchronous. */
export function listJobFiles(jobDir: string): Map<string, LogFile[]> {
  const out = new Map<string, LogFile[]>();
  let names: string[];
  try {
    names = readdirSync(jobDir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return out;
    throw err;
  }
  for (const name of names) {
    const parsed = parseFileName(name);
    if (!parsed) continue;
    let files = out.get(parsed.container);
    if (!files) {
      files = [];
      out.set(parsed.container, files);
    }
    files.push({ path: join(jobDir, name), n: parsed.n });
  }
  for (const files of out.values()) files.sort((a, b) => (a.n === 0 ? 1 : b.n === 0 ? -1 : b.n - a.n));
  return out;
}

export interface ScannedFile extends LogFile {
  size: number;
  mtimeMs: number;
}

/** The bytes of every log file under dir, and the rotated files per "<job>/<container>" (.1 first). Synchronous. */
export function scanLogDir(dir: string): { totalBytes: number; rotated: Map<string, ScannedFile[]> } {
  let totalBytes = 0;
  const rotated = new Map<string, ScannedFile[]>();
  let jobs: string[];
  try {
    jobs = readdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    jobs = [];
  }
  for (const job of jobs) {
    for (const [container, files] of listJobFiles(join(dir, job))) {
      for (const file of files) {
        const stat = statSync(file.path, { throwIfNoEntry: false });
        if (!stat?.isFile()) continue;
        totalBytes += stat.size;
        if (file.n === 0) continue;
        const key = `${job}/${container}`;
        let list = rotated.get(key);
        if (!list) {
          list = [];
          rotated.set(key, list);
        }
        list.push({ ...file, size: stat.size, mtimeMs: stat.mtimeMs });
      }
    }
  }
  for (const list of rotated.values()) list.sort((a, b) => a.n - b.n);
  return { totalBytes, rotated };
}

let cachedMs = Number.NaN;
let cachedIso = "";

/** ISO-8601 of a time in ms (cached: consecutive lines often share one). */
export function isoOf(timeMs: number): string {
  if (timeMs !== cachedMs) {
    cachedIso = new Date(timeMs).toISOString();
    cachedMs = timeMs;
  }
  return cachedIso;
}

/** The stored form of one line, newline included. `timeMs` must be a valid Date time. */
export function formatLine(timeMs: number, stream: LogStream, line: string): string {
  return `{"time":"${isoOf(timeMs)}","stream":"${stream}","line":${JSON.stringify(line)}}\n`;
}

/** Parses one stored line (without its newline); null when it is not one (e.g. torn by a crash). */
export function parseLine(text: string, container: string): StoredLine | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== "object" || value === null) return null;
  const { time, stream, line } = value as Record<string, unknown>;
  if (typeof time !== "string" || typeof line !== "string") return null;
  const timeMs = Date.parse(time);
  if (Number.isNaN(timeMs)) return null;
  return { container, time, timeMs, stream: stream === "stderr" ? "stderr" : "stdout", line };
}
