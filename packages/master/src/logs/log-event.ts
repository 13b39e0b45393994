// What a log record means to maro: one line of a container's stdout or stderr.
// Docker's fluentd driver sends {container_id, container_name, source, log} and splits
// lines over 16 KiB into pieces marked partial_message/partial_id/partial_ordinal/
// partial_last (all strings); a generic client sends {log|message, stream?|source?}.
import { LogRejectedError } from "./errors.js";
import { timeNsToMs } from "./forward-decode.js";

export type LogStream = "stdout" | "stderr";

export interface LogEvent {
  timeMs: number;
  stream: LogStream;
  /** The line without its trailing newline (a piece of one, when partial). */
  line: string;
  /** The sending container as the record names it (Docker's container_name), or "". */
  container: string;
  /** Set on the pieces of a line Docker split; the store joins them. */
  partial?: { id: string; last: boolean };
}

const decoder = new TextDecoder();

function text(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (value instanceof Uint8Array) return decoder.decode(value);
  return undefined;
}

function isTrue(value: unknown): boolean {
  return value === true || value === "true";
}

function jsonOf(record: Record<string, unknown>): string {
  return JSON.stringify(record, (_key, v: unknown) => {
    if (typeof v === "bigint") return v.toString();
    if (v instanceof Uint8Array) return decoder.decode(v);
    return v;
  });
}

/**
 * Maps one record to a LogEvent. A record with neither `log` nor `message` is kept whole,
 * as its JSON. `fallbackTimeMs` stands in when the client sent no time.
 */
export function toLogEvent(record: Record<string, unknown>, timeNs: bigint | number, fallbackTimeMs: number): LogEvent {
  let line = text(record.log) ?? text(record.message) ?? jsonOf(record);
  if (line.endsWith("\n")) line = line.slice(0, line.endsWith("\r\n") ? -2 : -1);
  const source = text(record.source) ?? text(record.stream);
  const name = text(record.container_name) ?? text(record.container_id) ?? "";
  const event: LogEvent = {
    timeMs: timeNsToMs(timeNs, fallbackTimeMs),
    stream: source === "stderr" ? "stderr" : "stdout",
    line,
    container: name.startsWith("/") ? name.slice(1) : name,
  };
  const partialId = text(record.partial_id);
  if (isTrue(record.partial_message) && partialId) event.partial = { id: partialId, last: isTrue(record.partial_last) };
  return event;
}

const TAG = /^maro\.([^.]+)\.(.+)$/;
const NAME = /^[a-z0-9][a-z0-9_.-]{0,127}$/;

/**
 * A job or container name that is safe as one path segment under the log directory:
 * `[a-z0-9][a-z0-9_.-]*`, at most 128 characters, no `..`. Throws LogRejectedError.
 */
export function checkName(kind: "job" | "container", name: string): string {
  if (!NAME.test(name) || name.includes(".."))
    throw new LogRejectedError(
      `${kind} name ${JSON.stringify(name.slice(0, 80))} is not allowed (want [a-z0-9][a-z0-9_.-]*, no "..")`,
    );
  return name;
}

/** Splits a tag `maro.<job>.<container>` (the job has no dots). Throws LogRejectedError for anything else. */
export function parseTag(tag: string): { job: string; container: string } {
  const m = TAG.exec(tag);
  if (!m) throw new LogRejectedError(`tag ${JSON.stringify(tag.slice(0, 80))} is not maro.<job>.<container>`);
  return { job: checkName("job", m[1] as string), container: checkName("container", m[2] as string) };
}
