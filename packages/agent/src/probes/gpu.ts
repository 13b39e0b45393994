import { execFile } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";
import type { GpuReading, NodeProbe, NodeReading } from "./types.js";

const QUERY = ["--query-gpu=index,memory.used,memory.total,utilization.gpu", "--format=csv,noheader,nounits"];
const MiB = 1024 ** 2;

/** nvidia-smi on PATH, or null. */
export function findOnPath(program: string, path = process.env.PATH ?? ""): string | null {
  for (const dir of path.split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, program);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {}
  }
  return null;
}

/**
 * nvidia-smi's CSV: one "index, used MiB, total MiB, utilization %" line per
 * device. "[N/A]" and "[Not Supported]" read as 0; any other bracketed value
 * ("[GPU requires reset]", "[Unknown Error]") is that device's error.
 */
export function parseNvidiaSmi(text: string): Pick<NodeReading, "gpus" | "gpuErrors"> {
  const gpus: GpuReading[] = [];
  const gpuErrors: NodeReading["gpuErrors"] = [];
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    const fields = line.split(",").map((f) => f.trim());
    const index = Number(fields[0]);
    if (fields.length < 4 || !Number.isInteger(index)) {
      gpuErrors.push({ index: null, message: `unexpected nvidia-smi output: ${line.trim().slice(0, 200)}` });
      continue;
    }
    const bad = fields.slice(1).find((f) => /^\[.*\]$/.test(f) && f !== "[N/A]" && f !== "[Not Supported]");
    if (bad) {
      gpuErrors.push({ index, message: bad.slice(1, -1) });
      continue;
    }
    const num = (f: string | undefined) => {
      const n = Number(f);
      return Number.isFinite(n) ? n : 0;
    };
    gpus.push({
      index,
      memoryUsedBytes: num(fields[1]) * MiB,
      memoryTotalBytes: num(fields[2]) * MiB,
      utilizationPercent: Math.round(num(fields[3])),
    });
  }
  return { gpus, gpuErrors };
}

/** NVIDIA GPUs through nvidia-smi. No binary, no GPUs; a failing query is reported, never thrown. */
export class GpuProbe implements NodeProbe {
  readonly name = "gpu";
  private readonly binary: string | null;
  private readonly timeoutMs: number;

  constructor(options: { binary?: string | null; timeoutMs?: number } = {}) {
    this.binary = options.binary === undefined ? findOnPath("nvidia-smi") : options.binary;
    this.timeoutMs = options.timeoutMs ?? 5000;
  }

  get present(): boolean {
    return this.binary !== null;
  }

  read(): Promise<Partial<NodeReading>> {
    const binary = this.binary;
    if (binary === null) return Promise.resolve({ gpus: [], gpuErrors: [] });
    return new Promise((resolve) => {
      execFile(binary, QUERY, { timeout: this.timeoutMs, encoding: "utf8" }, (err, stdout, stderr) => {
        if (err) {
          const why = (stdout.trim() || stderr.trim() || err.message).split("\n")[0] ?? err.message;
          resolve({ gpus: [], gpuErrors: [{ index: null, message: `nvidia-smi failed: ${why.slice(0, 300)}` }] });
          return;
        }
        resolve(parseNvidiaSmi(stdout));
      });
    });
  }
}
