// The master's log collection: a Fluentd Forward-protocol sink (ForwardServer)
// writing per-container JSON-line files (LogStore), read back for `job logs`.
import type { LogEvent } from "./log-event.js";
import { parseTag } from "./log-event.js";
import type { LogStore } from "./log-store.js";

export { ForwardProtocolError, LogRejectedError } from "./errors.js";
export {
  type DecodeOptions,
  decodeForward,
  type ForwardEntry,
  type ForwardMessage,
  type ForwardMode,
  type ForwardOption,
} from "./forward-decode.js";
export { ForwardServer, type ForwardServerOptions, type ForwardServerStats, type SinkLog } from "./forward-server.js";
export { checkName, type LogEvent, type LogStream, parseTag, toLogEvent } from "./log-event.js";
export type { StoredLine } from "./log-files.js";
export { CAUGHT_UP, type CaughtUp, LogStore, type LogStoreOptions, type ReadOptions } from "./log-store.js";
export { EventTime } from "./msgpack-codec.js";

/**
 * The ForwardServer `onEvents` that stores into a LogStore: the tag names the file
 * (`maro.<job>.<container>`); any other tag rejects with LogRejectedError (dropped, logged).
 */
export function storeEvents(store: LogStore): (tag: string, events: LogEvent[]) => Promise<void> {
  return async (tag, events) => {
    const { job, container } = parseTag(tag);
    return store.append(job, container, events);
  };
}
