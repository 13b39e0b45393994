// ImageLoader against the real test engine (scripts/lib/test-dockerd.sh).

import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { after, afterEach, before, describe, it } from "node:test";
import Dockerode from "dockerode";
import { ImageLoader, type ImageStatusReport, PUSHED_MARKER_REPO } from "../src/images/loader.js";
import { dockerConnection } from "../src/runtime/docker-client.js";
import { TEST_IMAGE, testDockerHost } from "./support/docker-host.js";
import { isRuntimeError } from "./support/launch.js";

const run = randomBytes(4).toString("hex");

describe("ImageLoader (real dockerd)", () => {
  let host = "";
  let docker: Dockerode;
  let dir = "";
  /** Every tag a test made (or made the loader make, markers included), untagged afterwards. */
  const made = new Set<string>();

  async function has(ref: string): Promise<boolean> {
    try {
      await docker.getImage(ref).inspect();
      return true;
    } catch {
      return false;
    }
  }

  async function untag(ref: string): Promise<void> {
    await docker
      .getImage(ref)
      .remove({ noprune: true })
      .catch(() => {});
  }

  /** A `docker save` tarball of TEST_IMAGE tagged `ref`, with the tag gone from the engine again. */
  async function tarballOf(ref: string): Promise<{ path: string; sha256: string }> {
    const colon = ref.lastIndexOf(":");
    made.add(ref);
    await docker.getImage(TEST_IMAGE).tag({ repo: ref.slice(0, colon), tag: ref.slice(colon + 1) });
    const path = join(dir, `${ref.replace(/[/:]/g, "_")}.tar`);
    await pipeline(await docker.getImage(ref).get(), createWriteStream(path));
    await untag(ref);
    assert.equal(await has(ref), false);
    const sha256 = createHash("sha256")
      .update(await readFile(path))
      .digest("hex");
    return { path, sha256 };
  }

  /** A fetch that reads files by sha256 and counts its calls. */
  function fileFetch(files: Record<string, string>) {
    const calls: string[] = [];
    const fetch = async function* (sha256: string): AsyncGenerator<Buffer> {
      calls.push(sha256);
      const path = files[sha256];
      if (path === undefined) throw new Error(`image ${sha256} is not stored on the master`);
      for await (const chunk of createReadStream(path, { highWaterMark: 64 * 1024 })) yield chunk as Buffer;
    };
    return { fetch, calls };
  }

  function loader(fetch: (sha256: string) => AsyncIterable<Buffer>) {
    const statuses: ImageStatusReport[] = [];
    const l = new ImageLoader({
      dockerHost: host,
      fetch,
      onStatus: (s) => {
        statuses.push(s);
        made.add(`${PUSHED_MARKER_REPO}:${s.sha256}`);
      },
    });
    return { loader: l, statuses };
  }

  before(async () => {
    host = testDockerHost();
    docker = new Dockerode(dockerConnection(host));
    dir = await mkdtemp(join(tmpdir(), "maro-loader-"));
  });

  afterEach(async () => {
    // Marker tags land on TEST_IMAGE's id too (every test tarball is that image).
    for (const ref of made) await untag(ref);
    made.clear();
    assert.ok(await has(TEST_IMAGE), "the test image survives");
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("loads a pushed tarball the engine does not have, then reports it present", async () => {
    const name = `maro/loader-test:${run}-a`;
    const tar = await tarballOf(name);
    const { fetch, calls } = fileFetch({ [tar.sha256]: tar.path });
    const { loader: l, statuses } = loader(fetch);
    await l.ensure(name, tar.sha256);
    assert.ok(await has(name), "the engine has the image");
    assert.ok(await has(`${PUSHED_MARKER_REPO}:${tar.sha256}`), "the marker tag is set");
    assert.deepEqual(calls, [tar.sha256]);
    assert.equal(statuses.length, 1);
    assert.deepEqual({ ...statuses[0], message: "" }, { name, sha256: tar.sha256, present: true, message: "" });
    assert.match(statuses[0]?.message ?? "", /loaded from the pushed tarball/);

    // Present now: no second fetch.
    await l.ensure(name, tar.sha256);
    assert.equal(calls.length, 1);
    assert.equal(statuses[1]?.present, true);
    assert.match(statuses[1]?.message ?? "", /already on this node/);

    // The same name pushed again with other content (another sha256) is loaded again.
    const other = "f".repeat(64);
    const again = fileFetch({ [other]: tar.path });
    const second = loader(again.fetch);
    await second.loader.ensure(name, other);
    assert.deepEqual(again.calls, [other]);
    assert.ok(await has(`${PUSHED_MARKER_REPO}:${other}`));
  });

  it("does not fetch an image the engine already has", async () => {
    const { fetch, calls } = fileFetch({});
    const { loader: l, statuses } = loader(fetch);
    const sha256 = "a".repeat(64);
    await l.ensure(TEST_IMAGE, sha256);
    assert.deepEqual(calls, []);
    assert.deepEqual(statuses, [{ name: TEST_IMAGE, sha256, present: true, message: "already on this node" }]);
  });

  it("shares one load between concurrent ensure() calls for the same tarball", async () => {
    const name = `maro/loader-test:${run}-b`;
    const tar = await tarballOf(name);
    const { fetch, calls } = fileFetch({ [tar.sha256]: tar.path });
    const { loader: l, statuses } = loader(fetch);
    await Promise.all([l.ensure(name, tar.sha256), l.ensure(name, tar.sha256), l.ensure(name, tar.sha256)]);
    assert.deepEqual(calls, [tar.sha256]);
    assert.ok(await has(name));
    assert.ok(statuses.every((s) => s.present));
  });

  it("tags the tarball's only image with the requested name when the tar has another tag", async () => {
    const tar = await tarballOf(`maro/loader-test:${run}-c`);
    const name = `maro/renamed-${run}:v1`;
    made.add(name);
    const { fetch } = fileFetch({ [tar.sha256]: tar.path });
    const { loader: l } = loader(fetch);
    await l.ensure(name, tar.sha256);
    assert.ok(await has(name));
  });

  it("fails with a clear RuntimeError on a corrupt tarball", async () => {
    const path = join(dir, "corrupt.tar");
    await writeFile(path, randomBytes(5000));
    const sha256 = createHash("sha256")
      .update(await readFile(path))
      .digest("hex");
    const name = `maro/loader-test:${run}-corrupt`;
    const { fetch } = fileFetch({ [sha256]: path });
    const { loader: l, statuses } = loader(fetch);
    await assert.rejects(
      l.ensure(name, sha256),
      isRuntimeError(
        "START_FAILED",
        /image "maro\/loader-test:[^"]+-corrupt" \(sha256:[0-9a-f]{12}\) could not be loaded: docker load: .*tar/,
      ),
    );
    assert.equal(statuses.length, 1);
    assert.equal(statuses[0]?.present, false);
    assert.match(statuses[0]?.message ?? "", /could not be loaded/);
  });

  it("fails with the master's reason when fetching breaks off", async () => {
    const name = `maro/loader-test:${run}-broken`;
    const tar = await tarballOf(name);
    const fetch = async function* (): AsyncGenerator<Buffer> {
      let sent = 0;
      for await (const chunk of createReadStream(tar.path, { highWaterMark: 64 * 1024 })) {
        yield chunk as Buffer;
        sent += (chunk as Buffer).length;
        if (sent > 200 * 1024) throw new Error("connection to the master lost");
      }
    };
    const { loader: l } = loader(fetch);
    await assert.rejects(
      l.ensure(name, tar.sha256),
      isRuntimeError("START_FAILED", /fetching it from the master failed: connection to the master lost/),
    );
    assert.equal(await has(name), false);
  });

  it("reports an engine it cannot reach", async () => {
    const l = new ImageLoader({ dockerHost: join(dir, "no-such.sock"), fetch: fileFetch({}).fetch });
    await assert.rejects(
      l.ensure("x:1", "a".repeat(64)),
      isRuntimeError("RUNTIME_UNAVAILABLE", /cannot reach the Docker engine/),
    );
  });
});
