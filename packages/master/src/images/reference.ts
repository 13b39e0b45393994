// Image references a push may use: `name[:tag]`, Docker's grammar without a
// registry port or digest (no registry is reachable anyway).

/** One path component of a repository name, as Docker's reference grammar has it. */
const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const MAX_NAME = 255;

export interface ImageReference {
  name: string;
  tag: string;
}

/** Why `ref` is not a usable image reference, or null when it is. */
export function imageReferenceProblem(ref: string): string | null {
  if (ref === "") return "the image name is empty";
  const colon = ref.lastIndexOf(":");
  const name = colon === -1 ? ref : ref.slice(0, colon);
  const tag = colon === -1 ? null : ref.slice(colon + 1);
  if (name.length > MAX_NAME) return `the repository name is longer than ${MAX_NAME} characters`;
  if (tag !== null && !TAG.test(tag)) {
    return `tag "${tag}" is not valid (1 to 128 of [A-Za-z0-9_.-], not starting with "." or "-")`;
  }
  const bad = name.split("/").find((component) => !COMPONENT.test(component));
  if (bad !== undefined) {
    return (
      `"${name}" is not a valid repository name: each "/"-separated part must be lowercase ` +
      `[a-z0-9] words joined by ".", "_", "__" or "-" (no registry port, no digest)`
    );
  }
  return null;
}

/** Splits a valid reference; a missing tag is "latest" (as Docker does). Null when invalid. */
export function parseImageReference(ref: string): ImageReference | null {
  if (imageReferenceProblem(ref) !== null) return null;
  const colon = ref.lastIndexOf(":");
  return colon === -1 ? { name: ref, tag: "latest" } : { name: ref.slice(0, colon), tag: ref.slice(colon + 1) };
}

/** `name` → `name:latest`; `name:tag` unchanged; null when invalid. */
export function normalizeImageReference(ref: string): string | null {
  const parsed = parseImageReference(ref);
  return parsed ? `${parsed.name}:${parsed.tag}` : null;
}
