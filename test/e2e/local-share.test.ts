import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { after, before, describe, test } from "node:test";
import { json, maro } from "../support/cli.js";
import { pidAlive } from "../support/cluster-files.js";
import { tempDir } from "../support/tmp.js";

/** path → sha256 of every regular file under dir. */
function treeDigest(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out[relative(dir, p)] = createHash("sha256").update(readFileSync(p)).digest("hex");
    }
  };
  walk(dir);
  return out;
}

describe("a local cluster's shared data: data push/pull/ls and the SMB share", () => {
  const home = tempDir("e2e-share");
  let record: { dir: string; pids: { smbd: number } };
  let smbPort = 0;

  before(async () => {
    const deployment = join(home.path, "deployment.yml");
    writeFileSync(deployment, "mode: grass/local\nname: files\nruntime: process\nnodes: 1\n");
    const created = await maro(home.path, ["grass", "create", deployment]);
    assert.equal(created.code, 0, created.stderr);
    record = JSON.parse(readFileSync(join(home.path, "clusters", "files", "cluster.json"), "utf8"));
    smbPort = JSON.parse(readFileSync(join(record.dir, "master", "master.json"), "utf8")).smbPort;
  });

  after(async () => {
    if (existsSync(join(home.path, "clusters", "files"))) await maro(home.path, ["grass", "delete", "files"]);
    home.remove();
  });

  test("data push then data pull round-trips a directory tree byte for byte", async () => {
    const src = join(home.path, "src");
    mkdirSync(join(src, "a", "b"), { recursive: true });
    writeFileSync(join(src, "top.txt"), "hello\n");
    writeFileSync(join(src, "a", "empty"), "");
    writeFileSync(join(src, "a", "b", "big.bin"), randomBytes(3 * 1024 * 1024 + 17));
    const pushed = await maro(home.path, ["grass", "data", "push", "files", src, "exp1", "-o", "json"]);
    assert.equal(pushed.code, 0, pushed.stderr);
    assert.deepEqual(json(pushed), { files: 3, bytes: 3 * 1024 * 1024 + 17 + 6 });
    const listed = json<{ path: string; directory: boolean }[]>(
      await maro(home.path, ["grass", "data", "ls", "files", "exp1", "-o", "json"]),
    );
    assert.deepEqual(
      listed.map((e) => [e.path, e.directory]),
      [
        ["exp1/a", true],
        ["exp1/top.txt", false],
      ],
    );
    const dest = join(home.path, "dest");
    const pulled = await maro(home.path, ["grass", "data", "pull", "files", "exp1", dest]);
    assert.equal(pulled.code, 0, pulled.stderr);
    assert.deepEqual(treeDigest(dest), treeDigest(src));
  });

  test("paths that leave the shared directory are refused", async () => {
    const file = join(home.path, "x.txt");
    writeFileSync(file, "x");
    for (const remote of ["../escape.txt", "a/../../escape.txt", "/etc/passwd"]) {
      const res = await maro(home.path, ["grass", "data", "push", "files", file, remote]);
      assert.notEqual(res.code, 0, `push to ${remote} is refused`);
      assert.match(res.stderr, /path/);
    }
    assert.equal(existsSync(join(record.dir, "master", "shared", "escape.txt")), false);
    const pull = await maro(home.path, ["grass", "data", "pull", "files", "../master.json", join(home.path, "out")]);
    assert.notEqual(pull.code, 0);
    const ls = await maro(home.path, ["grass", "data", "ls", "files", "../.."]);
    assert.notEqual(ls.code, 0);
  });

  test("the cluster's smbd serves the share to its generated user and refuses others", () => {
    assert.ok(smbPort > 0 && pidAlive(record.pids.smbd), "smbd runs");
    const password = readFileSync(join(record.dir, "master", "smb", "smb.password"), "utf8").trim();
    const authFile = join(home.path, "smb.auth");
    writeFileSync(authFile, `username = maro\npassword = ${password}\n`, { mode: 0o600 });
    const local = join(home.path, "via-smb.bin");
    writeFileSync(local, randomBytes(100_000));
    const smb = (args: string[], auth: string[]) =>
      spawnSync("smbclient", ["//127.0.0.1/maro", "-p", String(smbPort), ...auth, "-c", ...args], { encoding: "utf8" });
    const put = smb([`put ${local} data/via-smb.bin; ls data/*`], ["-A", authFile]);
    assert.equal(put.status, 0, put.stderr + put.stdout);
    assert.match(put.stdout, /via-smb\.bin/);
    assert.deepEqual(
      readFileSync(join(record.dir, "master", "shared", "data", "via-smb.bin")),
      readFileSync(local),
      "the file landed in the shared data directory",
    );
    const back = join(home.path, "back.bin");
    const get = smb([`get data/via-smb.bin ${back}`], ["-A", authFile]);
    assert.equal(get.status, 0, get.stderr);
    assert.deepEqual(readFileSync(back), readFileSync(local));
    const wrong = smb(["ls"], ["-U", "maro%not-the-password"]);
    assert.notEqual(wrong.status, 0);
    assert.match(wrong.stdout + wrong.stderr, /NT_STATUS_LOGON_FAILURE/);
    assert.equal(statSync(join(record.dir, "master", "smb", "smb.password")).mode & 0o777, 0o600);
  });

  test("delete stops smbd too", async () => {
    const res = await maro(home.path, ["grass", "delete", "files"]);
    assert.equal(res.code, 0, res.stderr);
    assert.equal(pidAlive(record.pids.smbd), false);
    const probe = spawnSync("smbclient", ["-L", "127.0.0.1", "-p", String(smbPort), "-N"], { encoding: "utf8" });
    assert.notEqual(probe.status, 0, "nothing answers on the SMB port");
  });
});
