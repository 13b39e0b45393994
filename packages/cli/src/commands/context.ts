import { MasterApi } from "../client.js";
import { CliError, EXIT } from "../errors.js";
import { adminTls, type ClusterRecord, readCluster } from "../home.js";
import type { OutputFormat } from "../output.js";

export interface OutputOption {
  output: string;
}

export function outputFormat(opts: OutputOption): OutputFormat {
  if (opts.output === "json" || opts.output === "table") return opts.output;
  throw new CliError(`-o/--output: "${opts.output}" is not one of table, json`, EXIT.USAGE);
}

/** Opens the cluster's record and a client to its master; closes the client after fn. */
export async function withMaster<T>(
  cluster: string,
  fn: (api: MasterApi, record: ClusterRecord) => Promise<T>,
): Promise<T> {
  const record = readCluster(cluster);
  const api = new MasterApi(record.masterAddress, adminTls(record));
  try {
    return await fn(api, record);
  } finally {
    api.close();
  }
}
