import assert from "node:assert/strict";
import { mkdirSync, realpathSync, symlinkSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import fc from "fast-check";
import { tempDir } from "../../../test/support/tmp.js";
import {
  atomicWriteTarget,
  confine,
  isAtomicWriteTemp,
  PathError,
  type PathRule,
  resolveConfined,
} from "../src/share/paths.js";

const ROOT = "/srv/maro/shared";

function refused(fn: () => unknown, rule: PathRule, input: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof PathError, `expected PathError, got ${String(err)}`);
    assert.equal(err.rule, rule, `rule for ${JSON.stringify(input)}: ${err.message}`);
    assert.equal(err.input, input);
    assert.ok(err.message.includes(JSON.stringify(input).slice(1, 20)), `message names the input: ${err.message}`);
    return true;
  });
}

async function refusedAsync(p: Promise<unknown>, rule: PathRule): Promise<PathError> {
  let caught: unknown;
  try {
    await p;
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof PathError, `expected PathError, got ${String(caught)}`);
  assert.equal(caught.rule, rule, caught.message);
  return caught;
}

describe("confine", () => {
  test("accepts plain relative paths", () => {
    assert.equal(confine(ROOT, "data"), `${ROOT}/data`);
    assert.equal(confine(ROOT, "data/x.bin"), `${ROOT}/data/x.bin`);
    assert.equal(confine(ROOT, "data/sub dir/ä ö.txt"), `${ROOT}/data/sub dir/ä ö.txt`);
    assert.equal(confine(ROOT, "logs/"), `${ROOT}/logs`);
    assert.equal(confine(ROOT, "..data/x..y/...", {}), `${ROOT}/..data/x..y/...`);
    assert.equal(confine(`${ROOT}/`, "images/a.tar"), `${ROOT}/images/a.tar`);
  });

  test("root itself only with allowRoot", () => {
    refused(() => confine(ROOT, ""), "empty", "");
    refused(() => confine(ROOT, "."), "empty", ".");
    assert.equal(confine(ROOT, "", { allowRoot: true }), ROOT);
    assert.equal(confine(ROOT, ".", { allowRoot: true }), ROOT);
  });

  const cases: [string, PathRule][] = [
    ["/etc/passwd", "absolute"],
    ["/", "absolute"],
    ["//data", "absolute"],
    ["..", "dot-dot"],
    ["../x", "dot-dot"],
    ["data/../../x", "dot-dot"],
    ["data/../x", "dot-dot"],
    ["data/..", "dot-dot"],
    ["data/../", "dot-dot"],
    ["./data", "dot-segment"],
    ["data/./x", "dot-segment"],
    ["data//x", "empty-segment"],
    ["data//", "empty-segment"],
    ["data\0/x", "nul"],
    ["x\0", "nul"],
    ["data\n/x", "control-character"],
    ["data\\..\\..\\etc", "backslash"],
    ["..\\x", "backslash"],
    [`${"a".repeat(256)}`, "too-long"],
    [`${"a/".repeat(2100)}a`, "too-long"],
  ];
  for (const [input, rule] of cases) {
    test(`refuses ${JSON.stringify(input.length > 40 ? `${input.slice(0, 40)}…` : input)} (${rule})`, () => {
      refused(() => confine(ROOT, input), rule, input);
    });
  }

  test("refuses a relative or filesystem root", () => {
    assert.throws(() => confine("relative/root", "x"), PathError);
    assert.throws(() => confine("/", "etc"), PathError);
  });

  test("property: any string is refused with PathError or lands strictly inside root", () => {
    const segment = fc.oneof(
      fc.constantFrom("..", ".", "", "data", "a b", "\0", "\\", "..\\..", "~", "%2e%2e", "\u2025", "．．"),
      fc.string({ maxLength: 12 }),
    );
    const pathLike = fc.oneof(
      fc.string({ maxLength: 64 }),
      fc.string({ unit: "binary", maxLength: 64 }),
      fc.array(segment, { maxLength: 8 }).map((parts) => parts.join("/")),
      fc
        .tuple(fc.constantFrom("/", "./", "../", ""), fc.array(segment, { maxLength: 6 }))
        .map(([lead, parts]) => lead + parts.join("/")),
    );
    fc.assert(
      fc.property(pathLike, (input) => {
        let out: string;
        try {
          out = confine(ROOT, input);
        } catch (err) {
          return err instanceof PathError;
        }
        return (
          out.startsWith(`${ROOT}/`) &&
          !out.split("/").includes("..") &&
          !out.includes("\0") &&
          out === join(ROOT, input.replace(/\/$/, "")) // nothing was normalised away
        );
      }),
      { numRuns: 5000 },
    );
  });
});

describe("resolveConfined", () => {
  let dir: { path: string; remove(): void };
  let root: string;
  let outside: string;

  before(() => {
    dir = tempDir("share-paths");
    root = join(dir.path, "share");
    outside = join(dir.path, "outside");
    mkdirSync(join(root, "data", "sub"), { recursive: true });
    mkdirSync(outside);
    writeFileSync(join(outside, "secret"), "s");
    writeFileSync(join(root, "data", "file"), "f");
    symlinkSync(outside, join(root, "data", "out-dir"));
    symlinkSync(join(outside, "secret"), join(root, "data", "out-file"));
    symlinkSync("../../outside/secret", join(root, "data", "out-rel"));
    symlinkSync("/nonexistent/place", join(root, "data", "dangling"));
    symlinkSync("sub", join(root, "data", "in-dir"));
    symlinkSync(join(root, "data", "file"), join(root, "data", "in-file"));
    symlinkSync("..", join(root, "data", "up-to-root"));
    symlinkSync("../..", join(root, "data", "up-past-root"));
  });
  after(() => dir.remove());

  test("accepts existing and not-yet-existing paths inside", async () => {
    assert.equal(await resolveConfined(root, "data/file"), join(root, "data/file"));
    assert.equal(await resolveConfined(root, "data/new/deeper/x"), join(root, "data/new/deeper/x"));
    assert.equal(await resolveConfined(root, "data/file/below"), join(root, "data/file/below"));
    assert.equal(await resolveConfined(root, "", { allowRoot: true }), root);
  });

  test("accepts symlinks that stay inside", async () => {
    assert.equal(await resolveConfined(root, "data/in-dir/x"), join(root, "data/in-dir/x"));
    assert.equal(await resolveConfined(root, "data/in-file"), join(root, "data/in-file"));
    assert.equal(await resolveConfined(root, "data/up-to-root/logs"), join(root, "data/up-to-root/logs"));
  });

  test("refuses symlinks that leave root, wherever they are in the path", async () => {
    for (const p of ["data/out-dir", "data/out-dir/secret", "data/out-dir/new", "data/out-file", "data/out-rel"]) {
      const err = await refusedAsync(resolveConfined(root, p), "symlink-escape");
      assert.equal(err.input, p);
      assert.match(err.message, /leaves the share/);
    }
    await refusedAsync(resolveConfined(root, "data/up-past-root/outside/secret"), "symlink-escape");
  });

  test("refuses dangling symlinks (a write would follow them)", async () => {
    await refusedAsync(resolveConfined(root, "data/dangling"), "symlink-dangling");
    await refusedAsync(resolveConfined(root, "data/dangling/x"), "symlink-dangling");
  });

  test("still applies the lexical rules", async () => {
    await refusedAsync(resolveConfined(root, "../outside/secret"), "dot-dot");
    await refusedAsync(resolveConfined(root, join(outside, "secret")), "absolute");
  });

  test("a root that is itself reached through a symlink works", async () => {
    const alias = join(dir.path, "alias");
    symlinkSync(root, alias);
    assert.equal(await resolveConfined(alias, "data/in-dir/x"), join(alias, "data/in-dir/x"));
    await refusedAsync(resolveConfined(alias, "data/out-dir/secret"), "symlink-escape");
    assert.equal(realpathSync(alias), realpathSync(root));
  });
});

describe("atomicWriteTarget", () => {
  test("is a hidden sibling marked partial, different every time", () => {
    const final = "/srv/maro/shared/data/model.bin";
    const a = atomicWriteTarget(final);
    const b = atomicWriteTarget(final);
    assert.notEqual(a, b);
    assert.equal(dirname(a), dirname(final));
    assert.match(basename(a), /^\.model\.bin\.partial-[0-9a-f]{12}$/);
    assert.ok(isAtomicWriteTemp(basename(a)));
    assert.ok(!isAtomicWriteTemp("model.bin"));
    assert.ok(!isAtomicWriteTemp(".model.bin.partial-xyz"));
  });

  test("keeps temporary names within 255 bytes", () => {
    const long = `/d/${"é".repeat(127)}`; // 254 bytes
    const t = basename(atomicWriteTarget(long));
    assert.ok(Buffer.byteLength(t) <= 255, `${Buffer.byteLength(t)} bytes`);
    assert.ok(isAtomicWriteTemp(t));
  });
});
