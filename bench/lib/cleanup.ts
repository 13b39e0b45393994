// Children a benchmark started (masters, agents, client processes) are killed
// by their PIDs when the benchmark is interrupted (SIGINT/SIGTERM), so none is
// left behind.
const live = new Map<number, () => void>();
let installed = false;

/** Remembers how to kill `pid` at once if this process is interrupted; returns the forget function. */
export function onInterrupt(pid: number, kill: () => void): () => void {
  if (!installed) {
    installed = true;
    const handler = (signal: NodeJS.Signals) => {
      for (const k of live.values()) {
        try {
          k();
        } catch {}
      }
      process.exit(signal === "SIGINT" ? 130 : 143);
    };
    process.once("SIGINT", handler);
    process.once("SIGTERM", handler);
  }
  live.set(pid, kill);
  return () => live.delete(pid);
}
