import { randomBytes } from "node:crypto";
import { lstat, readlink, realpath } from "node:fs/promises";
import { basename, dirname, isAbsolute, join, resolve } from "node:path";

/** Which rule a refused path broke. */
export type PathRule =
  | "root"
  | "type"
  | "empty"
  | "nul"
  | "control-character"
  | "backslash"
  | "absolute"
  | "dot-dot"
  | "dot-segment"
  | "empty-segment"
  | "too-long"
  | "symlink-escape"
  | "symlink-dangling";

/** A path that would leave (or could not be proven to stay inside) the share. */
export class PathError extends Error {
  override readonly name = "PathError";
  constructor(
    /** The path as given. */
    readonly input: string,
    readonly rule: PathRule,
    message: string,
  ) {
    super(message);
  }
}

export interface ConfineOptions {
  /** Accept "" and "." as the root itself (e.g. listing the share's top). Default false. */
  allowRoot?: boolean;
}

/** Linux NAME_MAX and PATH_MAX, in bytes. */
const NAME_MAX = 255;
const PATH_MAX = 4096;

function show(input: string): string {
  return JSON.stringify(input.length > 200 ? `${input.slice(0, 200)}…` : input);
}

function normalizedRoot(root: string): string {
  if (typeof root !== "string" || !isAbsolute(root) || root.includes("\0")) {
    throw new PathError(String(root), "root", `share root ${show(String(root))} must be an absolute path`);
  }
  const r = resolve(root);
  if (r === "/") throw new PathError(root, "root", "the share root must not be the filesystem root");
  return r;
}

/**
 * Maps a client-supplied relative path (always "/"-separated) to an absolute
 * path strictly inside root, without touching the filesystem. Refuses, with a
 * PathError naming the input and the rule: absolute paths, any ".." segment,
 * "." segments, empty segments ("a//b"), NUL and other control characters,
 * backslashes (a separator for SMB clients), names over 255 bytes and paths
 * over 4096 bytes. A single trailing "/" is accepted ("data/" is "data").
 * The result always starts with root + "/" (root itself only with allowRoot).
 */
export function confine(root: string, relative: string, options: ConfineOptions = {}): string {
  const base = normalizedRoot(root);
  if (typeof relative !== "string") {
    throw new PathError(String(relative), "type", `path ${show(String(relative))} must be a string`);
  }
  const input = relative;
  if (input === "" || input === ".") {
    if (options.allowRoot) return base;
    throw new PathError(input, "empty", `path ${show(input)} is empty: name a file or directory inside the share`);
  }
  if (input.includes("\0")) throw new PathError(input, "nul", `path ${show(input)} contains a NUL byte`);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  if (/[\u0001-\u001f\u007f]/.test(input)) {
    throw new PathError(input, "control-character", `path ${show(input)} contains a control character`);
  }
  if (input.includes("\\")) {
    throw new PathError(input, "backslash", `path ${show(input)} contains "\\"; separate directories with "/"`);
  }
  if (input.startsWith("/")) {
    throw new PathError(input, "absolute", `path ${show(input)} is absolute; give it relative to the share's root`);
  }
  if (Buffer.byteLength(input) > PATH_MAX) {
    throw new PathError(input, "too-long", `path ${show(input)} is longer than ${PATH_MAX} bytes`);
  }
  const trimmed = input.endsWith("/") ? input.slice(0, -1) : input;
  const segments = trimmed.split("/");
  for (const segment of segments) {
    if (segment === "..") {
      throw new PathError(input, "dot-dot", `path ${show(input)} contains a ".." segment; ".." is never allowed`);
    }
    if (segment === ".") {
      throw new PathError(input, "dot-segment", `path ${show(input)} contains a "." segment`);
    }
    if (segment === "") {
      throw new PathError(input, "empty-segment", `path ${show(input)} contains an empty segment ("//")`);
    }
    if (Buffer.byteLength(segment) > NAME_MAX) {
      throw new PathError(input, "too-long", `path ${show(input)} has a name longer than ${NAME_MAX} bytes`);
    }
  }
  const out = join(base, ...segments);
  // Belt and braces: the checks above make this impossible.
  if (!out.startsWith(`${base}/`)) {
    throw new PathError(input, "dot-dot", `path ${show(input)} does not stay inside the share`);
  }
  return out;
}

function inside(realRoot: string, real: string): boolean {
  return real === realRoot || real.startsWith(`${realRoot}/`);
}

function errnoCode(err: unknown): string | undefined {
  return typeof err === "object" && err !== null && "code" in err ? String(err.code) : undefined;
}

/**
 * confine(), then walks the components that already exist with lstat and
 * refuses when one of them is a symlink whose target (fully resolved) is
 * outside root's real path, or is dangling (a write through it would create a
 * file wherever it points). Symlinks that stay inside root are allowed.
 * Components that do not exist yet end the walk. Returns the confined
 * (unresolved) path.
 *
 * This is a check, not a lock: a local user who can swap a component for a
 * symlink between this call and the use of the path can still race it. SMB
 * clients cannot create symlinks on this share (no SMB1 unix extensions).
 */
export async function resolveConfined(root: string, relative: string, options: ConfineOptions = {}): Promise<string> {
  const target = confine(root, relative, options);
  const base = normalizedRoot(root);
  const realRoot = await realpath(base);
  if (target === base) return target;
  const segments = target.slice(base.length + 1).split("/");
  let current = base;
  for (const segment of segments) {
    current = join(current, segment);
    let isLink: boolean;
    try {
      isLink = (await lstat(current)).isSymbolicLink();
    } catch (err) {
      const code = errnoCode(err);
      if (code === "ENOENT" || code === "ENOTDIR") break;
      throw err;
    }
    if (!isLink) continue;
    let real: string;
    try {
      real = await realpath(current);
    } catch (err) {
      const code = errnoCode(err);
      if (code !== "ENOENT" && code !== "ENOTDIR" && code !== "ELOOP") throw err;
      const link = await readlink(current).catch(() => "?");
      throw new PathError(
        relative,
        "symlink-dangling",
        `path ${show(relative)} goes through ${show(current.slice(base.length + 1))}, a symlink to ${show(link)} that cannot be resolved`,
      );
    }
    if (!inside(realRoot, real)) {
      throw new PathError(
        relative,
        "symlink-escape",
        `path ${show(relative)} goes through ${show(current.slice(base.length + 1))}, a symlink that leaves the share (to ${show(real)})`,
      );
    }
  }
  return target;
}

const PARTIAL_MARK = ".partial-";

/**
 * A temporary sibling of finalPath, `.<name>.partial-<random>`, to write to and
 * then rename() over finalPath, so the file appears only when complete (rename
 * within one directory is atomic). Long names are shortened so the temporary
 * name still fits in 255 bytes.
 */
export function atomicWriteTarget(finalPath: string): string {
  const name = basename(finalPath);
  if (name === "" || name === "." || name === "..") {
    throw new PathError(finalPath, "empty", `${show(finalPath)} does not name a file`);
  }
  const suffix = `${PARTIAL_MARK}${randomBytes(6).toString("hex")}`;
  const room = NAME_MAX - 1 - suffix.length;
  let kept = name;
  while (Buffer.byteLength(kept) > room) kept = [...kept].slice(0, -1).join("");
  return join(dirname(finalPath), `.${kept}${suffix}`);
}

/** True for names made by atomicWriteTarget (in-progress or abandoned writes), e.g. to hide them from listings. */
export function isAtomicWriteTemp(name: string): boolean {
  return /^\..*\.partial-[0-9a-f]{12}$/su.test(name);
}
