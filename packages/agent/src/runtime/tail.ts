// The "output tail" both runtimes attach to an exit: the last lines of a
// component's output, at most ~4 KiB, cut at a line and UTF-8 boundary.

export const OUTPUT_TAIL_BYTES = 4096;
export const OUTPUT_TAIL_LINES = 50;

/** The last `maxLines` lines of `output`, no more than `maxBytes` bytes. */
export function outputTail(
  output: Buffer | string,
  maxLines: number = OUTPUT_TAIL_LINES,
  maxBytes: number = OUTPUT_TAIL_BYTES,
): string {
  let buf = typeof output === "string" ? Buffer.from(output, "utf8") : output;
  if (buf.length > maxBytes) {
    buf = buf.subarray(buf.length - maxBytes);
    // Drop the partial first line, unless the whole tail is one line.
    const newline = buf.indexOf(0x0a);
    if (newline >= 0 && newline < buf.length - 1) {
      buf = buf.subarray(newline + 1);
    } else {
      let start = 0;
      // Skip UTF-8 continuation bytes (10xxxxxx) of a character cut in half.
      while (start < buf.length && ((buf[start] ?? 0) & 0xc0) === 0x80) start++;
      buf = buf.subarray(start);
    }
  }
  // Keep the last maxLines lines; a trailing newline does not start a line.
  let end = buf.length;
  if (end > 0 && buf[end - 1] === 0x0a) end--;
  let seen = 0;
  for (let i = end - 1; i >= 0; i--) {
    if (buf[i] === 0x0a && ++seen === maxLines) {
      buf = buf.subarray(i + 1);
      break;
    }
  }
  return buf.toString("utf8");
}
