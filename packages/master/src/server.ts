import { randomUUID } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Server } from "@grpc/grpc-js";
import { createLogger, type Logger, loadMaroProto } from "@maro/proto";
import { Controller } from "./cluster/controller.js";
import { allHandlers } from "./grpc/handlers.js";
import { ImageRegistry } from "./images/registry.js";
import { Enrolment } from "./security/join.js";
import { loadMasterTls, serverCredentials } from "./security/tls.js";
import { type LogSink, startLogSink, startRedis, startShare } from "./services.js";
import type { RunningSmbd } from "./share/smbd.js";
import { clusterKeys } from "./state/keys.js";
import { RedisStateStore } from "./state/redis-store.js";
import { Telemetry, type TelemetryOptions } from "./telemetry/index.js";

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
  /** The Fluentd-compatible log sink's port (0 = free); absent: no sink. */
  logSinkPort?: number;
  /** The SMB share's port (0 = free); absent: no share. */
  smbPort?: number;
  log?: Logger;
  /** Tests: a clock, bucket width or flush interval for samples, history and events. */
  telemetry?: Pick<TelemetryOptions, "now" | "bucketMs" | "historyPoints" | "flushIntervalMs" | "eventsKept">;
}

export interface RunningMaster {
  address: string;
  port: number;
  clusterId: string;
  redis: { host: string; port: number; password: string; pid: number | null };
  logSink: { address: string } | null;
  smb: { port: number; user: string; password: string; shareName: string; pid: number } | null;
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
  logSinkAddress: string;
  smbPort: number | null;
  smbPid: number | null;
}

export const MAX_MESSAGE_BYTES = 8 * 1024 * 1024;

export async function startMaster(options: MasterOptions): Promise<RunningMaster> {
  const log = options.log ?? createLogger("maro-master");
  const tls = loadMasterTls(options.tlsDir);
  mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
  const dataRoot = join(options.dataDir, "shared", "data");
  mkdirSync(dataRoot, { recursive: true });
  const stops: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop().catch((err) => log.error("stop failed", { error: String(err) }));
  };
  try {
    const bind = options.redisBind.length > 0 ? options.redisBind : [options.host];
    const redis = await startRedis(options.dataDir, bind, options.redisPort, options.redisUrl, log);
    stops.push(redis.stop);
    const store = new RedisStateStore({ url: redis.url, cluster: options.clusterName });
    await store.connect();
    stops.push(() => store.close());
    const loaded = await store.load();
    const meta = loaded.meta ?? { id: randomUUID(), name: options.clusterName, createdAtMs: Date.now() };
    if (!loaded.meta) await store.saveMeta(meta);

    const images = new ImageRegistry({
      dir: join(options.dataDir, "shared", "images"),
      redis: store.redis,
      cluster: meta.name,
    });
    // Pushes cut off by a crash leave temporary files; nothing can be pushing yet.
    const swept = await images.sweepPartials();
    if (swept > 0) log.info("removed unfinished image uploads", { count: swept });
    const controller = new Controller({
      store,
      log,
      heartbeatTtlMs: options.heartbeatTtlMs,
      stopGraceSeconds: options.stopGraceSeconds,
      imageSha256: async (name) => (await images.byName(name))?.sha256 ?? null,
      dispatch: {
        clusterId: meta.id,
        clusterName: meta.name,
        redis,
        mountSource: dataRoot,
        rosterKey: clusterKeys(options.clusterName).roster,
      },
    });
    await controller.init();

    const telemetryRedis = store.redis.duplicate();
    telemetryRedis.on("error", () => {});
    await telemetryRedis.connect();
    stops.push(async () => telemetryRedis.disconnect());
    const telemetry = new Telemetry({
      ...options.telemetry,
      redis: telemetryRedis,
      cluster: meta.name,
      controller,
      log,
    });
    await telemetry.start();
    stops.push(() => telemetry.stop());

    let sink: LogSink | null = null;
    if (options.logSinkPort !== undefined) {
      sink = await startLogSink(
        options.dataDir,
        options.host,
        options.logSinkPort,
        (a) => controller.isNodeAddress(a),
        log,
      );
      stops.push(sink.stop);
    }
    let smb: RunningSmbd | null = null;
    if (options.smbPort !== undefined) {
      smb = await startShare(options.dataDir, [options.host], options.smbPort, log);
      stops.push(smb.stop);
    }

    const startedAtMs = Date.now();
    const handlers = allHandlers({
      controller,
      enrolment: new Enrolment(store, tls.ca, meta.name, log),
      images,
      logs: sink?.store ?? null,
      dataRoot,
      status: { clusterId: meta.id, clusterName: meta.name, redisAddress: `${redis.host}:${redis.port}`, startedAtMs },
      channel: {
        clusterId: meta.id,
        clusterName: meta.name,
        heartbeatIntervalMs: options.heartbeatIntervalMs,
        logSinkAddress: sink?.address ?? "",
        logSinkSharedKey: sink?.sharedKey ?? "",
        onImageStatus: (node, status) => {
          images
            .markNode(status.sha256, node, status.present)
            .catch((err) => log.warn("image status not saved", { error: String(err) }));
        },
      },
      telemetry,
      log,
    });
    const proto = loadMaroProto();
    const server = new Server({
      "grpc.max_receive_message_length": MAX_MESSAGE_BYTES,
      "grpc.max_send_message_length": MAX_MESSAGE_BYTES,
    });
    server.addService(proto.maro.v1.Master.service, handlers.master);
    server.addService(proto.maro.v1.AgentChannel.service, handlers.agent);
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(`${options.host}:${options.port}`, serverCredentials(tls), (err, p) =>
        err ? reject(new Error(`cannot listen on ${options.host}:${options.port}: ${err.message}`)) : resolve(p),
      ),
    );
    stops.push(
      () =>
        new Promise<void>((resolve) => {
          const force = setTimeout(() => {
            server.forceShutdown();
            resolve();
          }, 1000);
          server.tryShutdown(() => {
            clearTimeout(force);
            resolve();
          });
        }),
    );
    const address = `${options.host}:${port}`;
    // Checked every 100 ms (or a tenth of a short TTL): a dead node is marked
    // down at most that late after its TTL runs out.
    const checkEveryMs = Math.max(20, Math.min(100, Math.floor(options.heartbeatTtlMs / 10)));
    const ttlTimer = setInterval(() => {
      controller
        .checkHeartbeats(checkEveryMs)
        .catch((err) => log.error("heartbeat check failed", { error: String(err) }));
    }, checkEveryMs);
    stops.push(async () => clearInterval(ttlTimer));
    const info: MasterInfoFile = {
      pid: process.pid,
      address,
      clusterId: meta.id,
      clusterName: meta.name,
      redisHost: redis.host,
      redisPort: redis.port,
      redisPid: redis.pid,
      logSinkAddress: sink?.address ?? "",
      smbPort: smb?.port ?? null,
      smbPid: smb?.pid ?? null,
    };
    writeFileSync(join(options.dataDir, "master.json"), `${JSON.stringify(info, null, 2)}\n`);
    log.info("master listening", {
      address,
      cluster: meta.name,
      redis: `${redis.host}:${redis.port}`,
      logSink: info.logSinkAddress,
      smbPort: info.smbPort,
    });
    return {
      address,
      port,
      clusterId: meta.id,
      redis: { host: redis.host, port: redis.port, password: redis.password, pid: redis.pid },
      logSink: sink ? { address: sink.address } : null,
      smb: smb
        ? { port: smb.port, user: smb.user, password: smb.password, shareName: smb.shareName, pid: smb.pid }
        : null,
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
