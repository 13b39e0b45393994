// Redis keys of the image registry (pushed `docker save` tarballs).

export interface ImageKeys {
  /** Hash: image name (`name:tag`) → image record (JSON {name, sha256, size, pushedAtMs}). */
  images: string;
  /** Set of the node names that have loaded the tarball with this sha256. */
  imageNodes(sha256: string): string;
}

export function imageKeys(cluster: string): ImageKeys {
  const prefix = `maro:${cluster}`;
  return {
    images: `${prefix}:images`,
    imageNodes: (sha256) => `${prefix}:image-nodes:${sha256}`,
  };
}
