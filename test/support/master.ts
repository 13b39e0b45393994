import type { MasterOptions } from "@maro/master";
import { silentLogger } from "@maro/proto";

/** Options for a master under test: loopback, free ports, fast heartbeats, no log sink or share unless asked. */
export function testMasterOptions(
  cluster: string,
  dataDir: string,
  tlsDir: string,
  overrides: Partial<MasterOptions> = {},
): MasterOptions {
  return {
    clusterName: cluster,
    dataDir,
    tlsDir,
    host: "127.0.0.1",
    port: 0,
    redisPort: 0,
    redisBind: ["127.0.0.1"],
    heartbeatIntervalMs: 200,
    heartbeatTtlMs: 1000,
    stopGraceSeconds: 1,
    log: silentLogger,
    ...overrides,
  };
}
