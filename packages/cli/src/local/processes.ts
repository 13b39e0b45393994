import { spawn } from "node:child_process";
import { closeSync, existsSync, openSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { freePort } from "@maro/proto";
import { CliError } from "../errors.js";

const require = createRequire(import.meta.url);

/** Path of a maro daemon's entry script: maro-master or maro-agent. */
export function daemonBin(name: "maro-master" | "maro-agent"): string {
  const pkg = name === "maro-master" ? "@maro/master" : "@maro/agent";
  const envOverride = process.env[name === "maro-master" ? "MARO_MASTER_BIN" : "MARO_AGENT_BIN"];
  if (envOverride) return envOverride;
  try {
    const root = dirname(require.resolve(`${pkg}/package.json`));
    const bin = join(root, "bin", `${name}.js`);
    if (!existsSync(join(root, "dist", "main.js")))
      throw new CliError(`${name} is not built; run \`npm run build\` in the maro checkout`);
    return bin;
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError(`cannot find ${pkg}; install maro with its daemons (npm ci in the maro checkout)`);
  }
}

/** Starts a daemon detached from this process, output appended to logFile. */
export function spawnDaemon(
  bin: string,
  args: string[],
  logFile: string,
  env: NodeJS.ProcessEnv = process.env,
): number {
  const fd = openSync(logFile, "a", 0o600);
  try {
    const child = spawn(process.execPath, [bin, ...args], { detached: true, stdio: ["ignore", fd, fd], env });
    child.unref();
    if (!child.pid) throw new CliError(`could not start ${bin}`);
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

/** True when pid runs and its command line contains marker (guards against PID reuse). */
export function isAlive(pid: number, marker: string): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
    if (cmdline === "") return false; // zombie
    return cmdline.includes(marker);
  } catch {
    return false;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** SIGTERM, wait, then SIGKILL. Only signals pid if it still runs marker. Returns how it ended. */
export async function stopPid(pid: number, marker: string, graceMs: number): Promise<"gone" | "terminated" | "killed"> {
  if (!isAlive(pid, marker)) return "gone";
  process.kill(pid, "SIGTERM");
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!isAlive(pid, marker)) return "terminated";
    await sleep(50);
  }
  try {
    process.kill(pid, "SIGKILL");
  } catch {}
  for (let i = 0; i < 40 && isAlive(pid, marker); i++) await sleep(50);
  return "killed";
}

/** The last lines of a log file, for error messages. */
export function tailFile(file: string, lines = 8): string {
  try {
    return readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "";
  }
}

/** The port itself, or a free one for 0: ports are fixed once so a restarted master keeps its addresses. */
export async function concretePort(host: string, port: number, taken: Set<number>): Promise<number> {
  if (port !== 0) return port;
  for (;;) {
    const p = await freePort(host);
    if (!taken.has(p)) {
      taken.add(p);
      return p;
    }
  }
}
