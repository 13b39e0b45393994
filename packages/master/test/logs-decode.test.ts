import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { gzipSync } from "node:zlib";
import fc from "fast-check";
import { Packr } from "msgpackr";
import { decodeForward, EventTime, ForwardProtocolError, toLogEvent } from "../src/logs/index.js";
import { decodeValue } from "../src/logs/msgpack-codec.js";
import { MsgpackFramer } from "../src/logs/msgpack-framer.js";

const packr = new Packr({ useRecords: false });
const pack = (v: unknown) => Buffer.from(packr.pack(v));

describe("Forward decoding", () => {
  test("each mode decodes; bad shapes are ForwardProtocolErrors", () => {
    const m = decodeForward(["t", 10, { log: "x" }, { chunk: "a" }]);
    assert.deepEqual([m.mode, m.entries[0]?.timeNs, m.option], ["Message", 10e9, { chunk: "a" }]);
    const f = decodeForward([
      "t",
      [
        [1, { a: 1 }],
        [new EventTime(2, 5), { b: 2 }],
      ],
    ]);
    assert.deepEqual([f.mode, f.entries.map((e) => e.timeNs)], ["Forward", [1e9, 2_000_000_005n]]);
    const p = decodeForward(["t", Buffer.concat([pack([3, { c: 3 }]), pack([4, { d: 4 }])])]);
    assert.deepEqual([p.mode, p.entries.length], ["PackedForward", 2]);
    const c = decodeForward(["t", gzipSync(pack([5, { e: 5 }])), { compressed: "gzip" }]);
    assert.deepEqual([c.mode, c.entries[0]?.record], ["CompressedPackedForward", { e: 5 }]);
    for (const bad of [
      null,
      "x",
      [],
      ["t"],
      [1, 2, {}],
      ["t", 1],
      ["t", 1, 2],
      ["t", "bad", {}],
      ["t", [[1]]],
      ["t", [], 5],
      ["t", -1, {}],
      ["t", 1e20, {}],
      ["t", 1, {}, { chunk: 7 }],
      ["t", 1, {}, { compressed: "zstd" }],
    ])
      assert.throws(() => decodeForward(bad), ForwardProtocolError, JSON.stringify(bad));
  });

  test("framing and decoding never crash on arbitrary bytes, and split points do not matter", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const framer = new MsgpackFramer(1024);
        try {
          for (const v of framer.push(Buffer.from(bytes))) decodeForward(decodeValue(v), { raw: v });
        } catch (err) {
          if (!(err instanceof ForwardProtocolError)) throw err;
        }
      }),
      { numRuns: 3000 },
    );
    const stream = Buffer.concat([
      pack(["a", 1, { log: "x" }]),
      pack(["b", [[1, { y: [1, 2, { z: "deep" }] }]]]),
      pack(["c", Buffer.alloc(70_000, 1)]),
      pack({ m: new Array(20).fill("q") }),
    ]);
    const whole = new MsgpackFramer(1 << 20).push(stream).map((v) => v.toString("hex"));
    assert.equal(whole.length, 4);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: stream.length - 1 }), { maxLength: 12 }), (cuts) => {
        const points = [0, ...[...new Set(cuts)].sort((a, b) => a - b), stream.length];
        const framer = new MsgpackFramer(1 << 20);
        const got: string[] = [];
        for (let i = 1; i < points.length; i++)
          for (const v of framer.push(stream.subarray(points[i - 1], points[i]))) got.push(v.toString("hex"));
        assert.deepEqual(got, whole);
      }),
      { numRuns: 300 },
    );
  });
});

describe("Records to LogEvents", () => {
  test("Docker's records, partial pieces and generic records", () => {
    const docker = toLogEvent(
      {
        container_id: "abc",
        container_name: "/clu-job-a-0",
        source: "stderr",
        log: "x".repeat(16384),
        partial_message: "true",
        partial_id: "p1",
        partial_ordinal: "1",
        partial_last: "false",
      },
      1714557600e9,
      0,
    );
    assert.deepEqual(
      { ...docker, line: docker.line.length },
      {
        timeMs: 1714557600000,
        stream: "stderr",
        line: 16384,
        container: "clu-job-a-0",
        partial: { id: "p1", last: false },
      },
    );
    assert.deepEqual(toLogEvent({ message: "m\n", stream: "stdout" }, new EventTime(1, 5e8).toNs(), 0), {
      timeMs: 1500,
      stream: "stdout",
      line: "m",
      container: "",
    });
    assert.equal(toLogEvent({ log: Buffer.from("bytes") }, 0, 42).line, "bytes");
    assert.equal(toLogEvent({ log: "t" }, 0, 42).timeMs, 42, "no time: the receive time");
    assert.equal(toLogEvent({ a: 1, b: [true] }, 1e9, 0).line, '{"a":1,"b":[true]}', "kept whole as JSON");
  });
});
