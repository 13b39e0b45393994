import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "@maro/proto";
import { ForwardServer, LogStore, storeEvents } from "./logs/index.js";
import { type RunningSmbd, startSmbd } from "./share/smbd.js";
import { type RunningRedis, startRedisServer } from "./state/redis-server.js";
import { loadOrCreateSecret } from "./state/secret-file.js";

// The daemons and listeners the master runs beside its gRPC server, each
// started here and stopped by the master.

export interface RedisEndpoint {
  url: string;
  host: string;
  port: number;
  password: string;
  pid: number | null;
  stop(): Promise<void>;
}

export async function startRedis(
  dataDir: string,
  bind: string[],
  port: number,
  external: string | undefined,
  log: Logger,
): Promise<RedisEndpoint> {
  let server: RunningRedis | null = null;
  let url = external;
  if (!url) {
    server = await startRedisServer({ dir: join(dataDir, "redis"), bind, port });
    server.onUnexpectedExit((code) => log.error("redis-server exited unexpectedly", { code }));
    url = server.url;
  }
  const parsed = new URL(url);
  return {
    url,
    host: parsed.hostname,
    port: Number(parsed.port || 6379),
    password: decodeURIComponent(parsed.password),
    pid: server?.pid ?? null,
    stop: async () => {
      await server?.stop();
    },
  };
}

export interface LogSink {
  store: LogStore;
  address: string;
  sharedKey: string;
  stop(): Promise<void>;
}

/**
 * The Fluentd-compatible log sink: agents' shippers authenticate with the
 * shared key; Docker's log driver cannot, so the addresses of registered
 * nodes may send without it.
 */
export async function startLogSink(
  dataDir: string,
  host: string,
  port: number,
  isNodeAddress: (address: string) => boolean,
  log: Logger,
): Promise<LogSink> {
  const dir = join(dataDir, "shared", "logs");
  mkdirSync(dir, { recursive: true });
  const sharedKey = loadOrCreateSecret(join(dataDir, "log-sink.key"));
  const store = new LogStore({ dir });
  const server = new ForwardServer({
    host,
    port,
    sharedKey,
    selfHostname: "maro-master",
    authorize: isNodeAddress,
    onEvents: storeEvents(store),
    log,
  });
  const started = await server.start();
  return { store, address: `${host}:${started.port}`, sharedKey, stop: () => server.stop() };
}

export async function startShare(dataDir: string, bind: string[], port: number, log: Logger): Promise<RunningSmbd> {
  const shareDir = join(dataDir, "shared");
  for (const sub of ["data", "logs", "images"]) mkdirSync(join(shareDir, sub), { recursive: true });
  const smbd = await startSmbd({ stateDir: join(dataDir, "smb"), shareDir, bind, port, log: (m) => log.info(m) });
  smbd.onUnexpectedExit((code) => log.error("smbd exited unexpectedly", { code }));
  return smbd;
}
