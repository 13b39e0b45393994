import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { freePort } from "@maro/proto";
import { Redis } from "ioredis";
import { loadOrCreateSecret } from "./secret-file.js";

export interface RedisServerOptions {
  /** Directory for the AOF, config and logs. */
  dir: string;
  /** Addresses to bind; the first is the one advertised. */
  bind: string[];
  /** 0 picks a free port. */
  port: number;
  /** Reused from dir/redis.password when absent; generated on first start. */
  password?: string;
  binary?: string;
}

export interface RunningRedis {
  host: string;
  port: number;
  password: string;
  pid: number;
  url: string;
  stop(): Promise<void>;
  /** Called when redis-server exits without stop() being called. */
  onUnexpectedExit(listener: (code: number | null) => void): void;
}

/**
 * Starts redis-server as a child process with AOF on, a password, bound only to
 * the given addresses. Resolves once it answers PING.
 */
export async function startRedisServer(options: RedisServerOptions): Promise<RunningRedis> {
  mkdirSync(options.dir, { recursive: true, mode: 0o700 });
  const host = options.bind[0] ?? "127.0.0.1";
  const password = options.password ?? loadOrCreateSecret(join(options.dir, "redis.password"));
  // A master killed hard leaves its Redis running on this directory: keep
  // using it (it holds the newest state) rather than start a second server
  // on the same AOF.
  const adopted = await adoptRunning(options.dir, host, password);
  if (adopted) return adopted;
  const port = options.port === 0 ? await freePort(host) : options.port;
  const conf = join(options.dir, "redis.conf");
  // The password goes in a 0600 file, never on the command line.
  writeFileSync(
    conf,
    [
      `port ${port}`,
      `bind ${options.bind.join(" ")}`,
      "protected-mode yes",
      `requirepass ${password}`,
      `dir ${options.dir}`,
      "appendonly yes",
      // A commit Redis acknowledged is on disk: a killed Redis loses nothing.
      "appendfsync always",
      'save ""',
      "daemonize no",
      `pidfile ${join(options.dir, "redis.pid")}`,
      `logfile ${join(options.dir, "redis.log")}`,
      "",
    ].join("\n"),
    { mode: 0o600 },
  );
  const child = spawn(options.binary ?? "redis-server", [conf], { stdio: "ignore" });
  await new Promise<void>((resolve, reject) => {
    child.once("spawn", () => resolve());
    child.once("error", (err) =>
      reject(
        new Error(
          `cannot start redis-server (${err.message}); install it (apt-get install -y redis-server) or pass --redis-url`,
        ),
      ),
    );
  });
  let stopping = false;
  const exitListeners: ((code: number | null) => void)[] = [];
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  void exited.then((code) => {
    if (!stopping) for (const l of exitListeners) l(code);
  });
  await waitForPing(host, port, password, child, options.dir);
  return {
    host,
    port,
    password,
    pid: child.pid ?? 0,
    url: `redis://:${encodeURIComponent(password)}@${host}:${port}`,
    onUnexpectedExit: (listener) => exitListeners.push(listener),
    stop: async () => {
      stopping = true;
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** True when a Redis at host:port answers PING with this password. */
async function answersPing(host: string, port: number, password: string): Promise<boolean> {
  const client = new Redis({
    host,
    port,
    password,
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  client.on("error", () => {});
  try {
    await client.connect();
    return (await client.ping()) === "PONG";
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

async function waitForPing(host: string, port: number, password: string, child: ChildProcess, dir: string) {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) break;
    if (await answersPing(host, port, password)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill("SIGKILL");
  let log = "";
  try {
    log = readFileSync(join(dir, "redis.log"), "utf8").split("\n").slice(-5).join("\n");
  } catch {}
  throw new Error(`redis-server did not become ready on ${host}:${port}:\n${log}`);
}

function pidOf(file: string): number | null {
  try {
    const pid = Number(readFileSync(file, "utf8").trim());
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

function runsRedis(pid: number): boolean {
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return cmdline.includes("redis-server") && !/\) Z /.test(stat);
  } catch {
    return false;
  }
}

async function adoptRunning(dir: string, host: string, password: string): Promise<RunningRedis | null> {
  const pid = pidOf(join(dir, "redis.pid"));
  if (!pid || !runsRedis(pid)) return null;
  const port = Number(/^port (\d+)$/m.exec(readFileSync(join(dir, "redis.conf"), "utf8"))?.[1] ?? 0);
  const alive = await answersPing(host, port, password);
  let stopping = false;
  if (!alive) {
    process.kill(pid, "SIGTERM");
    for (let i = 0; i < 100 && runsRedis(pid); i++) await new Promise((r) => setTimeout(r, 50));
    return null;
  }
  return {
    host,
    port,
    password,
    pid,
    url: `redis://:${encodeURIComponent(password)}@${host}:${port}`,
    // Not our child: its end is noticed by watching its pid.
    onUnexpectedExit: (listener) => {
      const timer = setInterval(() => {
        if (stopping) return clearInterval(timer);
        if (runsRedis(pid)) return;
        clearInterval(timer);
        listener(null);
      }, 500);
      timer.unref();
    },
    stop: async () => {
      stopping = true;
      if (!runsRedis(pid)) return;
      process.kill(pid, "SIGTERM");
      for (let i = 0; i < 200 && runsRedis(pid); i++) await new Promise((r) => setTimeout(r, 25));
      if (runsRedis(pid)) process.kill(pid, "SIGKILL");
    },
  };
}
