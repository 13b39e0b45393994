// Joins the pieces of lines Docker split (lines over 16 KiB arrive as several
// records with the same partial_id, the final one marked partial_last). Pieces wait
// here until their last piece; the store persists what is waiting (a small journal
// file) with the batch, so an ack still means "durable" for a line half received.
import type { LogEvent, LogStream } from "./log-event.js";

export interface JoinedLine {
  timeMs: number;
  stream: LogStream;
  line: string;
}

interface Pending {
  id: string;
  timeMs: number;
  stream: LogStream;
  text: string;
}

export interface PartialLimits {
  /** A line growing past this many characters is written out in pieces of this size. */
  maxLineChars: number;
  /** Split lines waiting at once; the oldest is written out as is beyond this. */
  maxPending: number;
}

export class PartialLines {
  private readonly pending = new Map<string, Pending>();
  private dirty = false;

  constructor(private readonly limits: PartialLimits) {}

  /** Whole lines from these events, in order (whole events are passed through as they are); pieces are held until their line is complete. */
  push(events: LogEvent[]): JoinedLine[] {
    const out: JoinedLine[] = [];
    for (const event of events) {
      const partial = event.partial;
      if (!partial) {
        out.push(event);
        continue;
      }
      this.dirty = true;
      let held = this.pending.get(partial.id);
      if (!held) {
        held = { id: partial.id, timeMs: event.timeMs, stream: event.stream, text: "" };
        this.pending.set(partial.id, held);
      }
      held.text += event.line;
      if (partial.last) {
        this.pending.delete(partial.id);
        out.push({ timeMs: held.timeMs, stream: held.stream, line: held.text });
        continue;
      }
      if (held.text.length >= this.limits.maxLineChars) {
        out.push({ timeMs: held.timeMs, stream: held.stream, line: held.text });
        held.text = "";
      }
      if (this.pending.size > this.limits.maxPending) {
        const [oldestId, oldest] = this.pending.entries().next().value as [string, Pending];
        this.pending.delete(oldestId);
        out.push({ timeMs: oldest.timeMs, stream: oldest.stream, line: oldest.text });
      }
    }
    return out;
  }

  /** What to persist if anything changed since the last call: the journal text, "" when nothing waits. */
  takeJournal(): string | null {
    if (!this.dirty) return null;
    this.dirty = false;
    return this.pending.size === 0 ? "" : JSON.stringify([...this.pending.values()]);
  }

  /** Restores pieces from a journal; ignores one that does not parse (e.g. torn). */
  load(journal: string): void {
    let value: unknown;
    try {
      value = JSON.parse(journal);
    } catch {
      return;
    }
    if (!Array.isArray(value)) return;
    for (const item of value as unknown[]) {
      const p = item as Partial<Pending> | null;
      if (typeof p?.id === "string" && typeof p.timeMs === "number" && typeof p.text === "string")
        this.pending.set(p.id, {
          id: p.id,
          timeMs: p.timeMs,
          stream: p.stream === "stderr" ? "stderr" : "stdout",
          text: p.text,
        });
    }
  }
}
