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
  /** The running redis-server's pid (it changes when the master restarts it); null for an external Redis. */
  readonly pid: number | null;
  stop(): Promise<void>;
}

/**
 * The master's Redis: an external one (--redis-url), or a redis-server it
 * runs itself and restarts, on the same port and AOF, whenever it dies. While
 * it is down, state writes wait (ioredis keeps them) and user changes are refused.
 */
export async function startRedis(
  dataDir: string,
  bind: string[],
  port: number,
  external: string | undefined,
  log: Logger,
): Promise<RedisEndpoint> {
  if (external) {
    const parsed = new URL(external);
    return {
      url: external,
      host: parsed.hostname,
      port: Number(parsed.port || 6379),
      password: decodeURIComponent(parsed.password),
      pid: null,
      stop: async () => {},
    };
  }
  const dir = join(dataDir, "redis");
  let server = await startRedisServer({ dir, bind, port });
  let stopped = false;
  let retry: NodeJS.Timeout | null = null;
  const restart = (delayMs: number) => {
    retry = setTimeout(() => {
      retry = null;
      if (stopped) return;
      startRedisServer({ dir, bind, port: server.port, password: server.password }).then(
        (next) => {
          if (stopped) return void next.stop();
          server = next;
          watch(next);
          log.warn("redis-server restarted", { pid: next.pid, port: next.port });
        },
        (err) => {
          log.error("restarting redis-server failed; trying again", { error: String(err) });
          restart(Math.min(delayMs * 2, 5000));
        },
      );
    }, delayMs);
  };
  const watch = (running: RunningRedis) =>
    running.onUnexpectedExit((code) => {
      if (stopped || running !== server) return;
      log.error("redis-server exited unexpectedly; restarting it", { code, pid: running.pid });
      restart(200);
    });
  watch(server);
  return {
    url: server.url,
    host: server.host,
    port: server.port,
    password: server.password,
    get pid() {
      return server.pid;
    },
    stop: async () => {
      stopped = true;
      if (retry) clearTimeout(retry);
      await server.stop();
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
