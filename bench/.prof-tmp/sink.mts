import { mkdtempSync } from "node:fs";
import { ForwardServer, LogStore, storeEvents } from "../../packages/master/src/logs/index.ts";

const store = new LogStore({ dir: mkdtempSync("/tmp/prof/store-") });
const server = new ForwardServer({
  host: "127.0.0.1",
  port: 24299,
  authorize: () => true,
  onEvents: storeEvents(store),
});
await server.start();
const c0 = process.cpuUsage();
process.on("SIGTERM", () => {
  const c = process.cpuUsage(c0);
  console.log("events", server.stats().events, "cpu us/event", (c.user + c.system) / server.stats().events, c);
  process.exit(0);
});
