// Hostile files and paths against the built `maro` CLI: each one exits 2
// quickly with a message naming the problem (and its YAML path where there is
// one), and nothing is started: no cluster directory, no process, no job.

import assert from "node:assert/strict";
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import fc from "fast-check";
import { type CliResult, json, maro } from "../support/cli.js";
import { processesWithEnv } from "../support/cluster-files.js";
import { tempDir } from "../support/tmp.js";

const CLUSTER = "fz";
const SEED = 20240603;
/**
 * A bad file is refused before anything starts, in about one node startup
 * (~1 s). The bound is loose because the test box has 2 cores shared with
 * other suites; it still catches a hang or an expansion that runs away.
 */
const QUICK_MS = 10_000;

/** Runs the CLI and checks it refused the input as a usage error, quickly and without a stack trace. */
async function refused(home: string, args: string[], patterns: RegExp[]): Promise<CliResult> {
  const started = Date.now();
  const res = await maro(home, args, {}, 20_000);
  const took = Date.now() - started;
  const what = `maro ${args.join(" ")}`;
  assert.equal(res.code, 2, `${what}: exit ${res.code}\n${res.stdout}\n${res.stderr}`);
  assert.ok(took < QUICK_MS, `${what}: took ${took} ms`);
  assert.doesNotMatch(res.stderr, /\n\s+at /, `${what}: a stack trace instead of a message:\n${res.stderr}`);
  for (const p of patterns) assert.match(res.stderr, p, `${what}: the message names the problem`);
  assert.ok(res.stderr.length < 8192, `${what}: a message of ${res.stderr.length} characters`);
  return res;
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** Files that are hostile as files, whatever they are for; `head(key)` starts each with its own name. */
function hostileFiles(dir: string, head: (key: string) => string): { label: string; path: string; message: RegExp }[] {
  const write = (name: string, body: string | Buffer) => {
    const path = join(dir, name);
    writeFileSync(path, body);
    return path;
  };
  const bombLines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
  for (let i = 1; i < 9; i++) {
    const prev = String.fromCharCode(96 + i);
    const next = String.fromCharCode(97 + i);
    bombLines.push(`${next}: &${next} [${Array(10).fill(`*${prev}`).join(",")}]`);
  }
  let nested = "";
  for (let depth = 0; depth < 200; depth++) nested += `${"  ".repeat(depth)}k${depth}:\n`;
  nested += `${"  ".repeat(200)}leaf: 1\n`;
  const pad = `# ${"x".repeat(1022)}\n`;
  const garbage = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 197 + 13) % 256));
  mkdirSync(join(dir, "a-directory.yml"), { recursive: true });
  return [
    { label: "a 2 MiB file", path: write("big.yml", head("big") + pad.repeat(2 * 1024)), message: /larger than 1 MiB/ },
    {
      label: "an alias bomb",
      path: write("bomb.yml", `${head("bomb")}${bombLines.join("\n")}\n`),
      message: /alias bomb/,
    },
    {
      label: "deep block nesting",
      path: write("deep.yml", head("deep") + nested),
      message: /nesting is deeper than 32/,
    },
    {
      label: "deep flow nesting",
      path: write("deep-flow.yml", `${head("flow")}x: ${"[".repeat(100_000)}${"]".repeat(100_000)}\n`),
      message: /nesting is deeper than 32/,
    },
    { label: "binary garbage", path: write("garbage.yml", garbage), message: /is not UTF-8 text/ },
    { label: "a directory", path: join(dir, "a-directory.yml"), message: /is a directory/ },
    { label: "a missing file", path: join(dir, "missing", "nope.yml"), message: /no such file/ },
  ];
}

/** Runs fn over items, at most `limit` at a time (2 cores: CLI runs are mostly node's startup). */
async function pool<T>(limit: number, items: T[], fn: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  const worker = async () => {
    for (let item = queue.shift(); item !== undefined; item = queue.shift()) await fn(item);
  };
  await Promise.all(Array.from({ length: limit }, worker));
}

const CONCURRENCY = 2;

describe("the CLI under hostile files and paths", () => {
  const home = tempDir("hostile-cli"); // holds the real cluster, for job files
  const bare = tempDir("hostile-bare"); // no cluster: `grass create` must leave it empty
  const files = tempDir("hostile-files"); // the files, outside both homes
  const file = (name: string, body: string | Buffer) => {
    const path = join(files.path, name);
    writeFileSync(path, body);
    return path;
  };
  const listJobs = async () => json(await maro(home.path, ["grass", "job", "list", CLUSTER, "-o", "json"]));
  let jobsBefore: unknown;

  after(async () => {
    // Only if a hostile deployment got through: stop what it started.
    const leaked = join(bare.path, "clusters");
    for (const name of existsSync(leaked) ? readdirSync(leaked) : []) await maro(bare.path, ["grass", "delete", name]);
    for (const d of [home, bare, files]) d.remove();
  });

  // Cases run a few at a time; each file names its own cluster or job (evil-<key>), so
  // anything a case wrongly starts is traced back to it by the checks after them.
  describe("maro grass create <hostile deployment file>", { concurrency: CONCURRENCY }, () => {
    const head = (key: string) => `mode: grass/local\nname: evil-${key}\nruntime: process\nnodes: 1\n`;
    for (const h of hostileFiles(join(files.path, "create"), head)) {
      test(`${h.label}: exit 2, the file and the problem named`, async () => {
        await refused(bare.path, ["grass", "create", h.path], [h.message, new RegExp(escapeRe(h.path))]);
      });
    }

    const hostileValues: { label: string; body: string; message: RegExp[] }[] = [
      {
        label: "a cluster name that walks out of MARO_HOME",
        body: "mode: grass/local\nname: ../../escaped\nruntime: process\n",
        message: [/^maro: name: "\.\.\/\.\.\/escaped" is not a valid cluster name/m, /:2:\d+\)/],
      },
      {
        label: "an absolute cluster name",
        body: "mode: grass/local\nname: /tmp/escaped\n",
        message: [/name: "\/tmp\/escaped" is not a valid cluster name/],
      },
      {
        label: "node names with path separators",
        body: "mode: grass/local\nname: evil-nodes\nnodes:\n  - name: ../n1\n  - name: a/b\n",
        message: [
          /nodes\[0\]\.name: "\.\.\/n1" is not a valid node name/,
          /nodes\[1\]\.name: "a\/b" is not a valid node name/,
        ],
      },
      {
        label: "a docker socket with a control character",
        body: 'mode: grass/local\nname: evil-socket\nruntime: docker\ndocker: {socket: "/var/run/docker.sock\\n--privileged"}\n',
        message: [/docker\.socket: .* is not a Docker socket/],
      },
      {
        label: "hostile numbers",
        body: "mode: grass/local\nname: evil-numbers\nnodes:\n  - name: n1\n    resources: {cpu: 1e308, memory: 99999999Ei, gpu: -1}\nmaster: {api_server: {port: 70000}}\n",
        message: [
          /nodes\[0\]\.resources\.cpu: /,
          /nodes\[0\]\.resources\.memory: /,
          /nodes\[0\]\.resources\.gpu: /,
          /master\.api_server\.port: /,
        ],
      },
    ];
    for (const h of hostileValues) {
      test(`${h.label}: exit 2 naming the YAML path`, async () => {
        await refused(
          bare.path,
          ["grass", "create", file(`create-${h.label.replace(/\W+/g, "-")}.yml`, h.body)],
          h.message,
        );
      });
    }

    test("random bytes and random text as a deployment file (seeded): exit 2 naming the file", async () => {
      const content = fc.oneof(
        fc.uint8Array({ minLength: 1, maxLength: 2048 }).map((b) => Buffer.from(b)),
        fc.string({ unit: "binary", maxLength: 512 }).map((s) => Buffer.from(`mode: grass/local\n${s}`)),
        fc
          .array(
            fc.constantFrom(
              "mode: grass/local",
              "name: ",
              "../",
              "&a",
              "*a",
              "[",
              "{",
              "- ",
              ":",
              "\n",
              "  ",
              "!!",
              "x",
            ),
            {
              maxLength: 40,
            },
          )
          .map((parts) => Buffer.from(parts.join(""))),
      );
      const samples = fc.sample(content, { numRuns: 4, seed: SEED });
      await pool(2, [...samples.entries()], async ([i, bytes]) => {
        const path = file(`random-${i}.yml`, bytes);
        await refused(bare.path, ["grass", "create", path], [new RegExp(escapeRe(path))]);
      });
    });
  });

  test("after the hostile deployment files: no cluster directory under MARO_HOME, nothing outside it, no process", () => {
    const clusters = join(bare.path, "clusters");
    assert.deepEqual(existsSync(clusters) ? readdirSync(clusters) : [], [], "cluster directories were created");
    assert.deepEqual(processesWithEnv("MARO_HOME", bare.path), [], "processes were started");
    assert.equal(existsSync(join(dirname(bare.path), "escaped")), false, "something was created outside MARO_HOME");
    assert.equal(existsSync("/tmp/escaped"), false, "something was created at an absolute cluster name");
  });

  describe("maro grass job start <cluster> <hostile job file>", () => {
    // job start reads the cluster record before the file: a real cluster to aim at.
    before(async () => {
      const deployment = file("deployment.yml", `mode: grass/local\nname: ${CLUSTER}\nruntime: process\nnodes: 1\n`);
      const created = await maro(home.path, ["grass", "create", deployment]);
      assert.equal(created.code, 0, created.stderr);
      jobsBefore = await listJobs();
    });

    after(async () => {
      if (existsSync(join(home.path, "clusters", CLUSTER))) await maro(home.path, ["grass", "delete", CLUSTER]);
    });

    describe("refused files", { concurrency: CONCURRENCY }, () => {
      const head = (key: string) =>
        `name: evil-${key}\ncomponents:\n  w:\n    resources: {cpu: 0.1, memory: 16m}\n    command: 'true'\n`;
      // The same reader as deployment files (nesting and encoding are covered there);
      // here, the ones that matter before a job reaches the master.
      const asJob = new Set(["a 2 MiB file", "an alias bomb", "a directory", "a missing file"]);
      for (const h of hostileFiles(join(files.path, "job"), head).filter((f) => asJob.has(f.label))) {
        test(`${h.label}: exit 2, the file and the problem named`, async () => {
          await refused(
            home.path,
            ["grass", "job", "start", CLUSTER, h.path],
            [h.message, new RegExp(escapeRe(h.path))],
          );
        });
      }

      const component = (key: string, extra: string) => `${head(key)}${extra}`;
      const hostileValues: { label: string; body: string; message: RegExp[] }[] = [
        {
          label: "mount.target ../../etc/passwd",
          body: component("mount", "    mount: {target: ../../etc/passwd}\n"),
          message: [/components\.w\.mount\.target: "\.\.\/\.\.\/etc\/passwd" is not an absolute path/, /:6:\d+\)/],
        },
        {
          label: "mount.target that climbs out with ..",
          body: component("climb", "    mount: {target: /data/../../etc/passwd}\n"),
          message: [/components\.w\.mount\.target: .* contains '\.\.'/],
        },
        {
          label: "mount.target with a NUL byte",
          body: component("nul", '    mount: {target: "/data\\0/x"}\n'),
          message: [/components\.w\.mount\.target: /],
        },
        {
          label: "mount.target /",
          body: component("root", "    mount: {target: /}\n"),
          message: [/components\.w\.mount\.target: cannot be \//],
        },
        {
          label: "component types with path separators",
          body: [
            "name: evil-types",
            "components:",
            '  "../evil": {resources: {cpu: 1, memory: 16m}, command: "true"}',
            '  "a/b": {resources: {cpu: 1, memory: 16m}, command: "true"}',
            '  "/abs": {resources: {cpu: 1, memory: 16m}, command: "true"}',
            "",
          ].join("\n"),
          message: [
            /components\["\.\.\/evil"\]: "\.\.\/evil" is not a valid component type/,
            /components\["a\/b"\]: "a\/b" is not a valid component type/,
            /components\["\/abs"\]: "\/abs" is not a valid component type/,
          ],
        },
        {
          label: "a job name with path separators",
          body: "name: ../../jobs/x\ncomponents:\n  w: {resources: {cpu: 1, memory: 16m}, command: 'true'}\n",
          message: [/^maro: name: "\.\.\/\.\.\/jobs\/x" is not a valid job name/m, /:1:\d+\)/],
        },
        {
          label: "a command with a NUL byte",
          body: 'name: evil-cmd\ncomponents:\n  w: {resources: {cpu: 1, memory: 16m}, command: ["sh", "-c\\0rm"]}\n',
          message: [/components\.w\.command\[1\]: contains a NUL character/],
        },
        {
          label: "hostile numbers",
          body: "name: evil-numbers\ncomponents:\n  w: {resources: {cpu: -1, memory: 99999999Ei, gpu: 1e9}, num: 1e9, command: 'true'}\n",
          message: [
            /components\.w\.resources\.cpu: /,
            /components\.w\.resources\.memory: /,
            /components\.w\.resources\.gpu: /,
            /components\.w\.num: /,
          ],
        },
        {
          label: "constraints with a NUL byte, a path-like key, a number and an empty value",
          body: component(
            "constraints",
            '    constraints: {"zone\\0x": a, "../etc": b, rack: 7, gpu_model: "", ok: "a\\0b"}\n',
          ),
          message: [
            /components\.w\.constraints\["zone\\u0000x"\]: .* is not a valid label key/,
            /components\.w\.constraints\["\.\.\/etc"\]: .* is not a valid label key/,
            /components\.w\.constraints\.rack: expected a label value, got 7 \(a number\); quote it: "7"/,
            /components\.w\.constraints\.gpu_model: is empty/,
            /components\.w\.constraints\.ok: .* is not a valid label value/,
          ],
        },
        {
          label: "a huge constraints map",
          body: component(
            "huge",
            `    constraints: {${Array.from({ length: 5000 }, (_, i) => `k${i}: v`).join(", ")}}\n`,
          ),
          message: [/components\.w\.constraints: has 5000 constraints; at most 32/],
        },
        {
          label: "spread_across rack, priority past int32, binpack with a metric",
          body: `priority: 2147483648\nallocation: {mode: binpack, metric: gpu}\n${component("placement", "    spread_across: rack\n")}`,
          message: [
            /^maro: priority: expected a whole number from -2147483648 to 2147483647/m,
            /allocation\.metric: binpack weighs cpu, memory and gpu together and takes no metric/,
            /components\.w\.spread_across: "rack" is not supported; the only choice is node/,
          ],
        },
      ];
      for (const h of hostileValues) {
        test(`${h.label}: exit 2 naming the YAML path`, async () => {
          const path = file(`job-${h.label.replace(/\W+/g, "-")}.yml`, h.body);
          await refused(home.path, ["grass", "job", "start", CLUSTER, path], h.message);
        });
      }

      test("a cluster argument that walks out of MARO_HOME: exit 2 before any file is read", async () => {
        const path = file("fine.yml", component("fine", ""));
        await pool(2, ["../../etc", "/etc", `${CLUSTER}/../${CLUSTER}`], async (cluster) => {
          await refused(home.path, ["grass", "job", "start", cluster, path], [/cluster name .* is not a DNS label/]);
        });
      });
    });

    describe("refused schedule files and node names", { concurrency: CONCURRENCY }, () => {
      const components = "components:\n  w: {resources: {cpu: 0.1, memory: 16m}, command: 'true'}\n";
      const hostileSchedules: { label: string; body: string; message: RegExp[] }[] = [
        {
          label: "MARO's example names (not DNS labels), a repeat and a path",
          body: `name: MySchedule\njob_names: [MyJobName2, ok-1, ok-1, ../../x]\n${components}`,
          message: [
            /^maro: name: "MySchedule" is not a valid schedule name .*did you mean "myschedule"\?/m,
            /job_names\[0\]: "MyJobName2" is not a valid job name/,
            /job_names\[2\]: "ok-1" is already job_names\[1\]/,
            /job_names\[3\]: "\.\.\/\.\.\/x" is not a valid job name/,
          ],
        },
        {
          label: "no job_names and a misspelt field",
          body: `name: s\njob_name: [a]\n${components}`,
          message: [/job_names: required/, /job_name: unknown field 'job_name'; did you mean 'job_names'\?/],
        },
        {
          label: "1500 job names",
          body: `name: s\njob_names: [${Array.from({ length: 1500 }, (_, i) => `j${i}`).join(", ")}]\n${components}`,
          message: [/job_names: has 1500 names; a schedule starts at most 1000 jobs/],
        },
      ];
      for (const h of hostileSchedules) {
        test(`schedule start, ${h.label}: exit 2 naming the YAML path`, async () => {
          const path = file(`schedule-${h.label.replace(/\W+/g, "-")}.yml`, h.body);
          await refused(home.path, ["grass", "schedule", "start", CLUSTER, path], h.message);
        });
      }

      test("node cordon/uncordon/drain and schedule stop with hostile names: exit 2 before the master is called", async () => {
        const cases: [string[], RegExp][] = [
          [["grass", "node", "cordon", CLUSTER, "../node-1"], /<node>: "\.\.\/node-1" is not a valid node name/],
          [["grass", "node", "uncordon", CLUSTER, "Node_1"], /<node>: "Node_1" is not a valid node name/],
          [["grass", "node", "drain", CLUSTER, "a;b"], /<node>: "a;b" is not a valid node name/],
          [["grass", "schedule", "stop", CLUSTER, "/etc"], /<schedule>: "\/etc" is not a valid schedule name/],
          [["grass", "node", "cordon", CLUSTER], /missing required argument 'node'/],
          [["grass", "schedule", "start", CLUSTER], /missing required argument 'schedule-file'/],
          [["grass", "node", "drain", CLUSTER, "node-1", "-o", "yaml"], /"yaml" is not one of table, json/],
        ];
        await pool(2, cases, async ([args, message]) => {
          await refused(home.path, args, [message]);
        });
      });
    });

    test("after the hostile job files: the job list is unchanged and no component runs", async () => {
      assert.deepEqual(await listJobs(), jobsBefore, "jobs were submitted");
      assert.deepEqual(processesWithEnv("CLUSTER_NAME", CLUSTER), [], "components were started");
    });
  });
});
