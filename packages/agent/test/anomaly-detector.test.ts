import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  type Anomaly,
  AnomalyDetector,
  type ComponentView,
  type DetectorEvent,
  type DetectorOptions,
  DetectorOptionsError,
  type NodeView,
} from "../src/anomaly/index.js";

const GiB = 1024 ** 3;

/** A calm node: 2 cores at 10%, 25% memory, 50% disk, no GPUs. */
function node(overrides: Partial<NodeView> = {}): NodeView {
  return {
    cpuMillis: 200,
    cpuCapacityMillis: 2000,
    memoryUsedBytes: 4 * GiB,
    memoryTotalBytes: 16 * GiB,
    diskUsedBytes: 50 * GiB,
    diskTotalBytes: 100 * GiB,
    gpuIndices: [],
    gpuErrors: [],
    ...overrides,
  };
}

const sample = (timeMs: number, n: Partial<NodeView> = {}, components: ComponentView[] = []): DetectorEvent => ({
  kind: "sample",
  timeMs,
  node: node(n),
  components,
});

/** What a sequence of events produced: [time, kind, severity] per anomaly, in order. */
function run(events: DetectorEvent[], options: Partial<DetectorOptions> = {}): Anomaly[] {
  const detector = new AnomalyDetector(options);
  return events.flatMap((e) => detector.observe(e));
}
const brief = (found: Anomaly[]) =>
  found.map((a) => `${a.timeMs} ${a.kind} ${a.severity}${a.cleared ? " cleared" : ""}`);

interface Case {
  name: string;
  options?: Partial<DetectorOptions>;
  events: DetectorEvent[];
  expect: string[];
}

const memUsed = (percent: number) => ({ memoryUsedBytes: (16 * GiB * percent) / 100 });
const diskUsed = (percent: number) => ({ diskUsedBytes: percent * GiB });
const cpu = (percent: number) => ({ cpuMillis: 20 * percent });
const exited = (timeMs: number, exitCode: number, oomKilled = false, containerName = "c1"): DetectorEvent => ({
  kind: "exited",
  timeMs,
  containerName,
  exitCode,
  oomKilled,
  jobId: "job-1",
  componentId: "w-0",
});
const started = (timeMs: number, containerName = "c1"): DetectorEvent => ({
  kind: "started",
  timeMs,
  containerName,
  jobId: "job-1",
  componentId: "w-0",
});
const comp = (cpuMillis: number, containerName = "c1"): ComponentView => ({
  containerName,
  cpuMillis,
  memoryBytes: 1024 ** 2,
});
const pong = (sentMs: number, receivedMs: number, masterTimeMs: number): DetectorEvent => ({
  kind: "pong",
  timeMs: receivedMs,
  agentTimeMs: sentMs,
  masterTimeMs,
});

const cases: Case[] = [
  { name: "a calm node reports nothing", events: [sample(0), sample(1000), sample(2000)], expect: [] },
  {
    name: "memory pressure starts once above 90%, clears 5 points under",
    events: [
      sample(0, memUsed(80)),
      sample(1000, memUsed(91)),
      sample(2000, memUsed(95)),
      sample(3000, memUsed(88)),
      sample(4000, memUsed(91)),
      sample(5000, memUsed(84)),
      sample(6000, memUsed(84)),
    ],
    expect: ["1000 memory-pressure warning", "5000 memory-pressure info cleared"],
  },
  {
    name: "memory threshold is an option",
    options: { memoryPressurePercent: 50 },
    events: [sample(0, memUsed(40)), sample(1000, memUsed(60))],
    expect: ["1000 memory-pressure warning"],
  },
  {
    name: "disk pressure above 90%",
    events: [
      sample(0, diskUsed(90)),
      sample(1000, diskUsed(97)),
      sample(2000, diskUsed(99)),
      sample(3000, diskUsed(50)),
    ],
    expect: ["1000 disk-pressure warning", "3000 disk-pressure info cleared"],
  },
  {
    name: "cpu saturation needs 30 s above 95%",
    events: [
      sample(0, cpu(99)),
      sample(10_000, cpu(99)),
      sample(29_000, cpu(99)),
      sample(30_000, cpu(99)),
      sample(31_000, cpu(99)),
      sample(32_000, cpu(93)),
      sample(33_000, cpu(80)),
    ],
    expect: ["30000 cpu-saturation warning", "33000 cpu-saturation info cleared"],
  },
  {
    name: "a dip under 95% restarts the cpu clock",
    events: [sample(0, cpu(99)), sample(20_000, cpu(94)), sample(21_000, cpu(99)), sample(50_000, cpu(99))],
    expect: [],
  },
  {
    name: "a non-zero exit is a crash, a zero exit is not",
    events: [started(0), exited(1000, 0), started(2000, "c2"), exited(3000, 3, false, "c2")],
    expect: ["3000 component-crashed warning"],
  },
  {
    name: "an OOM kill is reported as such, not as a crash",
    events: [started(0), exited(1000, 137, true)],
    expect: ["1000 oom-killed critical"],
  },
  {
    name: "an exit the agent asked for is not a crash",
    events: [started(0), { kind: "stop-requested", timeMs: 500, containerName: "c1" }, exited(1000, 143)],
    expect: [],
  },
  {
    name: "three restarts within the window are a loop, reported once",
    events: [
      started(0),
      exited(100, 1),
      started(200),
      exited(300, 1),
      started(400),
      exited(500, 1),
      started(600),
      exited(700, 1),
      started(800),
    ],
    expect: [
      "100 component-crashed warning",
      "300 component-crashed warning",
      "500 component-crashed warning",
      "600 restart-loop critical",
      "700 component-crashed warning",
    ],
  },
  {
    name: "restarts spread wider than the window are no loop; a loop clears when the window empties",
    options: { restartLoopCount: 2, restartLoopWindowMs: 10_000 },
    events: [
      started(0),
      started(8_000),
      started(19_000),
      started(30_000),
      started(31_000),
      sample(35_000),
      sample(41_500),
    ],
    expect: ["31000 restart-loop critical", "41500 restart-loop info cleared"],
  },
  {
    name: "hung detection is off by default",
    events: [sample(0, {}, [comp(0)]), sample(600_000, {}, [comp(0)])],
    expect: [],
  },
  {
    name: "no cpu and no output past hungAfterMs is a hang; cpu clears it",
    options: { hungAfterMs: 10_000 },
    events: [
      started(0),
      sample(1000, {}, [comp(0)]),
      sample(9_000, {}, [comp(2)]),
      sample(10_000, {}, [comp(0)]),
      sample(11_000, {}, [comp(0)]),
      sample(12_000, {}, [comp(300)]),
    ],
    expect: ["10000 component-hung warning", "12000 component-hung info cleared"],
  },
  {
    name: "output keeps a component from counting as hung, and clears a hang",
    options: { hungAfterMs: 10_000 },
    events: [
      started(0),
      { kind: "output", timeMs: 8_000, containerName: "c1", atMs: 8_000 },
      sample(10_000, {}, [comp(0)]),
      sample(18_000, {}, [comp(0)]),
      { kind: "output", timeMs: 18_500, containerName: "c1", atMs: 18_400 },
    ],
    expect: ["18000 component-hung warning", "18500 component-hung info cleared"],
  },
  {
    name: "a GPU that disappears is lost; it is back when it answers again",
    events: [
      sample(0, { gpuIndices: [0, 1] }),
      sample(1000, { gpuIndices: [0] }),
      sample(2000, { gpuIndices: [0] }),
      sample(3000, { gpuIndices: [0, 1] }),
    ],
    expect: ["1000 gpu-lost critical", "3000 gpu-lost info cleared"],
  },
  {
    name: "a failed GPU query is a gpu-error, not every GPU lost",
    events: [
      sample(0, { gpuIndices: [0, 1] }),
      sample(1000, { gpuErrors: [{ index: null, message: "nvidia-smi exited with code 15" }] }),
      sample(2000, { gpuErrors: [{ index: null, message: "nvidia-smi exited with code 15" }] }),
      sample(3000, { gpuIndices: [0, 1] }),
    ],
    expect: ["1000 gpu-error critical", "3000 gpu-error info cleared"],
  },
  {
    name: "a device in error is a gpu-error for that index",
    events: [
      sample(0, { gpuIndices: [0, 1] }),
      sample(1000, { gpuIndices: [0], gpuErrors: [{ index: 1, message: "GPU requires reset" }] }),
      sample(2000, { gpuIndices: [0, 1] }),
    ],
    expect: ["1000 gpu-error critical", "2000 gpu-error info cleared"],
  },
  {
    name: "clock skew beyond 500 ms, measured at the round trip's midpoint",
    events: [
      pong(1000, 1100, 1050 + 400),
      pong(2000, 2100, 2050 + 600),
      pong(3000, 3100, 3050 - 700),
      pong(4000, 4100, 4050 + 300),
    ],
    expect: ["2100 clock-skew warning", "4100 clock-skew info cleared"],
  },
  {
    name: "a pong after a slow round trip says nothing about skew",
    events: [pong(1000, 4000, 10_000)],
    expect: [],
  },
];

describe("AnomalyDetector", () => {
  for (const c of cases) {
    it(c.name, () => {
      assert.deepEqual(brief(run(c.events, c.options)), c.expect);
    });
  }

  it("names the container, job and component, and says what happened", () => {
    const [oom] = run([started(0), exited(1000, 137, true)]);
    assert.ok(oom);
    assert.equal(oom.containerName, "c1");
    assert.equal(oom.jobId, "job-1");
    assert.equal(oom.componentId, "w-0");
    assert.match(oom.message, /c1 was killed for running out of memory \(exit code 137\)/);
    const [mem] = run([sample(0, memUsed(95))]);
    assert.match(mem?.message ?? "", /95\.0% of memory used \(15\.2 GiB of 16\.0 GiB\), above 90%/);
    const [skew] = run([pong(1000, 1100, 1050 - 800)]);
    assert.match(skew?.message ?? "", /the master's clock is 800 ms behind this node's/);
  });

  it("learns a component's ids from samples when it did not see it start", () => {
    const found = run([
      sample(0, {}, [{ ...comp(10, "adopted"), jobId: "j", componentId: "a-1" }]),
      exited(1000, 2, false, "adopted"),
    ]);
    assert.equal(found[0]?.kind, "component-crashed");
    assert.equal(found[0]?.componentId, "w-0", "the exit's own ids win");
    const learned = new AnomalyDetector();
    learned.observe(sample(0, {}, [{ ...comp(10, "adopted"), jobId: "j", componentId: "a-1" }]));
    const [crash] = learned.observe({
      kind: "exited",
      timeMs: 1,
      containerName: "adopted",
      exitCode: 1,
      oomKilled: false,
    });
    assert.equal(crash?.jobId, "j");
    assert.equal(crash?.componentId, "a-1");
  });

  it("stays bounded: thousands of components come and go, memory does not grow", () => {
    const detector = new AnomalyDetector({ maxComponents: 100, hungAfterMs: 1000 });
    for (let i = 0; i < 5000; i++) {
      detector.observe({ kind: "started", timeMs: i, containerName: `c${i}`, jobId: `j${i}`, componentId: "x" });
      if (i % 2 === 0) detector.observe(exited(i, 0, false, `c${i}`));
    }
    assert.ok(detector.size.running <= 100, `running ${detector.size.running}`);
    assert.ok(detector.size.starts <= 100, `starts ${detector.size.starts}`);
    // Components that leave the samples are forgotten.
    const many = Array.from({ length: 50 }, (_, i) => comp(10, `s${i}`));
    detector.observe(sample(10_000, {}, many));
    detector.observe(sample(11_000, {}, []));
    assert.ok(detector.size.running <= 100);
    // A restart loop's history keeps only the restarts that matter.
    const loop = new AnomalyDetector({ restartLoopCount: 3 });
    let loops = 0;
    for (let t = 0; t < 10_000; t++) loops += loop.observe(started(t)).length;
    assert.equal(loops, 1, "one report for one long loop");
    assert.equal(loop.size.starts, 1);
  });

  it("refuses bad options, naming the option", () => {
    assert.throws(
      () => new AnomalyDetector({ memoryPressurePercent: 120 }),
      /memoryPressurePercent: 120 is a percentage/,
    );
    assert.throws(() => new AnomalyDetector({ hungAfterMs: -1 }), DetectorOptionsError);
    assert.throws(
      () => new AnomalyDetector({ restartLoopCount: 0 }),
      /restartLoopCount: 0 must be a whole number >= 1/,
    );
    assert.throws(() => new AnomalyDetector({ clockSkewMs: Number.NaN }), /clockSkewMs: NaN is not a number/);
  });
});
