import { ForwardServer } from "../../packages/master/src/logs/index.ts";
const server = new ForwardServer({ host: "127.0.0.1", port: 24299, authorize: () => true, onEvents: async () => {} });
await server.start();
const c0 = process.cpuUsage();
process.on("SIGTERM", () => { const c = process.cpuUsage(c0); console.log("NOOP events", server.stats().events, "cpu us/event", (c.user + c.system) / server.stats().events, c); process.exit(0); });
