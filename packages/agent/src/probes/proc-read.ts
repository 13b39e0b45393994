// Reads /proc files into one reused buffer. procfs files report size 0, so
// fs.readFile reads each into freshly allocated chunks: several reads a second
// would keep making garbage for the collector. procfs answers from the kernel,
// never waiting on a disk, so a synchronous read is quick.

import { closeSync, openSync, readSync } from "node:fs";

const START = 16 * 1024;
const KEEP = 64 * 1024;
let buffer = Buffer.allocUnsafeSlow(START);

/** The file's text; throws as fs.readFileSync would (ENOENT for a process that is gone). */
export function readProcText(path: string): string {
  const fd = openSync(path, "r");
  try {
    let length = 0;
    for (;;) {
      if (length === buffer.length) {
        const bigger = Buffer.allocUnsafeSlow(buffer.length * 2);
        buffer.copy(bigger, 0, 0, length);
        buffer = bigger;
      }
      const got = readSync(fd, buffer, length, buffer.length - length, null);
      if (got === 0) break;
      length += got;
    }
    const text = buffer.toString("utf8", 0, length);
    // A rare big file (a long environment) does not keep its buffer.
    if (buffer.length > KEEP) buffer = Buffer.allocUnsafeSlow(START);
    return text;
  } finally {
    closeSync(fd);
  }
}

/** readProcText as a promise, for probes that read with `await` and `.catch`. */
export async function readProcFile(path: string): Promise<string> {
  return readProcText(path);
}
