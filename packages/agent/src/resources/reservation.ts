// What the agent offers to jobs (`--resources`): "cpu=all|N,memory=all|SIZE,
// gpu=all|N", e.g. "cpu=2,memory=4096m,gpu=all". A field left out means all.
// cpu is in cores (1.5) or millicores (500m); memory takes MARO's 2048m (MiB)
// and Kubernetes quantities (4Gi, 512Mi, 4G, plain bytes); gpu is a count.
// Offering more than the node has is refused: the scheduler would place work
// the node cannot run.

import { parseCpu, parseMemory } from "@maro/proto";
import type { NodeResources } from "./measure.js";

export interface Reservation {
  /** Millicores, or the whole node. */
  cpuMillis: number | "all";
  memoryBytes: number | "all";
  /** Number of GPUs, or all of them. */
  gpus: number | "all";
}

/** What the node offers to jobs. */
export interface Offer {
  cpuMillis: number;
  memoryBytes: number;
  /** The first N of the node's GPU indices. */
  gpuIndices: number[];
}

export class ReservationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ReservationError";
  }
}

export const ALL: Reservation = { cpuMillis: "all", memoryBytes: "all", gpus: "all" };

const EXAMPLE = "e.g. cpu=2,memory=4096m,gpu=all";
const FIELDS = ["cpu", "memory", "gpu"] as const;
type Field = (typeof FIELDS)[number];

function isField(key: string): key is Field {
  return (FIELDS as readonly string[]).includes(key);
}

/** Parses "cpu=2,memory=4096m,gpu=all"; an empty text offers everything. */
export function parseReservation(text: string): Reservation {
  const result: Reservation = { ...ALL };
  const seen = new Set<Field>();
  for (const raw of text.split(",")) {
    const item = raw.trim();
    if (item === "") continue;
    const eq = item.indexOf("=");
    const key = (eq < 0 ? item : item.slice(0, eq)).trim().toLowerCase();
    const value = eq < 0 ? "" : item.slice(eq + 1).trim();
    if (!isField(key)) {
      throw new ReservationError(`unknown resource "${key}" in "${item}": use cpu=, memory= and gpu= (${EXAMPLE})`);
    }
    if (value === "") throw new ReservationError(`"${item}" has no value: write ${key}=all or ${key}=${example(key)}`);
    if (seen.has(key)) throw new ReservationError(`${key} is given twice in "${text}": give each resource once`);
    seen.add(key);
    if (value.toLowerCase() === "all") continue;
    if (key === "cpu") result.cpuMillis = parseField(key, value, parseCpu);
    else if (key === "memory") result.memoryBytes = parseField(key, value, parseMemory);
    else result.gpus = parseGpu(value);
  }
  return result;
}

/** The offer for this node, or a ReservationError when the reservation asks for more than it has. */
export function applyReservation(measured: NodeResources, reservation: Reservation): Offer {
  const { cpuMillis, memoryBytes, gpus } = reservation;
  if (cpuMillis !== "all" && cpuMillis > measured.cpuMillis) {
    throw new ReservationError(
      `cpu=${cores(cpuMillis)} exceeds the ${cores(measured.cpuMillis)} cores this node has: use cpu=all or at most cpu=${cores(measured.cpuMillis)}`,
    );
  }
  if (memoryBytes !== "all" && memoryBytes > measured.memoryBytes) {
    throw new ReservationError(
      `memory=${approxMemory(memoryBytes)} exceeds the ${approxMemory(measured.memoryBytes)} (${measured.memoryBytes} bytes) this node has: use memory=all or at most memory=${floorMemory(measured.memoryBytes)}`,
    );
  }
  const gpuCount = measured.gpuIndices.length;
  if (gpus !== "all" && gpus > gpuCount) {
    throw new ReservationError(
      `gpu=${gpus} exceeds the ${gpuCount} NVIDIA GPU${gpuCount === 1 ? "" : "s"} this node has: use gpu=all or at most gpu=${gpuCount}`,
    );
  }
  return {
    cpuMillis: cpuMillis === "all" ? measured.cpuMillis : cpuMillis,
    memoryBytes: memoryBytes === "all" ? measured.memoryBytes : memoryBytes,
    gpuIndices: measured.gpuIndices.slice(0, gpus === "all" ? gpuCount : gpus),
  };
}

function parseField(key: Field, value: string, parse: (v: string) => number): number {
  let amount: number;
  try {
    amount = parse(value);
  } catch (err) {
    throw new ReservationError(`${key}=${value}: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (amount <= 0)
    throw new ReservationError(`${key}=${value} offers nothing: use ${key}=all or ${key}=${example(key)}`);
  return amount;
}

function parseGpu(value: string): number {
  if (!/^\d+$/.test(value)) {
    throw new ReservationError(`gpu=${value}: "${value}" is not a whole number of GPUs; use gpu=all, gpu=0 or gpu=2`);
  }
  return Number(value);
}

function example(key: Field): string {
  return key === "cpu" ? "2" : key === "memory" ? "4096m" : "1";
}

function cores(millis: number): string {
  return String(millis / 1000);
}

const MI = 1024 ** 2;
const GI = 1024 ** 3;

/** A readable size: "23.5Gi", "512Mi", "300" bytes. */
function approxMemory(bytes: number): string {
  if (bytes >= GI) return `${Math.round((bytes / GI) * 10) / 10}Gi`;
  if (bytes >= MI) return `${Math.round((bytes / MI) * 10) / 10}Mi`;
  return String(bytes);
}

/** A size at most `bytes`, in MARO's unit (MiB) when there is at least one. */
function floorMemory(bytes: number): string {
  return bytes >= MI ? `${Math.floor(bytes / MI)}m` : String(bytes);
}
