// Starts the log sink in a child process (bench/lib/log-sink-child.ts) and asks it
// for samples of its event count, CPU time and memory.
import { type ChildProcess, fork } from "node:child_process";
import { join } from "node:path";
import type { ChildMessage, ChildRequest, SinkSample } from "./log-sink-child.js";

export type { SinkSample } from "./log-sink-child.js";

export class SinkProcess {
  private waiting: ((s: SinkSample) => void)[] = [];

  private constructor(
    private readonly child: ChildProcess,
    readonly port: number,
    readonly pid: number,
  ) {
    child.on("message", (m: ChildMessage) => {
      if (m.kind === "sample") this.waiting.shift()?.(m.sample);
    });
  }

  /** fsync: false runs the store without O_DSYNC/fdatasync (acks mean "written to the OS"). */
  static start(options: { fsync?: boolean } = {}): Promise<SinkProcess> {
    const child = fork(join(import.meta.dirname, "log-sink-child.ts"), options.fsync === false ? ["--no-fsync"] : [], {
      execArgv: ["--import", "tsx"],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    return new Promise((resolve, reject) => {
      child.once("error", reject);
      child.once("exit", (code) => reject(new Error(`the sink exited early (${code})`)));
      child.once("message", (m: ChildMessage) => {
        if (m.kind === "ready") resolve(new SinkProcess(child, m.port, child.pid ?? 0));
      });
    });
  }

  private ask(cmd: ChildRequest["cmd"]): Promise<SinkSample> {
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      this.child.send({ cmd } satisfies ChildRequest);
    });
  }

  sample(): Promise<SinkSample> {
    return this.ask("sample");
  }

  /** Resets the peak RSS and first/last event times; returns a sample taken just after. */
  reset(): Promise<SinkSample> {
    return this.ask("reset");
  }

  /** Samples until `events` are stored (or the timeout passes); returns the last sample. */
  async waitForEvents(events: number, timeoutMs: number): Promise<SinkSample> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const s = await this.sample();
      if (s.events >= events || Date.now() > deadline) return s;
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  stop(): Promise<void> {
    return new Promise((resolve) => {
      this.child.removeAllListeners("exit");
      this.child.once("exit", () => resolve());
      this.child.send({ cmd: "exit" } satisfies ChildRequest);
    });
  }
}
