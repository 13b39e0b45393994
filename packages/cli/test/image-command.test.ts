// `maro grass image push|list` against a stand-in master (real gRPC over TLS)
// that checks the FileChunk stream: header, 1 MiB data chunks, end (sha256).

import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { Server, ServerCredentials, status } from "@grpc/grpc-js";
import { type FileChunkOut, type ImageInfo, loadMaroProto, type MasterHandlers } from "@maro/proto";
import { makeTestPki } from "../../../test/support/pki.js";
import { EXIT } from "../src/errors.js";
import { RECORD_FILES } from "../src/home.js";

const CLUSTER = "imgtest";

/** A minimal ustar archive holding manifest.json with these RepoTags, then filler. */
function fakeDockerSave(tags: string[], filler: number): Buffer {
  const entry = (name: string, data: Buffer) => {
    const header = Buffer.alloc(512);
    header.write(name, 0);
    header.write("0000644\0", 100);
    header.write("0000000\0", 108);
    header.write("0000000\0", 116);
    header.write(`${data.length.toString(8).padStart(11, "0")}\0`, 124);
    header.write("00000000000\0", 136);
    header.write("0", 156);
    header.write("ustar\0", 257);
    header.write("00", 263);
    header.fill(0x20, 148, 156);
    let sum = 0;
    for (const b of header) sum += b;
    header.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148);
    const pad = Buffer.alloc((512 - (data.length % 512)) % 512);
    return Buffer.concat([header, data, pad]);
  };
  const manifest = Buffer.from(JSON.stringify([{ Config: "c.json", RepoTags: tags, Layers: ["l/layer.tar"] }]));
  return Buffer.concat([
    entry("l/layer.tar", randomBytes(filler)),
    entry("manifest.json", manifest),
    Buffer.alloc(1024),
  ]);
}

describe("maro grass image push|list", () => {
  const home = mkdtempSync(join(tmpdir(), "maro-image-cmd-"));
  const driver = join(dirname(fileURLToPath(import.meta.url)), "support", "image-cli.ts");
  const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
  let server: Server;
  /** What the stand-in master received per push. */
  const pushes: { chunks: FileChunkOut[]; info?: ImageInfo }[] = [];
  let refuse = false;

  function maro(
    args: string[],
    env: NodeJS.ProcessEnv = {},
  ): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ["--import", "tsx", driver, ...args], {
        env: { ...process.env, MARO_HOME: home, ...env },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (c: Buffer) => {
        stdout += c.toString();
      });
      child.stderr.on("data", (c: Buffer) => {
        stderr += c.toString();
      });
      child.on("error", reject);
      child.on("close", (code) => resolve({ code, stdout, stderr }));
    });
  }

  before(async () => {
    const clusterDir = join(home, "clusters", CLUSTER);
    const pki = await makeTestPki(clusterDir, CLUSTER);
    writeFileSync(join(clusterDir, RECORD_FILES.adminCert), pki.admin.certPem);
    writeFileSync(join(clusterDir, RECORD_FILES.adminKey), pki.admin.keyPem);

    const handlers: Pick<MasterHandlers, "ImagePush" | "ImageList"> = {
      ImagePush: (call, callback) => {
        const push: (typeof pushes)[number] = { chunks: [] };
        pushes.push(push);
        call.on("data", (c: FileChunkOut) => {
          push.chunks.push(c);
          if (refuse && push.chunks.length === 2)
            callback({ code: status.INVALID_ARGUMENT, details: "image x: refused for the test" });
        });
        call.on("end", () => {
          if (refuse) return;
          const header = push.chunks[0]?.header;
          const end = push.chunks.at(-1)?.end;
          push.info = {
            name: header?.path ?? "",
            sha256: end?.sha256 ?? "",
            size: header?.size ?? 0,
            pushedAtMs: Date.now(),
            nodes: [],
          };
          callback(null, push.info);
        });
      },
      ImageList: (_call, callback) =>
        callback(null, {
          images: [
            {
              name: "maro/a:1",
              sha256: "0123456789abcdef".repeat(4),
              size: 3 * 1024 * 1024,
              pushedAtMs: Date.now(),
              nodes: ["n1", "n2"],
            },
            { name: "maro/b:latest", sha256: "f".repeat(64), size: 100, pushedAtMs: Date.now(), nodes: [] },
          ],
        }),
    };
    server = new Server();
    server.addService(loadMaroProto().maro.v1.Master.service, handlers as MasterHandlers);
    const creds = ServerCredentials.createSsl(
      Buffer.from(pki.ca.certPem),
      [
        {
          private_key: readFileSync(join(pki.tlsDir, "server.key")),
          cert_chain: readFileSync(join(pki.tlsDir, "server.crt")),
        },
      ],
      true,
    );
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync("127.0.0.1:0", creds, (e, p) => (e ? reject(e) : resolve(p))),
    );
    mkdirSync(clusterDir, { recursive: true });
    writeFileSync(
      join(clusterDir, "cluster.json"),
      JSON.stringify({
        name: CLUSTER,
        mode: "grass/local",
        runtime: "docker",
        createdAt: new Date().toISOString(),
        masterAddress: `127.0.0.1:${port}`,
        dir: clusterDir,
        pids: { master: 0, redis: null, agents: {} },
      }),
    );
  });

  after(() => {
    server.forceShutdown();
    rmSync(home, { recursive: true, force: true });
  });

  it("pushes a tarball as header, 1 MiB data chunks and end, named by its one RepoTag", async () => {
    const tar = fakeDockerSave(["maro/app:v1"], 2.5 * 1024 * 1024);
    const path = join(home, "app.tar");
    writeFileSync(path, tar);
    const { code, stdout, stderr } = await maro(["image", "push", CLUSTER, "--image-path", path]);
    assert.equal(code, 0, stderr);
    const push = pushes.at(-1);
    assert.ok(push?.info);
    const [header, ...rest] = push.chunks;
    assert.deepEqual(header?.header, { path: "maro/app:v1", size: tar.length, mode: 0o644 });
    const data = rest.filter((c) => c.body === "data").map((c) => c.data ?? Buffer.alloc(0));
    assert.deepEqual(
      data.map((d) => d.length),
      [1024 * 1024, 1024 * 1024, tar.length - 2 * 1024 * 1024],
    );
    assert.ok(Buffer.concat(data).equals(tar));
    assert.equal(rest.at(-1)?.end?.sha256, createHash("sha256").update(tar).digest("hex"));
    assert.match(stdout, /^image maro\/app:v1 pushed \(sha256:[0-9a-f]{12}, 2\.5 MiB\)\n$/);
    // Not a TTY: a line per 10% step reached, ending at 100%.
    assert.match(stderr, /push maro\/app:v1: +\d+% \(/);
    assert.match(stderr, /100% \(2\.5 MiB of 2\.5 MiB, [\d.]+ MiB\/s\)\n$/);
  });

  it("lets --image-name name a tarball, and prints json with -o json", async () => {
    const path = join(home, "two.tar");
    writeFileSync(path, fakeDockerSave(["a:1", "b:2"], 1000));
    const { stdout } = await maro([
      "image",
      "push",
      CLUSTER,
      "--image-path",
      path,
      "--image-name",
      "maro/chosen",
      "-o",
      "json",
    ]);
    assert.equal((JSON.parse(stdout) as ImageInfo).name, "maro/chosen:latest");
  });

  it("with --image-name alone, sends the local engine's `docker save` of the image", async () => {
    const out = execFileSync("bash", [join(repoRoot, "scripts", "lib", "test-dockerd.sh"), "start"], {
      encoding: "utf8",
    });
    const dockerHost =
      out
        .split("\n")
        .find((l) => l.startsWith("unix://"))
        ?.trim() ?? "";
    const spool = join(home, "tmp");
    mkdirSync(spool);
    const res = await maro(["image", "push", CLUSTER, "--image-name", "maro/busybox:test"], {
      DOCKER_HOST: dockerHost,
      TMPDIR: spool,
    });
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stderr, /saving maro\/busybox:test from the Docker engine at unix:\/\//);
    const push = pushes.at(-1);
    assert.equal(push?.chunks[0]?.header?.path, "maro/busybox:test");
    const tar = Buffer.concat(
      push?.chunks.filter((c) => c.body === "data").map((c) => c.data ?? Buffer.alloc(0)) ?? [],
    );
    assert.equal(tar.length, push?.chunks[0]?.header?.size);
    assert.ok(tar.includes(Buffer.from('"RepoTags":["maro/busybox:test"]')), "a docker save tarball");
    assert.deepEqual(
      readdirSync(spool).filter((n) => n.startsWith("maro-image-")),
      [],
      "the saved tarball is removed",
    );

    const missing = await maro(["image", "push", CLUSTER, "--image-name", "maro/not-here:1"], {
      DOCKER_HOST: dockerHost,
    });
    assert.equal(missing.code, EXIT.FAILED);
    assert.match(missing.stderr, /has no image "maro\/not-here:1"/);
  });

  it("refuses bad usage before sending anything", async () => {
    const before = pushes.length;
    const usage = async (args: string[], pattern: RegExp) => {
      const res = await maro(["image", "push", CLUSTER, ...args]);
      assert.equal(res.code, EXIT.USAGE, res.stderr);
      assert.match(res.stderr, pattern);
    };
    await usage([], /--image-name NAME or --image-path/);
    await usage(["--image-name", "Bad Name"], /not an image name/);
    const several = join(home, "several.tar");
    writeFileSync(several, fakeDockerSave(["a:1", "b:2"], 10));
    await usage(["--image-path", several], /several image tags \(a:1, b:2\): choose one with --image-name/);
    const none = join(home, "none.tar");
    writeFileSync(none, fakeDockerSave([], 10));
    await usage(["--image-path", none], /has no image tag/);
    const junk = join(home, "junk.tar");
    writeFileSync(junk, randomBytes(2048));
    await usage(["--image-path", junk], /not a tar file/);
    await usage(["--image-path", join(home, "missing.tar")], /not a readable file/);
    assert.equal(pushes.length, before);
  });

  it("reports the master's refusal with its reason", async () => {
    const path = join(home, "refused.tar");
    writeFileSync(path, fakeDockerSave(["maro/refused:1"], 3 * 1024 * 1024));
    refuse = true;
    try {
      const res = await maro(["image", "push", CLUSTER, "--image-path", path]);
      assert.equal(res.code, EXIT.FAILED);
      assert.match(res.stderr, /maro: image x: refused for the test/);
    } finally {
      refuse = false;
    }
  });

  it("lists images as a table and as json", async () => {
    const { stdout } = await maro(["image", "list", CLUSTER]);
    const lines = stdout.trimEnd().split("\n");
    assert.match(lines[0] ?? "", /^NAME +SHA256 +SIZE +PUSHED +NODES$/);
    assert.match(lines[1] ?? "", /^maro\/a:1 +0123456789ab +3\.0 MiB +\d+s ago +n1,n2$/);
    assert.match(lines[2] ?? "", /^maro\/b:latest +ffffffffffff +100 B +\d+s ago +-$/);
    const json = await maro(["image", "list", CLUSTER, "-o", "json"]);
    assert.equal((JSON.parse(json.stdout) as ImageInfo[]).length, 2);
  });
});
