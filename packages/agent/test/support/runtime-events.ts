// Records a runtime's events and waits for the ones a test expects.

import type { ContainerRuntime, RuntimeEvent } from "../../src/runtime/types.js";

export type ExitedEvent = Extract<RuntimeEvent, { kind: "exited" }>;

export class EventLog {
  readonly events: RuntimeEvent[] = [];
  private waiters: Array<() => void> = [];

  constructor(runtime: ContainerRuntime) {
    runtime.onEvent((event) => {
      this.events.push(event);
      for (const wake of this.waiters.splice(0)) wake();
    });
  }

  exitsOf(containerName: string): ExitedEvent[] {
    return this.events.filter((e): e is ExitedEvent => e.kind === "exited" && e.containerName === containerName);
  }

  /** Resolves with the first event matching `match`, or rejects after timeoutMs. */
  async waitFor(match: (e: RuntimeEvent) => boolean, timeoutMs: number): Promise<RuntimeEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.events.find(match);
      if (found) return found;
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(`no matching event within ${timeoutMs} ms; saw ${JSON.stringify(this.events)}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  async waitForExit(containerName: string, timeoutMs: number): Promise<ExitedEvent> {
    const event = await this.waitFor((e) => e.kind === "exited" && e.containerName === containerName, timeoutMs);
    if (event.kind !== "exited") throw new Error("unreachable");
    return event;
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
