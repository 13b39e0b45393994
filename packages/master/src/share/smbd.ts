import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { connect, isIP } from "node:net";
import { userInfo } from "node:os";
import { join, resolve } from "node:path";
import { freePort } from "@maro/proto";
import { pidFromFile, processesReferencing, terminate, waitGone } from "./processes.js";

/*
 * Runs and supervises one private smbd (Samba) instance serving one share.
 *
 * Everything lives under stateDir: the generated smb.conf (0600), the password
 * (0600), a private tdbsam passdb, and Samba's pid/lock/state/cache/ncalrpc/log
 * directories, so neither /etc/samba/smb.conf nor the system passdb nor
 * /var/log/samba is used (`--log-basename` is passed on the command line, and
 * smbd hands it on to samba-dcerpcd and its rpcd_* workers).
 *
 * The Unix user: Samba accounts must be Unix accounts. Instead of adding one to
 * /etc/passwd, the passdb holds an entry for the user this process runs as
 * (root) and `username map` maps the SMB user name (default "maro") onto it; the
 * share has `valid users = <that Unix user>` (checked after mapping) and
 * `force user`. Nothing in /etc is touched. Consequence: the SMB name of the
 * Unix user (e.g. "root") is accepted too, with the same generated password, as
 * only this instance's private passdb is consulted; it grants nothing more.
 *
 * Processes: smbd runs in the foreground as our child, in its own process
 * group (on SIGTERM it signals its whole group, so it must not share ours),
 * with its own forked children (smbd-notifyd, smbd-cleanupd, one per client).
 * On the first RPC (e.g. a share listing) smbd starts samba-dcerpcd, which
 * detaches (parent PID 1, own session, pid file in the pid directory) and forks
 * rpcd_* workers; it does not exit when smbd does. All of them carry this
 * instance's config path on their command line; stop() signals exactly those
 * PIDs (re-checked right before each signal), never processes found by name.
 * Because smbd is detached it outlives a master killed with SIGKILL; the next
 * start on the same stateDir stops such leftovers first (one instance per
 * stateDir).
 */

export interface SmbdOptions {
  /** Config, password, passdb and Samba's pid/lock/state/private/cache/log directories. */
  stateDir: string;
  /** The share's root directory (created if missing). */
  shareDir: string;
  /** Default "maro". */
  shareName?: string;
  /** IP addresses to listen on; the first is used for the readiness check. "0.0.0.0"/"::" listen everywhere. */
  bind: string[];
  /** 0 picks a free port. */
  port: number;
  /** The SMB user name clients log in with. Default "maro". */
  user?: string;
  /** Reused from stateDir/smb.password when absent; generated on first start (0600). */
  password?: string;
  binaries?: { smbd?: string; smbpasswd?: string; smbclient?: string };
  /** How long to wait for smbd to answer. Default 20 s. */
  readyTimeoutMs?: number;
  /** Diagnostics (e.g. leftovers of a previous run that were stopped). */
  log?: (message: string) => void;
}

export interface RunningSmbd {
  /** The address the readiness check used (bind[0], or loopback for a wildcard). */
  host: string;
  port: number;
  user: string;
  password: string;
  shareName: string;
  /** PID of the main smbd process (our child). */
  pid: number;
  /** The generated smb.conf; every process of this instance has it on its command line. */
  confPath: string;
  /** A 0600 smbclient authentication file (`smbclient -A <file>`), so the password needs no command line. */
  authFile: string;
  /** Stops smbd, samba-dcerpcd and its workers of this instance; idempotent. Rejects if a process survives SIGKILL. */
  stop(): Promise<void>;
  /** Called when the main smbd exits without stop() being called. */
  onUnexpectedExit(listener: (code: number | null, signal: NodeJS.Signals | null) => void): void;
}

export interface SmbdLayout {
  conf: string;
  passwordFile: string;
  usernameMap: string;
  authFile: string;
  pidDir: string;
  lockDir: string;
  stateDir: string;
  privateDir: string;
  cacheDir: string;
  ncalrpcDir: string;
  usershareDir: string;
  logDir: string;
}

/** Where everything of an instance lives under stateDir. */
export function smbdLayout(stateDir: string): SmbdLayout {
  const dir = resolve(stateDir);
  return {
    conf: join(dir, "smb.conf"),
    passwordFile: join(dir, "smb.password"),
    usernameMap: join(dir, "smb.usermap"),
    authFile: join(dir, "smbclient.auth"),
    pidDir: join(dir, "run"),
    lockDir: join(dir, "lock"),
    stateDir: join(dir, "state"),
    privateDir: join(dir, "private"),
    cacheDir: join(dir, "cache"),
    ncalrpcDir: join(dir, "ncalrpc"),
    usershareDir: join(dir, "usershares"),
    logDir: join(dir, "log"),
  };
}

export interface SmbConfParams {
  layout: SmbdLayout;
  shareDir: string;
  shareName: string;
  bind: string[];
  port: number;
  /** The Unix account the SMB user maps to (valid users, force user). */
  unixUser: string;
  /** Set `force user` (only meaningful when smbd runs as root). */
  forceUser: boolean;
}

const WILDCARDS = new Set(["0.0.0.0", "::"]);

/** The smb.conf text for an instance (pure). */
export function renderSmbConf(p: SmbConfParams): string {
  const { layout } = p;
  const wildcard = p.bind.some((a) => WILDCARDS.has(a));
  const lines = [
    "# Generated by maro-master on every start; edits are lost.",
    "[global]",
    "server role = standalone server",
    "security = user",
    `smb ports = ${p.port}`,
    ...(wildcard ? ["bind interfaces only = no"] : [`interfaces = ${p.bind.join(" ")}`, "bind interfaces only = yes"]),
    "disable netbios = yes",
    `pid directory = ${layout.pidDir}`,
    `lock directory = ${layout.lockDir}`,
    `state directory = ${layout.stateDir}`,
    `private dir = ${layout.privateDir}`,
    `cache directory = ${layout.cacheDir}`,
    `ncalrpc dir = ${layout.ncalrpcDir}`,
    `usershare path = ${layout.usershareDir}`,
    "usershare max shares = 0",
    `passdb backend = tdbsam:${join(layout.privateDir, "passdb.tdb")}`,
    `username map = ${layout.usernameMap}`,
    "map to guest = never",
    "restrict anonymous = 2",
    "server min protocol = SMB2_10",
    "server signing = mandatory",
    "ntlm auth = ntlmv2-only",
    "load printers = no",
    "printing = bsd",
    "printcap name = /dev/null",
    "disable spoolss = yes",
    "unix password sync = no",
    "pam password change = no",
    "obey pam restrictions = no",
    "host msdfs = no",
    "allow insecure wide links = no",
    "max log size = 10000",
    "log level = 1",
    "",
    `[${p.shareName}]`,
    `path = ${p.shareDir}`,
    `valid users = ${p.unixUser}`,
    "read only = no",
    "guest ok = no",
    "browseable = yes",
    ...(p.forceUser ? [`force user = ${p.unixUser}`] : []),
    "follow symlinks = no",
    "wide links = no",
    "create mask = 0644",
    "directory mask = 0755",
    "",
  ];
  return lines.join("\n");
}

/** Values go into smb.conf lines: no line breaks, no "%" (Samba's substitutions), no edge whitespace. */
function checkConfValue(what: string, value: string): void {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  if (/[\u0000-\u001f\u007f%]/.test(value) || value.trim() !== value || value === "") {
    throw new Error(
      `smbd: ${what} ${JSON.stringify(value)} cannot go into smb.conf (no control characters, "%" or edge spaces)`,
    );
  }
}

function validate(options: SmbdOptions, shareName: string, user: string): void {
  checkConfValue("stateDir", resolve(options.stateDir));
  checkConfValue("shareDir", resolve(options.shareDir));
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$/.test(shareName) || /^(global|homes|printers)$/i.test(shareName)) {
    throw new Error(`smbd: invalid share name ${JSON.stringify(shareName)}`);
  }
  if (!/^[A-Za-z_][A-Za-z0-9_.-]{0,31}$/.test(user)) {
    throw new Error(`smbd: invalid user name ${JSON.stringify(user)}`);
  }
  if (options.bind.length === 0) throw new Error("smbd: bind must list at least one address");
  for (const address of options.bind) {
    if (isIP(address) === 0) throw new Error(`smbd: bind address ${JSON.stringify(address)} is not an IP address`);
  }
  if (!Number.isInteger(options.port) || options.port < 0 || options.port > 65535) {
    throw new Error(`smbd: invalid port ${options.port}`);
  }
  if (options.password !== undefined) checkPassword(options.password);
}

function checkPassword(password: string): void {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the password is fed to smbpasswd line by line
  if (password === "" || password.length > 128 || /[\u0000-\u001f\u007f]/.test(password)) {
    throw new Error("smbd: the password must be 1-128 characters without control characters");
  }
}

function loadOrCreatePassword(file: string, given?: string): string {
  if (given !== undefined) return given;
  if (existsSync(file)) {
    if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
    const stored = readFileSync(file, "utf8").trim();
    checkPassword(stored);
    return stored;
  }
  const password = randomBytes(24).toString("base64url");
  writeFileSync(file, password, { mode: 0o600 });
  return password;
}

function fileSize(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

/** The last lines a Samba log got since offset, without panic boilerplate and backtrace frames. */
function tail(file: string, offset: number, lines = 20): string {
  try {
    const log = readFileSync(file);
    return log
      .subarray(log.length >= offset ? offset : 0) // rotated meanwhile: all of the new file
      .toString("utf8")
      .trimEnd()
      .split("\n")
      .filter(
        (l) =>
          !/^\s+#\d+ |^\s+=+$|^\s+If you are running a recent Samba|fault\.c:\d+\((smb_panic_log|log_stack_trace)\)/.test(
            l,
          ),
      )
      .slice(-lines)
      .join("\n");
  } catch {
    return "(no log)";
  }
}

interface RunResult {
  code: number | null;
  output: string;
  spawnError?: NodeJS.ErrnoException;
}

/** Runs a short-lived helper, feeding stdin, with a hard timeout. */
function run(
  binary: string,
  args: string[],
  input: string,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<RunResult> {
  return new Promise((done) => {
    const child = spawn(binary, args, { stdio: ["pipe", "pipe", "pipe"], signal, killSignal: "SIGKILL" });
    let output = "";
    const collect = (chunk: Buffer) => {
      if (output.length < 64_000) output += chunk.toString("utf8");
    };
    child.stdout.on("data", collect);
    child.stderr.on("data", collect);
    child.stdin.on("error", () => {});
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.once("error", (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      done({ code: null, output, spawnError: err });
    });
    child.once("close", (code) => {
      clearTimeout(timer);
      done({ code, output });
    });
    child.stdin.end(input);
  });
}

function tcpAccepts(host: string, port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect({ host, port });
    const finish = (ok: boolean) => {
      socket.destroy();
      done(ok);
    };
    socket.setTimeout(1000, () => finish(false));
    socket.once("connect", () => finish(true));
    socket.once("error", () => finish(false));
  });
}

/** Stops every process of the instance whose config is conf. Returns survivors. */
async function stopInstance(layout: SmbdLayout, mainPid: number | undefined): Promise<number[]> {
  const conf = layout.conf;
  // smbd first, so it cannot start a new samba-dcerpcd while we stop the old one.
  if (mainPid !== undefined) await terminate([mainPid], conf, 5000);
  const fromPidFile = ["smbd.pid", "samba-dcerpcd.pid"]
    .map((name) => pidFromFile(join(layout.pidDir, name), conf))
    .filter((pid): pid is number => pid !== undefined);
  const rest = [...new Set([...fromPidFile, ...processesReferencing(conf)])];
  const survivors = await terminate(rest, conf, 5000);
  // Anything forked meanwhile (a worker started just before its parent died).
  const late = processesReferencing(conf);
  if (late.length > 0) survivors.push(...(await terminate(late, conf, 2000)));
  return [...new Set(survivors)];
}

/**
 * Starts smbd with a generated config and user (see the notes at the top of
 * this file). Resolves once the port accepts connections and `smbclient -L`
 * with the credentials succeeds (when smbclient is installed; otherwise once
 * the port accepts connections).
 */
export async function startSmbd(options: SmbdOptions): Promise<RunningSmbd> {
  const shareName = options.shareName ?? "maro";
  const user = options.user ?? "maro";
  validate(options, shareName, user);
  const log = options.log ?? (() => {});
  const layout = smbdLayout(options.stateDir);
  const shareDir = resolve(options.shareDir);
  const readyTimeoutMs = options.readyTimeoutMs ?? 20_000;
  const binaries = {
    smbd: options.binaries?.smbd ?? "smbd",
    smbpasswd: options.binaries?.smbpasswd ?? "smbpasswd",
    smbclient: options.binaries?.smbclient ?? "smbclient",
  };

  mkdirSync(resolve(options.stateDir), { recursive: true, mode: 0o700 });
  chmodSync(resolve(options.stateDir), 0o700);
  for (const dir of [
    layout.pidDir,
    layout.lockDir,
    layout.stateDir,
    layout.cacheDir,
    layout.ncalrpcDir,
    layout.usershareDir,
    layout.logDir,
  ]) {
    mkdirSync(dir, { recursive: true, mode: 0o755 });
  }
  mkdirSync(layout.privateDir, { recursive: true, mode: 0o700 });
  chmodSync(layout.privateDir, 0o700);
  mkdirSync(shareDir, { recursive: true, mode: 0o755 });

  // A previous master killed hard leaves its smbd/samba-dcerpcd behind.
  const found = processesReferencing(layout.conf);
  if (found.length > 0) log(`smbd: stopping processes left by a previous run: ${found.join(", ")}`);
  const leftovers = await stopInstance(layout, undefined);
  if (leftovers.length > 0) {
    throw new Error(`smbd: processes of a previous run (${leftovers.join(", ")}) of ${layout.conf} would not stop`);
  }

  const password = loadOrCreatePassword(layout.passwordFile, options.password);
  const wildcard = options.bind.some((a) => WILDCARDS.has(a));
  const first = options.bind[0] ?? "127.0.0.1";
  const host = wildcard ? (isIP(first) === 6 ? "::1" : "127.0.0.1") : first;
  const port = options.port === 0 ? await freePort(host) : options.port;
  const me = userInfo();
  const unixUser = me.username;

  // Samba reads the map as "unix name = smb names"; "!" stops at the first match.
  writeFileSync(layout.usernameMap, `!${unixUser} = ${user}\n`, { mode: 0o600 });
  writeFileSync(
    layout.conf,
    renderSmbConf({ layout, shareDir, shareName, bind: options.bind, port, unixUser, forceUser: me.uid === 0 }),
    { mode: 0o600 },
  );
  writeFileSync(layout.authFile, `username = ${user}\npassword = ${password}\n`, { mode: 0o600 });
  for (const file of [layout.conf, layout.usernameMap, layout.authFile]) chmodSync(file, 0o600);

  // The password goes through stdin (twice: new + confirm), never argv.
  const added = await run(
    binaries.smbpasswd,
    ["-c", layout.conf, "-s", "-a", unixUser],
    `${password}\n${password}\n`,
    15_000,
  );
  if (added.spawnError) {
    throw new Error(
      `smbd: cannot run ${binaries.smbpasswd} (${added.spawnError.message}); install Samba (apt-get install -y samba smbclient)`,
    );
  }
  if (added.code !== 0) {
    throw new Error(`smbd: smbpasswd could not set the password of ${unixUser}: ${added.output.trim()}`);
  }

  const smbdLog = join(layout.logDir, "log.smbd");
  const logOffset = fileSize(smbdLog);
  const startedAt = Date.now();
  // detached: node makes smbd a session and process group leader itself
  // (hence --no-process-group, or smbd's own setsid() fails). It must not stay
  // in our group: on SIGTERM smbd signals its whole process group.
  const child = spawn(
    binaries.smbd,
    ["--foreground", "--no-process-group", `--log-basename=${layout.logDir}`, "-s", layout.conf],
    {
      stdio: ["ignore", "ignore", "pipe"],
      detached: true,
    },
  );
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    if (stderr.length < 16_000) stderr += chunk.toString("utf8");
  });
  await new Promise<void>((ok, fail) => {
    child.once("spawn", () => ok());
    child.once("error", (err) =>
      fail(
        new Error(
          `smbd: cannot start ${binaries.smbd} (${err.message}); install Samba (apt-get install -y samba smbclient)`,
        ),
      ),
    );
  });
  const pid = child.pid ?? 0;
  let stopping = false;
  const exitListeners: ((code: number | null, signal: NodeJS.Signals | null) => void)[] = [];
  const exited = new Promise<void>((done) =>
    child.once("exit", (code, signal) => {
      if (!stopping) for (const l of exitListeners) l(code, signal);
      done();
    }),
  );

  let stopPromise: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping = true;
    stopPromise ??= (async () => {
      const survivors = await stopInstance(
        layout,
        child.exitCode === null && child.signalCode === null ? pid : undefined,
      );
      await Promise.race([exited, waitGone([pid], 1000)]);
      if (survivors.length > 0) {
        throw new Error(`smbd: processes ${survivors.join(", ")} of ${layout.conf} survived SIGKILL`);
      }
    })();
    return stopPromise;
  };

  let portOpenAt = startedAt;
  try {
    portOpenAt = await waitReady({
      exited,
      smbdLog,
      logOffset,
      host,
      port,
      child,
      layout,
      binaries,
      deadline: startedAt + readyTimeoutMs,
      stderr: () => stderr,
    });
  } catch (err) {
    await stop().catch(() => {});
    throw err;
  }
  log(
    `smbd ready on ${host}:${port} after ${Date.now() - startedAt} ms (port open after ${portOpenAt - startedAt} ms; pid ${pid})`,
  );

  return {
    host,
    port,
    user,
    password,
    shareName,
    pid,
    confPath: layout.conf,
    authFile: layout.authFile,
    stop,
    onUnexpectedExit: (listener) => {
      exitListeners.push(listener);
    },
  };
}

async function waitReady(p: {
  host: string;
  port: number;
  child: ChildProcess;
  exited: Promise<void>;
  smbdLog: string;
  logOffset: number;
  layout: SmbdLayout;
  binaries: { smbclient: string };
  deadline: number;
  stderr: () => string;
}): Promise<number> {
  const failure = (why: string) =>
    new Error(
      `smbd did not become ready on ${p.host}:${p.port}: ${why}\n--- ${p.smbdLog} (tail) ---\n${tail(p.smbdLog, p.logOffset)}${
        p.stderr().trim() ? `\n--- stderr ---\n${p.stderr().trim()}` : ""
      }`,
    );
  const exitedEarly = () => p.child.exitCode !== null || p.child.signalCode !== null;
  const exitFailure = () =>
    failure(`smbd exited (code ${p.child.exitCode ?? "none"}, signal ${p.child.signalCode ?? "none"})`);
  // A probe in flight is cut short when smbd dies (e.g. it panics because the port is taken).
  const abort = new AbortController();
  void p.exited.then(() => abort.abort());
  let lastCheck = "the port never accepted a connection";
  let portOpenAt: number | undefined;
  while (Date.now() < p.deadline) {
    if (exitedEarly()) throw exitFailure();
    if (!(await tcpAccepts(p.host, p.port))) {
      await new Promise((r) => setTimeout(r, 50));
      continue;
    }
    portOpenAt ??= Date.now();
    const remaining = Math.max(1000, p.deadline - Date.now());
    const listed = await run(
      p.binaries.smbclient,
      // -s /dev/null: the host's client smb.conf must not change how we probe.
      ["-s", "/dev/null", "-L", p.host, "-I", p.host, "-p", String(p.port), "-A", p.layout.authFile],
      "",
      Math.min(10_000, remaining),
      abort.signal,
    );
    if (exitedEarly()) throw exitFailure();
    // No smbclient: the accepting port is all we can check.
    if (listed.spawnError?.code === "ENOENT" || listed.code === 0) return portOpenAt;
    lastCheck = `smbclient -L failed: ${listed.output.trim() || `exit ${listed.code}`}`;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw exitedEarly() ? exitFailure() : failure(lastCheck);
}
