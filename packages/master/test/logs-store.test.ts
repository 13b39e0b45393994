import assert from "node:assert/strict";
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { tempDir } from "../../../test/support/tmp.js";
import {
  CAUGHT_UP,
  type LogEvent,
  LogRejectedError,
  LogStore,
  parseTag,
  type StoredLine,
  storeEvents,
} from "../src/logs/index.js";

const T0 = Date.parse("2024-05-01T10:00:00.000Z");

function ev(line: string, timeMs = T0, extra: Partial<LogEvent> = {}): LogEvent {
  return { timeMs, stream: "stdout", line, container: "", ...extra };
}

async function all<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

const lines = (ls: StoredLine[]) => ls.map((l) => l.line);

describe("LogStore", () => {
  const dir = tempDir("logs-store");
  after(() => dir.remove());
  let n = 0;
  const fresh = (opts: Partial<ConstructorParameters<typeof LogStore>[0]> = {}) => {
    const root = join(dir.path, `s${n++}`);
    return { root, store: new LogStore({ dir: root, ...opts }) };
  };

  test("appends JSON lines per container and reads them merged by time", async () => {
    const { root, store } = fresh();
    await store.append("job1", "a", [ev("a1", T0 + 10), ev("a2", T0 + 30, { stream: "stderr" })]);
    await store.append("job1", "b", [ev("b1", T0 + 20), ev('b2 "quoted"\ttab', T0 + 40)]);
    const text = readFileSync(join(root, "job1", "a.log"), "utf8");
    assert.equal(
      text,
      '{"time":"2024-05-01T10:00:00.010Z","stream":"stdout","line":"a1"}\n' +
        '{"time":"2024-05-01T10:00:00.030Z","stream":"stderr","line":"a2"}\n',
    );
    const read = await all(store.read("job1"));
    assert.deepEqual(lines(read), ["a1", "b1", "a2", 'b2 "quoted"\ttab']);
    assert.deepEqual(
      read.map((l) => [l.container, l.stream, l.time]),
      [
        ["a", "stdout", "2024-05-01T10:00:00.010Z"],
        ["b", "stdout", "2024-05-01T10:00:00.020Z"],
        ["a", "stderr", "2024-05-01T10:00:00.030Z"],
        ["b", "stdout", "2024-05-01T10:00:00.040Z"],
      ],
    );
    assert.deepEqual(await all(store.read("nojob")), []);
    await store.close();
  });

  test("read filters by container, since and tail", async () => {
    const { store } = fresh();
    for (let i = 0; i < 50; i++) await store.append("j", i % 2 ? "odd" : "even", [ev(`l${i}`, T0 + i * 1000)]);
    assert.deepEqual(lines(await all(store.read("j", { container: "odd", tail: 3 }))), ["l45", "l47", "l49"]);
    assert.deepEqual(lines(await all(store.read("j", { tail: 4 }))), ["l46", "l47", "l48", "l49"]);
    assert.deepEqual(lines(await all(store.read("j", { sinceMs: T0 + 47_000 }))), ["l47", "l48", "l49"]);
    assert.deepEqual(lines(await all(store.read("j", { sinceMs: T0 + 40_000, tail: 2, container: "even" }))), [
      "l46",
      "l48",
    ]);
    assert.equal((await all(store.read("j", { container: "even" }))).length, 25);
    assert.deepEqual(await all(store.read("j", { tail: 0 })), []);
    await store.close();
  });

  test("joins lines Docker split (partial_*), and keeps waiting pieces across a restart", async () => {
    const { root, store } = fresh();
    const big = "x".repeat(16384);
    await store.append("j", "c", [
      ev(big, T0, { partial: { id: "p1", last: false } }),
      ev("short", T0 + 1),
      ev(big, T0 + 2, { partial: { id: "p1", last: false } }),
    ]);
    assert.ok(existsSync(join(root, "j", ".c.partial")), "waiting pieces are journaled");
    await store.close();
    const again = new LogStore({ dir: root });
    await again.append("j", "c", [ev("tail", T0 + 3, { partial: { id: "p1", last: true } })]);
    const read = await all(again.read("j"));
    assert.deepEqual(
      read.map((l) => l.line.length),
      [5, 16384 * 2 + 4],
    );
    assert.equal(read[1]?.line, `${big}${big}tail`);
    assert.equal(read[1]?.timeMs, T0, "a joined line has its first piece's time");
    assert.ok(!existsSync(join(root, "j", ".c.partial")), "journal removed once nothing waits");
    await again.close();
  });

  test("rotates by size to .log.1, .log.2 … and reads across rotated files in order", async () => {
    const { root, store } = fresh({ maxFileBytes: 1000 });
    for (let i = 0; i < 60; i++) await store.append("j", "c", [ev(`line-${String(i).padStart(3, "0")}`, T0 + i)]);
    const files = readdirSync(join(root, "j")).sort();
    assert.ok(files.includes("c.log") && files.includes("c.log.1") && files.includes("c.log.2"), files.join(","));
    for (const f of files) assert.ok(statSync(join(root, "j", f)).size <= 1000, `${f} within maxFileBytes`);
    const read = await all(store.read("j"));
    assert.deepEqual(
      lines(read),
      Array.from({ length: 60 }, (_, i) => `line-${String(i).padStart(3, "0")}`),
    );
    assert.deepEqual(lines(await all(store.read("j", { tail: 2 }))), ["line-058", "line-059"]);
    await store.close();
  });

  test("keeps the total under maxTotalBytes by deleting the oldest rotated files", async () => {
    let clock = T0;
    const { root, store } = fresh({ maxFileBytes: 1000, maxTotalBytes: 5000, now: () => clock++ });
    for (let i = 0; i < 300; i++) {
      await store.append("j", i % 2 ? "a" : "b", [ev(`line-${i}-${"y".repeat(40)}`, T0 + i)]);
    }
    let total = 0;
    for (const f of readdirSync(join(root, "j"))) total += statSync(join(root, "j", f)).size;
    assert.ok(total <= 5000, `total ${total} <= 5000`);
    assert.equal(store.stats().totalBytes, total);
    const read = await all(store.read("j"));
    assert.ok(read.length < 300 && read.length > 40, `kept the newest ${read.length} lines`);
    assert.equal(read.at(-1)?.line.startsWith("line-299-"), true);
    // A restarted store accounts the files already there.
    await store.close();
    const again = new LogStore({ dir: root, maxFileBytes: 1000, maxTotalBytes: 5000 });
    assert.equal(again.stats().totalBytes, total);
  });

  test("follow yields the stored lines, then new ones as they are appended, until aborted", async () => {
    const { store } = fresh();
    await store.append("j", "a", [ev("old-1", T0), ev("old-2", T0 + 1)]);
    await store.append("other", "a", [ev("not mine", T0)]);
    const stop = new AbortController();
    const seen: (StoredLine | string)[] = [];
    let caughtUp!: () => void;
    const ready = new Promise<void>((r) => {
      caughtUp = r;
    });
    const done = (async () => {
      for await (const item of store.follow("j", {}, stop.signal)) {
        seen.push(item);
        if (item === CAUGHT_UP) caughtUp();
        if (typeof item !== "string" && item.line === "new-3") stop.abort();
      }
    })();
    await ready;
    await store.append("j", "b", [ev("new-1", T0 + 5)]);
    await store.append("other", "a", [ev("still not mine", T0 + 5)]);
    await store.append("j", "a", [ev("new-2", T0 + 6), ev("new-3", T0 + 7)]);
    await done;
    assert.deepEqual(
      seen.map((x) => (typeof x === "string" ? x : `${x.container}:${x.line}`)),
      ["a:old-1", "a:old-2", CAUGHT_UP, "b:new-1", "a:new-2", "a:new-3"],
    );
    await store.close();
  });

  test("follow neither misses nor repeats lines appended while it starts", async () => {
    const { store } = fresh({ maxFileBytes: 2000 });
    const expected = Array.from({ length: 400 }, (_, k) => `n${k}`);
    const writing = (async () => {
      for (let i = 0; i < 400; i++) {
        if (i % 5 === 0) {
          // A line, then the first piece of a split one: the batch also writes the journal
          // (awaits between the data write and the commit).
          const next = `n${i + 1}`;
          await store.append("j", "c", [
            ev(`n${i}`, T0 + i),
            ev(next.slice(0, 2), T0 + i + 1, { partial: { id: `p${i}`, last: false } }),
          ]);
          await store.append("j", "c", [ev(next.slice(2), T0 + i + 1, { partial: { id: `p${i}`, last: true } })]);
          i++;
        } else await store.append("j", "c", [ev(`n${i}`, T0 + i)]);
      }
    })();
    const followers = [0, 1, 3, 7, 15, 30].map(async (delay) => {
      await new Promise((r) => setTimeout(r, delay));
      const stop = new AbortController();
      const got: string[] = [];
      for await (const item of store.follow("j", {}, stop.signal)) {
        if (typeof item === "string") continue;
        got.push(item.line);
        if (item.line === "n399") stop.abort();
      }
      return got;
    });
    await writing;
    for (const got of await Promise.all(followers)) assert.deepEqual(got, expected);
    await store.close();
  });

  test("survives a torn last line from a crash", async () => {
    const { root, store } = fresh();
    mkdirSync(join(root, "j"), { recursive: true });
    appendFileSync(
      join(root, "j", "c.log"),
      '{"time":"2024-05-01T10:00:00.000Z","stream":"stdout","line":"ok"}\n{"time":"20',
    );
    await store.append("j", "c", [ev("after", T0 + 1)]);
    assert.deepEqual(lines(await all(store.read("j"))), ["ok", "after"]);
    assert.deepEqual(lines(await all(store.read("j", { tail: 5 }))), ["ok", "after"]);
    await store.close();
  });

  test("refuses names that could leave the log directory", async () => {
    const { root, store } = fresh();
    for (const [job, container] of [
      ["..", "c"],
      ["../x", "c"],
      ["j", "../../etc/passwd"],
      ["j", "a/b"],
      ["j", ".hidden"],
      ["j", "a..b"],
      ["J", "c"],
      ["", "c"],
      ["j", "x".repeat(200)],
      ["j", "c\u0000"],
    ] as const) {
      await assert.rejects(store.append(job, container, [ev("x")]), LogRejectedError, `${job}/${container}`);
    }
    await assert.rejects(all(store.read("../x")), LogRejectedError);
    await assert.rejects(all(store.read("j", { container: "../c" })), LogRejectedError);
    assert.ok(!existsSync(root) || readdirSync(root).length === 0, "nothing was written");
  });

  test("parseTag accepts maro.<job>.<container> only", async () => {
    assert.deepEqual(parseTag("maro.job1.c1"), { job: "job1", container: "c1" });
    assert.deepEqual(parseTag("maro.job1.clu-job1-learner-0-ab12cd34"), {
      job: "job1",
      container: "clu-job1-learner-0-ab12cd34",
    });
    assert.deepEqual(parseTag("maro.j.a.b"), { job: "j", container: "a.b" });
    for (const bad of [
      "docker.abc",
      "maro.job1",
      "maro..c",
      "maro.j.",
      "maro.j...",
      "maro.j../x",
      "maro.J.c",
      "x.maro.j.c",
    ])
      assert.throws(() => parseTag(bad), LogRejectedError, bad);
    const { store } = fresh();
    await assert.rejects(storeEvents(store)("maro.j/../x.c", [ev("x")]), LogRejectedError);
  });
});
