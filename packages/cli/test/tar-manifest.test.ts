// Reading RepoTags out of real `docker save` tarballs (the test engine of
// scripts/lib/test-dockerd.sh) and out of tars made by GNU tar.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { dockerTarget, saveImage } from "../src/local/docker-image.js";
import { imageTags, readTarEntry, readTarManifest } from "../src/local/tar-manifest.js";

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const TEST_IMAGE = "maro/busybox:test";
const run = randomBytes(4).toString("hex");

function testDockerHost(): string {
  const out = execFileSync("bash", [join(repoRoot, "scripts", "lib", "test-dockerd.sh"), "start"], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  });
  const host = out
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l.startsWith("unix://"))
    .pop();
  if (!host) throw new Error(`test-dockerd.sh printed no DOCKER_HOST: ${out}`);
  return host;
}

/** One Engine API call; resolves with the status code. */
function engine(host: string, method: string, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ ...dockerTarget(host), method, path }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("error", reject);
    req.end();
  });
}

describe("tar manifest", () => {
  const dir = mkdtempSync(join(tmpdir(), "maro-tar-manifest-"));
  let host = "";
  const repo = `maro/tar-manifest-${run}`;

  before(async () => {
    host = testDockerHost();
    for (const tag of ["a", "b"]) {
      const status = await engine(
        host,
        "POST",
        `/images/${encodeURIComponent(TEST_IMAGE)}/tag?repo=${encodeURIComponent(repo)}&tag=${tag}`,
      );
      assert.equal(status, 201);
    }
  });

  after(async () => {
    for (const tag of ["a", "b"])
      await engine(host, "DELETE", `/images/${encodeURIComponent(`${repo}:${tag}`)}?noprune=1`);
    rmSync(dir, { recursive: true, force: true });
  });

  it("reads RepoTags from a real docker save tarball", async () => {
    const path = join(dir, "one.tar");
    const size = await saveImage(host, TEST_IMAGE, path);
    assert.ok(size > 1024 * 1024);
    assert.deepEqual(await imageTags(path), [TEST_IMAGE]);
    const [entry] = await readTarManifest(path);
    assert.match(entry?.Config ?? "", /json$/);
    assert.ok((entry?.Layers.length ?? 0) > 0);
  });

  it("lists every tag when a repository is saved without a tag", async () => {
    const path = join(dir, "repo.tar");
    await saveImage(host, repo, path);
    assert.deepEqual((await imageTags(path)).sort(), [`${repo}:a`, `${repo}:b`]);
  });

  it("says so when the engine has no such image", async () => {
    await assert.rejects(saveImage(host, `maro/none-${run}:x`, join(dir, "none.tar")), /has no image "maro\/none-/);
  });

  it("finds entries behind long (PAX and GNU) names", async () => {
    const src = join(dir, "src");
    const long = join(src, "d".repeat(120), "e".repeat(120));
    mkdirSync(long, { recursive: true });
    writeFileSync(join(long, "file.txt"), "deep");
    writeFileSync(join(src, "manifest.json"), JSON.stringify([{ Config: "c.json", RepoTags: ["x/y:1"], Layers: [] }]));
    for (const format of ["pax", "gnu"]) {
      const path = join(dir, `${format}.tar`);
      execFileSync("tar", [`--format=${format}`, "-cf", path, "-C", src, "."]);
      assert.deepEqual(await imageTags(path), ["x/y:1"], format);
      const deep = await readTarEntry(path, (name) => name.endsWith("/file.txt"));
      assert.equal(deep?.toString(), "deep", format);
      assert.equal(await readTarEntry(path, (name) => name === "nope"), null);
    }
  });

  it("refuses files that are not tarballs or have no manifest", async () => {
    const junk = join(dir, "junk.tar");
    writeFileSync(junk, randomBytes(4096));
    await assert.rejects(imageTags(junk), /is not a tar file/);
    const bare = join(dir, "bare.tar");
    writeFileSync(join(dir, "only.txt"), "x");
    execFileSync("tar", ["-cf", bare, "-C", dir, "only.txt"]);
    await assert.rejects(imageTags(bare), /has no manifest.json/);
  });
});
