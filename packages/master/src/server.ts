import { randomUUID } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Server } from "@grpc/grpc-js";
import { createLogger, type Logger, loadMaroProto } from "@maro/proto";
import { Controller } from "./cluster/controller.js";
import { agentChannelHandlers } from "./grpc/agent-channel.js";
import { masterHandlers } from "./grpc/master-service.js";
import { Enrolment } from "./security/join.js";
import { loadMasterTls, serverCredentials } from "./security/tls.js";
import { type RunningRedis, startRedisServer } from "./state/redis-server.js";
import { RedisStateStore } from "./state/redis-store.js";

export interface MasterOptions {
  clusterName: string;
  /** Holds redis/ (AOF, password), shared/ (mounted into components) and master.json. */
  dataDir: string;
  /** ca.crt, ca.key, server.crt, server.key: every connection is TLS. */
  tlsDir: string;
  /** Address the gRPC server listens on. */
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** Use this Redis instead of starting one: redis://:password@host:port */
  redisUrl?: string;
  /** For the Redis the master starts: port (0 = free) and bind addresses (default: host). */
  redisPort: number;
  redisBind: string[];
  heartbeatIntervalMs: number;
  heartbeatTtlMs: number;
  stopGraceSeconds: number;
  log?: Logger;
}

export interface RunningMaster {
  address: string;
  port: number;
  clusterId: string;
  redis: { host: string; port: number; password: string; pid: number | null };
  stop(): Promise<void>;
}

/** The file the CLI reads to find a running master. */
export interface MasterInfoFile {
  pid: number;
  address: string;
  clusterId: string;
  clusterName: string;
  redisHost: string;
  redisPort: number;
  redisPid: number | null;
}

export const MAX_MESSAGE_BYTES = 8 * 1024 * 1024;

export async function startMaster(options: MasterOptions): Promise<RunningMaster> {
  const log = options.log ?? createLogger("maro-master");
  const tls = loadMasterTls(options.tlsDir);
  mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
  const mountSource = join(options.dataDir, "shared", "data");
  mkdirSync(mountSource, { recursive: true });

  let redisServer: RunningRedis | null = null;
  let redisUrl = options.redisUrl;
  if (!redisUrl) {
    redisServer = await startRedisServer({
      dir: join(options.dataDir, "redis"),
      bind: options.redisBind.length > 0 ? options.redisBind : [options.host],
      port: options.redisPort,
    });
    redisServer.onUnexpectedExit((code) => log.error("redis-server exited unexpectedly", { code }));
    redisUrl = redisServer.url;
  }
  const parsed = new URL(redisUrl);
  const redis = {
    host: parsed.hostname,
    port: Number(parsed.port || 6379),
    password: decodeURIComponent(parsed.password),
    pid: redisServer?.pid ?? null,
  };

  const store = new RedisStateStore({ url: redisUrl, cluster: options.clusterName });
  await store.connect();
  const loaded = await store.load();
  const meta = loaded.meta ?? { id: randomUUID(), name: options.clusterName, createdAtMs: Date.now() };
  if (!loaded.meta) await store.saveMeta(meta);

  const controller = new Controller({
    store,
    log,
    heartbeatTtlMs: options.heartbeatTtlMs,
    stopGraceSeconds: options.stopGraceSeconds,
    dispatch: { clusterId: meta.id, clusterName: meta.name, redis, mountSource },
  });
  await controller.init();

  const enrolment = new Enrolment(store, tls.ca, meta.name, log);
  const proto = loadMaroProto();
  const server = new Server({
    "grpc.max_receive_message_length": MAX_MESSAGE_BYTES,
    "grpc.max_send_message_length": MAX_MESSAGE_BYTES,
  });
  const startedAtMs = Date.now();
  server.addService(
    proto.maro.v1.Master.service,
    masterHandlers(
      controller,
      enrolment,
      { clusterId: meta.id, clusterName: meta.name, redisAddress: `${redis.host}:${redis.port}`, startedAtMs },
      log,
    ),
  );
  server.addService(
    proto.maro.v1.AgentChannel.service,
    agentChannelHandlers(
      controller,
      enrolment,
      { clusterId: meta.id, clusterName: meta.name, heartbeatIntervalMs: options.heartbeatIntervalMs },
      log,
    ),
  );
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${options.host}:${options.port}`, serverCredentials(tls), (err, p) =>
      err ? reject(new Error(`cannot listen on ${options.host}:${options.port}: ${err.message}`)) : resolve(p),
    ),
  );
  const address = `${options.host}:${port}`;
  const ttlTimer = setInterval(
    () => {
      controller.checkHeartbeats().catch((err) => log.error("heartbeat check failed", { error: String(err) }));
    },
    Math.max(100, Math.floor(options.heartbeatTtlMs / 4)),
  );
  const info: MasterInfoFile = {
    pid: process.pid,
    address,
    clusterId: meta.id,
    clusterName: meta.name,
    redisHost: redis.host,
    redisPort: redis.port,
    redisPid: redis.pid,
  };
  writeFileSync(join(options.dataDir, "master.json"), `${JSON.stringify(info, null, 2)}\n`);
  log.info("master listening", { address, cluster: meta.name, redis: `${redis.host}:${redis.port}` });

  return {
    address,
    port,
    clusterId: meta.id,
    redis,
    stop: async () => {
      clearInterval(ttlTimer);
      await new Promise<void>((resolve) => {
        const force = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 2000);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      });
      await store.close();
      await redisServer?.stop();
    },
  };
}
