import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import fc from "fast-check";
import { stringify } from "yaml";
import { loadDeployment } from "../src/spec/deployment.js";
import { formatPath, SpecError, type SpecIssue } from "../src/spec/errors.js";
import { loadJob } from "../src/spec/job.js";
import { loadYamlFile, parseYaml, splitPath } from "../src/spec/load-yaml.js";

const dir = mkdtempSync(join(tmpdir(), "maro-spec-yaml-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function write(name: string, text: string | Buffer): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

function refused(fn: () => unknown, message: RegExp): SpecError {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof SpecError, `expected a SpecError, got ${String(error)}`);
    assert.match(error.message, message);
    return error;
  }
  assert.fail("expected a SpecError");
}

function timed(fn: () => void, limitMs: number): void {
  const start = performance.now();
  fn();
  const took = performance.now() - start;
  assert.ok(took < limitMs, `took ${took.toFixed(0)} ms, limit ${limitMs} ms`);
}

describe("loadYamlFile: hostile input", () => {
  it("refuses a 2 MiB file without parsing it", () => {
    const file = write("big.yml", `name: a\nx: "${"a".repeat(2 * 1024 * 1024)}"\n`);
    timed(() => refused(() => loadJob(file, { runtime: "process" }), /big\.yml: is larger than 1 MiB/), 1000);
  });

  it("refuses a billion-laughs alias bomb quickly", () => {
    const lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    const names = "abcdefghi";
    for (let i = 1; i < names.length; i++) {
      const prev = names[i - 1];
      lines.push(`${names[i]}: &${names[i]} [${Array.from({ length: 9 }, () => `*${prev}`).join(",")}]`);
    }
    const file = write("bomb.yml", `${lines.join("\n")}\n`);
    timed(() => refused(() => loadDeployment(file), /alias/), 1000);
  });

  it("refuses deep flow nesting quickly, before the parser recurses", () => {
    const depth = 400_000;
    const file = write("deep-flow.yml", `name: ${"[".repeat(depth)}${"]".repeat(depth)}\n`);
    timed(() => refused(() => loadJob(file, { runtime: "process" }), /nesting is deeper than 32 levels/), 2000);
  });

  it("refuses deep block nesting", () => {
    let text = "";
    for (let i = 0; i < 40; i++) text += `${"  ".repeat(i)}k${i}:\n`;
    text += `${"  ".repeat(40)}leaf: 1\n`;
    refused(() => parseYaml(text, "deep.yml"), /nesting is deeper than 32 levels/);
    let huge = "";
    for (let i = 0; i < 1200; i++) huge += `${" ".repeat(i)}k:\n`;
    refused(() => parseYaml(huge, "huge.yml"), /nesting is deeper than 32 levels/);
  });

  it("refuses cyclic aliases", () => {
    refused(() => parseYaml("a: &x [*x]\n", "cycle.yml"), /nesting is deeper than 32 levels/);
  });

  it("refuses roots that are not a mapping", () => {
    refused(() => parseYaml("- a\n- b\n", "list.yml"), /^list\.yml: expected a mapping .* got a list$/);
    refused(() => parseYaml("just text\n", "scalar.yml"), /^scalar\.yml: expected a mapping .* got "just text"$/);
    refused(() => parseYaml("", "empty.yml"), /^empty\.yml: is empty/);
    refused(() => parseYaml("# only a comment\n", "comment.yml"), /is empty/);
  });

  it("reports YAML syntax errors with the file, line and column", () => {
    const error = refused(() => parseYaml("name: a\nname: b\n", "dup.yml"), /^dup\.yml:2:1: YAML syntax: /);
    assert.deepEqual(
      error.issues.map((i) => [i.path, i.line, i.column]),
      [["", 2, 1]],
    );
    refused(() => parseYaml("name: a\ncomponents:\n\tx: 1\n", "tab.yml"), /^tab\.yml:3:1: YAML syntax: .*[Tt]ab/);
    refused(() => parseYaml("a: 1\n---\nb: 2\n", "multi.yml"), /^multi\.yml:2:1: YAML syntax: .*multiple documents/);
    refused(() => parseYaml("a: [1, 2\n", "open.yml"), /^open\.yml:\d+:\d+: YAML syntax/);
  });

  it("names missing files, directories and non-UTF-8 files", () => {
    refused(() => loadYamlFile(join(dir, "nope.yml")), /nope\.yml: no such file$/);
    mkdirSync(join(dir, "a-dir.yml"));
    refused(() => loadYamlFile(join(dir, "a-dir.yml")), /a-dir\.yml: is a directory/);
    const latin1 = write("latin1.yml", Buffer.from([0x6e, 0x61, 0x6d, 0x65, 0x3a, 0x20, 0xe9, 0x0a]));
    refused(() => loadYamlFile(latin1), /latin1\.yml: is not UTF-8 text/);
  });

  it("keeps __proto__ a plain key that validation refuses", () => {
    const loaded = parseYaml("__proto__: {polluted: true}\nname: a\n", "proto.yml");
    assert.equal(Object.getPrototypeOf(loaded.value), Object.prototype);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    const file = write("proto.yml", "__proto__: {polluted: true}\nmode: grass/local\nname: a\n");
    const error = refused(() => loadDeployment(file), /unknown field '__proto__'/);
    assert.deepEqual(
      error.issues.map((i: SpecIssue) => i.path),
      ["__proto__"],
    );
  });

  it("accepts anchors, aliases and merge keys within limits", () => {
    const file = write(
      "anchors.yml",
      `name: a
components:
  learner: &base
    resources: {cpu: 1, memory: 64m}
    command: "true"
  actor:
    <<: *base
    num: 3
`,
    );
    const spec = loadJob(file, { runtime: "process" });
    assert.deepEqual(
      spec.components.map((c) => [c.type, c.num, c.resources.cpuMillis]),
      [
        ["learner", 1, 1000],
        ["actor", 3, 1000],
      ],
    );
  });

  it("throws nothing but SpecError for any JSON value written as YAML", () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.boolean(), (value, asJob) => {
        const file = write("arbitrary.yml", stringify(value));
        try {
          if (asJob) loadJob(file, { runtime: "docker" });
          else loadDeployment(file);
        } catch (error) {
          assert.ok(error instanceof SpecError, String(error));
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe("paths", () => {
  it("formats and splits YAML paths", () => {
    const cases: Array<[PropertyKey[], string]> = [
      [["components", "learner", "resources", "memory"], "components.learner.resources.memory"],
      [["nodes", 1, "name"], "nodes[1].name"],
      [["components", "my actor", "num"], 'components["my actor"].num'],
      [[], ""],
    ];
    for (const [segments, path] of cases) {
      assert.equal(formatPath(segments), path);
      assert.deepEqual(splitPath(path), segments);
    }
  });
});
