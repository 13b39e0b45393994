import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { commandOf } from "../src/runtime/docker.js";
import { demuxLogs, dockerConnection, startError } from "../src/runtime/docker-client.js";
import { argvOf } from "../src/runtime/process.js";
import { outputTail } from "../src/runtime/tail.js";

function frame(stream: 1 | 2, text: string): Buffer {
  const payload = Buffer.from(text);
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

describe("outputTail", () => {
  it("keeps the last 50 lines", () => {
    const text = Array.from({ length: 80 }, (_, i) => `l${i + 1}`).join("\n");
    const tail = outputTail(`${text}\n`);
    assert.equal(tail.split("\n")[0], "l31");
    assert.ok(tail.endsWith("l80\n"));
  });

  it("keeps at most 4 KiB, starting at a line", () => {
    const tail = outputTail(`${"x".repeat(100)}\n`.repeat(100));
    assert.ok(Buffer.byteLength(tail) <= 4096);
    assert.match(tail, /^x{100}\n/);
  });

  it("cuts one huge line without splitting a UTF-8 character", () => {
    const tail = outputTail("é".repeat(5000));
    assert.ok(Buffer.byteLength(tail) <= 4096);
    assert.ok(!tail.includes("\uFFFD"));
    assert.match(tail, /^é+$/);
  });
});

describe("docker helpers", () => {
  it("parses DOCKER_HOST values", () => {
    assert.deepEqual(dockerConnection("unix:///run/maro-test/docker.sock"), {
      socketPath: "/run/maro-test/docker.sock",
    });
    assert.deepEqual(dockerConnection("/var/run/docker.sock"), { socketPath: "/var/run/docker.sock" });
    assert.deepEqual(dockerConnection("tcp://10.0.0.5:2375"), { host: "10.0.0.5", port: 2375, protocol: "http" });
    assert.throws(() => dockerConnection("unix://relative.sock"), /unix:\/\/\/absolute/);
    assert.throws(() => dockerConnection("ssh://host"), /invalid Docker host/);
  });

  it("demultiplexes stdout and stderr frames in order", () => {
    const buf = Buffer.concat([frame(1, "out 1\n"), frame(2, "err 1\n"), frame(1, "out 2\n")]);
    assert.equal(demuxLogs(buf).toString(), "out 1\nerr 1\nout 2\n");
    assert.equal(demuxLogs(Buffer.from("plain tty output\n")).toString(), "plain tty output\n");
  });

  it("maps socket errors to RUNTIME_UNAVAILABLE naming the host", () => {
    const err = Object.assign(new Error("connect ENOENT /x.sock"), { code: "ENOENT" });
    const mapped = startError(err, "img", "c1", "unix:///x.sock");
    assert.equal(mapped.code, "RUNTIME_UNAVAILABLE");
    assert.match(mapped.message, /unix:\/\/\/x\.sock/);
  });

  it("builds commands: shell, argv, or the image default", () => {
    assert.deepEqual(commandOf({ command: ["echo hi && exit 3"], shell: true }), ["sh", "-c", "echo hi && exit 3"]);
    assert.deepEqual(commandOf({ command: ["python", "train.py"], shell: false }), ["python", "train.py"]);
    assert.equal(commandOf({ command: [], shell: false }), undefined);
    assert.equal(commandOf({ command: [" "], shell: true }), undefined);
    assert.deepEqual(argvOf({ command: ["echo hi"], shell: true }), ["/bin/sh", "-c", "echo hi"]);
    assert.deepEqual(argvOf({ command: [], shell: true }), []);
  });
});
