import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { isDnsLabel } from "@maro/proto";
import type { AdminTls } from "./client.js";
import { CliError, EXIT } from "./errors.js";

/** What `maro grass create` records about a local cluster. */
export interface ClusterRecord {
  name: string;
  mode: "grass/local";
  runtime: "process" | "docker";
  createdAt: string;
  masterAddress: string;
  dir: string;
  pids: { master: number; redis: number | null; smbd?: number | null; agents: Record<string, number> };
  dockerHost?: string;
}

export function maroHome(): string {
  return process.env.MARO_HOME || join(homedir(), ".maro");
}

export function clusterDir(name: string): string {
  return join(maroHome(), "clusters", name);
}

export function checkClusterName(name: string): string {
  if (!isDnsLabel(name))
    throw new CliError(`cluster name "${name}" is not a DNS label (lowercase letters, digits, '-')`, EXIT.USAGE);
  return name;
}

export function readCluster(name: string): ClusterRecord {
  const file = join(clusterDir(checkClusterName(name)), "cluster.json");
  if (!existsSync(file)) {
    const known = listClusters();
    throw new CliError(
      `no cluster named "${name}" under ${maroHome()}; ${known.length ? `known: ${known.join(", ")}` : "create one with `maro grass create <deployment.yml>`"}`,
    );
  }
  return JSON.parse(readFileSync(file, "utf8")) as ClusterRecord;
}

export function writeCluster(record: ClusterRecord): void {
  mkdirSync(record.dir, { recursive: true, mode: 0o700 });
  const file = join(record.dir, "cluster.json");
  writeFileSync(file, `${JSON.stringify(record, null, 2)}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
}

/** Files of a cluster's record directory; keys and the token are 0600. */
export const RECORD_FILES = {
  caCert: "tls/ca.crt",
  adminCert: "tls/admin.crt",
  adminKey: "tls/admin.key",
  joinToken: "join-token",
} as const;

export function writeSecret(file: string, content: string): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(file, content, { mode: 0o600 });
  chmodSync(file, 0o600);
}

export function adminTls(record: ClusterRecord): AdminTls {
  const read = (rel: string) => {
    try {
      return readFileSync(join(record.dir, rel), "utf8");
    } catch {
      throw new CliError(`${join(record.dir, rel)} is missing; the cluster record is damaged (recreate the cluster)`);
    }
  };
  return {
    caPem: read(RECORD_FILES.caCert),
    certPem: read(RECORD_FILES.adminCert),
    keyPem: read(RECORD_FILES.adminKey),
  };
}

export function listClusters(): string[] {
  const dir = join(maroHome(), "clusters");
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((n) => existsSync(join(dir, n, "cluster.json")));
}
