import { parseArgs } from "node:util";
import { createLogger, isDnsLabel } from "@maro/proto";
import { startMaster } from "./server.js";
import { MASTER_VERSION } from "./version.js";

const USAGE = `usage: maro-master --cluster NAME --data-dir DIR [options]

  --cluster NAME             cluster name (DNS label)
  --data-dir DIR             state directory (redis/, shared/, master.json)
  --tls-dir DIR              ca.crt, ca.key, server.crt, server.key (made by maro grass create)
  --host ADDR                gRPC listen address (default 127.0.0.1)
  --port N                   gRPC port, 0 = any free port (default 0)
  --redis-url URL            use this Redis (redis://:password@host:port) instead of starting one;
                             better in the environment as MARO_REDIS_URL (argv is visible to every user)
  --redis-port N             port of the Redis the master starts (default 0 = any free port)
  --redis-bind A,B           addresses that Redis binds (default: --host)
  --log-port N               Fluentd-compatible log sink port, 0 = any free port (default 24224)
  --smb-port N               SMB share port, 0 = any free port (default 0)
  --no-log-sink              run no log sink
  --no-smb                   run no SMB share
  --heartbeat-interval MS    agent heartbeat interval (default 1000)
  --heartbeat-ttl MS         a node silent this long is down (default 3000)
  --stop-grace S             seconds between SIGTERM and SIGKILL on stop (default 10)
  --version                  print the version`;

function fail(message: string): never {
  process.stderr.write(`maro-master: ${message}\n\n${USAGE}\n`);
  process.exit(2);
}

function int(name: string, value: string | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max)
    fail(`--${name}: "${value}" must be an integer from ${min} to ${max}`);
  return n;
}

async function main() {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      options: {
        cluster: { type: "string" },
        "data-dir": { type: "string" },
        "tls-dir": { type: "string" },
        host: { type: "string", default: "127.0.0.1" },
        port: { type: "string" },
        "redis-url": { type: "string" },
        "redis-port": { type: "string" },
        "redis-bind": { type: "string" },
        "heartbeat-interval": { type: "string" },
        "log-port": { type: "string" },
        "smb-port": { type: "string" },
        "no-log-sink": { type: "boolean" },
        "no-smb": { type: "boolean" },
        "heartbeat-ttl": { type: "string" },
        "stop-grace": { type: "string" },
        version: { type: "boolean" },
        help: { type: "boolean" },
      },
      strict: true,
    });
  } catch (err) {
    fail(err instanceof Error ? err.message : String(err));
  }
  const v = parsed.values as Record<string, string | boolean | undefined>;
  if (v.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (v.version) {
    process.stdout.write(`${MASTER_VERSION}\n`);
    return;
  }
  const str = (k: string) => (typeof v[k] === "string" ? (v[k] as string) : undefined);
  const cluster = str("cluster") ?? fail("--cluster is required");
  if (!isDnsLabel(cluster)) fail(`--cluster: "${cluster}" is not a DNS label`);
  const dataDir = str("data-dir") ?? fail("--data-dir is required");
  const tlsDir = str("tls-dir") ?? fail("--tls-dir is required: the master only speaks TLS");
  const heartbeatIntervalMs = int("heartbeat-interval", str("heartbeat-interval"), 1000, 50, 60_000);
  const heartbeatTtlMs = int("heartbeat-ttl", str("heartbeat-ttl"), 3000, 100, 600_000);
  if (heartbeatTtlMs <= heartbeatIntervalMs) fail("--heartbeat-ttl must be longer than --heartbeat-interval");
  const log = createLogger("maro-master");
  const master = await startMaster({
    clusterName: cluster,
    dataDir,
    tlsDir,
    host: str("host") ?? "127.0.0.1",
    port: int("port", str("port"), 0, 0, 65535),
    redisUrl: str("redis-url") ?? process.env.MARO_REDIS_URL,
    redisPort: int("redis-port", str("redis-port"), 0, 0, 65535),
    redisBind: (str("redis-bind") ?? "").split(",").filter(Boolean),
    heartbeatIntervalMs,
    heartbeatTtlMs,
    stopGraceSeconds: int("stop-grace", str("stop-grace"), 10, 0, 3600),
    ...(v["no-log-sink"] ? {} : { logSinkPort: int("log-port", str("log-port"), 24224, 0, 65535) }),
    ...(v["no-smb"] ? {} : { smbPort: int("smb-port", str("smb-port"), 0, 0, 65535) }),
    log,
  });
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info("stopping", { signal });
    master.stop().then(
      () => process.exit(0),
      (err) => {
        log.error("stop failed", { error: String(err) });
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  process.on("SIGINT", () => shutdown("SIGINT"));
}

main().catch((err) => {
  process.stderr.write(`maro-master: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
