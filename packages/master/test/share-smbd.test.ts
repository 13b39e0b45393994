import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { tempDir } from "../../../test/support/tmp.js";
import { type RunningSmbd, startSmbd } from "../src/share/smbd.js";

interface Result {
  code: number;
  out: string;
}

/** Runs the real smbclient; never rejects, the exit code and output are returned. */
function smbclient(args: string[]): Promise<Result> {
  return new Promise((resolve) => {
    execFile("smbclient", args, { timeout: 30_000, encoding: "utf8" }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === "number" ? err.code : -1) : 0;
      resolve({ code, out: `${stdout}${stderr}` });
    });
  });
}

function share(s: RunningSmbd, creds: string[], commands: string): Promise<Result> {
  return smbclient([`//127.0.0.1/${s.shareName}`, "-p", String(s.port), ...creds, "-c", commands]);
}

const login = (s: RunningSmbd) => ["-U", `${s.user}%${s.password}`];

/** Independent of the module under test: live processes whose command line mentions text. */
function processesMentioning(text: string): { pid: number; argv: string[] }[] {
  const found: { pid: number; argv: string[] }[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const raw = readFileSync(`/proc/${entry}/cmdline`, "utf8");
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
      if (raw.includes(text) && state !== "Z") found.push({ pid: Number(entry), argv: raw.split("\0") });
    } catch {
      // exited meanwhile
    }
  }
  return found;
}

function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

function pidFiles(stateDir: string): number[] {
  const dir = join(stateDir, "run");
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith(".pid"))
    .map((f) => Number.parseInt(readFileSync(join(dir, f), "utf8"), 10))
    .filter((n) => Number.isInteger(n) && n > 1);
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

const sha256 = (file: string) => createHash("sha256").update(readFileSync(file)).digest("hex");
const mode = (file: string) => statSync(file).mode & 0o777;

describe("smbd share (real smbd, real smbclient)", () => {
  let dir: { path: string; remove(): void };
  let stateDir: string;
  let shareDir: string;
  let outside: string;
  let smbd: RunningSmbd;
  let passwdBefore: string;
  const extra: RunningSmbd[] = [];

  before(async () => {
    dir = tempDir("share-smbd");
    stateDir = join(dir.path, "state");
    shareDir = join(dir.path, "shared");
    outside = join(dir.path, "outside");
    for (const sub of ["data", "logs", "images"]) mkdirSync(join(shareDir, sub), { recursive: true });
    mkdirSync(outside);
    writeFileSync(join(outside, "secret.txt"), "top secret\n");
    passwdBefore = readFileSync("/etc/passwd", "utf8");
    const t0 = Date.now();
    smbd = await startSmbd({ stateDir, shareDir, bind: ["127.0.0.1"], port: 0 });
    console.log(`# first start: ready in ${Date.now() - t0} ms on port ${smbd.port} (pid ${smbd.pid})`);
  });

  after(async () => {
    for (const s of [smbd, ...extra]) await s?.stop().catch(() => {});
    dir?.remove();
  });

  test("generated credentials: ls, put and get round-trip a file byte for byte", async () => {
    const local = join(dir.path, "x.bin");
    const back = join(dir.path, "x-back.bin");
    writeFileSync(local, randomBytes(3 * 1024 * 1024 + 17));
    const r = await share(smbd, login(smbd), `ls; put ${local} data/x.bin; get data/x.bin ${back}`);
    assert.equal(r.code, 0, r.out);
    for (const name of ["data", "logs", "images"]) assert.match(r.out, new RegExp(`^\\s+${name}\\s+D\\s`, "m"));
    assert.equal(sha256(back), sha256(local));
    assert.equal(sha256(join(shareDir, "data", "x.bin")), sha256(local));
  });

  test("smbclient -L lists the share", async () => {
    const r = await smbclient(["-L", "127.0.0.1", "-p", String(smbd.port), ...login(smbd)]);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /^\s+maro\s+Disk/m);
  });

  test("a wrong password or an unknown user is refused", async () => {
    const wrong = await share(smbd, ["-U", `${smbd.user}%not-${smbd.password}`], "ls");
    assert.notEqual(wrong.code, 0);
    assert.match(wrong.out, /NT_STATUS_LOGON_FAILURE/);
    const stranger = await share(smbd, ["-U", `mallory%${smbd.password}`], "ls");
    assert.notEqual(stranger.code, 0);
    assert.match(stranger.out, /NT_STATUS_LOGON_FAILURE/);
  });

  test("guests and anonymous users are refused", async () => {
    for (const creds of [["-N"], ["-U", "guest%"], ["-U", "nobody%"]]) {
      const r = await share(smbd, creds, "ls");
      assert.notEqual(r.code, 0, `${creds.join(" ")}: ${r.out}`);
      assert.match(r.out, /NT_STATUS_(LOGON_FAILURE|ACCESS_DENIED)/, creds.join(" "));
      assert.doesNotMatch(r.out, /^\s+data\s+D\s/m);
    }
    const listing = await smbclient(["-L", "127.0.0.1", "-p", String(smbd.port), "-N"]);
    assert.notEqual(listing.code, 0, listing.out);
  });

  test("secrets: 0600 files, never on a command line, /etc/passwd untouched", () => {
    for (const file of ["smb.password", "smb.conf", "smbclient.auth", "smb.usermap"]) {
      assert.equal(mode(join(stateDir, file)), 0o600, file);
    }
    assert.equal(mode(join(stateDir, "private")), 0o700);
    assert.equal(readFileSync(join(stateDir, "smb.password"), "utf8").trim(), smbd.password);
    assert.ok(smbd.password.length >= 24);
    assert.ok(!readFileSync(smbd.confPath, "utf8").includes(smbd.password), "password in smb.conf");
    const procs = processesMentioning(smbd.confPath);
    assert.ok(procs.some((p) => p.pid === smbd.pid));
    // -L above made smbd start samba-dcerpcd: the check covers it and its workers too.
    assert.ok(
      procs.some((p) => p.argv.some((a) => a.endsWith("samba-dcerpcd"))),
      procs.map((p) => p.argv.join(" ")).join("\n"),
    );
    for (const p of procs) assert.ok(!p.argv.join(" ").includes(smbd.password), `password in argv of ${p.pid}`);
    assert.equal(readFileSync("/etc/passwd", "utf8"), passwdBefore);
  });

  test("symlinks inside the share that point outside are not followed", async () => {
    symlinkSync(outside, join(shareDir, "data", "escape-dir"));
    symlinkSync(join(outside, "secret.txt"), join(shareDir, "data", "escape.txt"));
    const got = join(dir.path, "stolen.txt");
    const r1 = await share(smbd, login(smbd), `get data/escape.txt ${got}`);
    assert.match(r1.out, /NT_STATUS_/, r1.out);
    assert.ok(!existsSync(got) || readFileSync(got, "utf8") === "", "the secret was read through the symlink");
    const r2 = await share(smbd, login(smbd), "ls data/escape-dir/*");
    assert.doesNotMatch(r2.out, /secret\.txt/);
    const local = join(dir.path, "planted.txt");
    writeFileSync(local, "planted");
    const r3 = await share(smbd, login(smbd), `put ${local} data/escape-dir/planted.txt`);
    assert.match(r3.out, /NT_STATUS_/, r3.out);
    assert.ok(!existsSync(join(outside, "planted.txt")), "a file was written through the symlink");
  });

  test("listens only on the bind address", async () => {
    const other = await smbclient(["-L", "127.0.0.2", "-p", String(smbd.port), ...login(smbd)]);
    assert.notEqual(other.code, 0);
    assert.match(other.out, /NT_STATUS_CONNECTION_REFUSED|Connection to .* failed/);
  });

  test("stop() leaves no process of this instance and frees the port", async () => {
    const before = processesMentioning(smbd.confPath).map((p) => p.pid);
    const recorded = pidFiles(stateDir);
    assert.ok(before.length >= 2, `expected smbd and samba-dcerpcd, found ${before.join(", ")}`);
    const t0 = Date.now();
    await smbd.stop();
    console.log(`# stop: ${Date.now() - t0} ms for ${before.length} processes`);
    assert.deepEqual(processesMentioning(smbd.confPath), []);
    for (const pid of [...before, ...recorded]) assert.ok(!alive(pid), `pid ${pid} still alive`);
    assert.ok(await portIsFree(smbd.port), `port ${smbd.port} still taken`);
    await smbd.stop(); // idempotent
  });

  test("a second start reuses the password; an unexpected exit is reported", async () => {
    const t0 = Date.now();
    const again = await startSmbd({ stateDir, shareDir, bind: ["127.0.0.1"], port: 0 });
    extra.push(again);
    console.log(`# second start: ready in ${Date.now() - t0} ms`);
    assert.equal(again.password, smbd.password);
    const r = await share(again, ["-U", `${smbd.user}%${smbd.password}`], "get data/x.bin /dev/null");
    assert.equal(r.code, 0, r.out);

    const exited = new Promise<NodeJS.Signals | null>((resolve) =>
      again.onUnexpectedExit((_code, signal) => resolve(signal)),
    );
    process.kill(again.pid, "SIGKILL");
    assert.equal(await exited, "SIGKILL");
    await again.stop(); // cleans up samba-dcerpcd and smbd's children left behind
    assert.deepEqual(processesMentioning(again.confPath), []);
    assert.ok(await portIsFree(again.port));
  });

  test("a start sweeps up processes left by a previous run of the same state dir", async () => {
    const first = await startSmbd({ stateDir, shareDir, bind: ["127.0.0.1"], port: 0 });
    extra.push(first);
    const oldPids = processesMentioning(first.confPath).map((p) => p.pid);
    // As if the master had died without stopping it: start again on the same state dir.
    const second = await startSmbd({ stateDir, shareDir, bind: ["127.0.0.1"], port: 0 });
    extra.push(second);
    for (const pid of oldPids) assert.ok(!alive(pid), `old pid ${pid} survived`);
    const r = await share(second, login(second), "ls data/x.bin");
    assert.equal(r.code, 0, r.out);
    await second.stop();
    assert.deepEqual(processesMentioning(second.confPath), []);
  });

  test("a taken port fails fast with smbd's reason and leaves nothing running", async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
    const address = blocker.address();
    const port = typeof address === "object" && address ? address.port : 0;
    const t0 = Date.now();
    try {
      await assert.rejects(
        startSmbd({ stateDir, shareDir, bind: ["127.0.0.1"], port, readyTimeoutMs: 15_000 }),
        (err: Error) => {
          assert.match(err.message, /did not become ready on 127\.0\.0\.1:\d+: smbd exited/);
          assert.match(err.message, /Address already in use/);
          assert.doesNotMatch(err.message, /BACKTRACE:[^\n]*\n\s+#0/);
          return true;
        },
      );
    } finally {
      blocker.close();
    }
    assert.ok(Date.now() - t0 < 10_000, `took ${Date.now() - t0} ms`);
    assert.deepEqual(processesMentioning(join(stateDir, "smb.conf")), []);
  });

  test("a given password replaces the stored one for that run; bad options are refused up front", async () => {
    await assert.rejects(
      startSmbd({ stateDir, shareDir, bind: ["127.0.0.1"], port: 0, shareName: "bad name" }),
      /invalid share name/,
    );
    await assert.rejects(startSmbd({ stateDir, shareDir: `${shareDir}%m`, bind: ["127.0.0.1"], port: 0 }), /smb\.conf/);
    await assert.rejects(startSmbd({ stateDir, shareDir, bind: ["localhost"], port: 0 }), /not an IP address/);
    await assert.rejects(
      startSmbd({ stateDir, shareDir, bind: ["127.0.0.1"], port: 0, password: "a\nb" }),
      /control characters/,
    );
    const custom = await startSmbd({
      stateDir,
      shareDir,
      bind: ["127.0.0.1"],
      port: 0,
      password: "given-password-1",
      user: "trainer",
      shareName: "jobs",
    });
    extra.push(custom);
    const ok = await share(custom, ["-U", "trainer%given-password-1"], "ls data");
    assert.equal(ok.code, 0, ok.out);
    const old = await share(custom, ["-U", `trainer%${smbd.password}`], "ls");
    assert.match(old.out, /NT_STATUS_LOGON_FAILURE/);
    await custom.stop();
    assert.deepEqual(processesMentioning(custom.confPath), []);
  });
});
