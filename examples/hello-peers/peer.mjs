// One component of the hello-peers job. Each component registers its TCP
// address in the cluster's Redis (MARO's pattern: a hash per job, wait for
// the expected count), then sends a greeting to the next peer in the ring and
// waits for the one from the previous peer.
import { connect, createServer } from "node:net";
import { Redis } from "ioredis";

const env = process.env;
const me = env.COMPONENT_ID;
const expected = Number(env.JOB_SIZE);
const host = env.NODE_ADDRESS || "127.0.0.1";
const redis = new Redis({ host: env.REDIS_HOST, port: Number(env.REDIS_PORT), password: env.REDIS_PASSWORD });
const peersKey = `job:${env.JOB_ID}:peers`;

const received = new Promise((resolve) => {
  const server = createServer((socket) => {
    let text = "";
    socket.setEncoding("utf8");
    socket.on("data", (chunk) => {
      text += chunk;
    });
    socket.on("end", () => {
      socket.end();
      server.close();
      resolve(text);
    });
  });
  server.listen(0, host, async () => {
    await redis.hset(peersKey, me, `${host}:${server.address().port}`);
  });
});

async function waitForPeers() {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const peers = await redis.hgetall(peersKey);
    if (Object.keys(peers).length >= expected) return peers;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`only some of ${expected} peers registered within 60s`);
}

const peers = await waitForPeers();
const names = Object.keys(peers).sort();
const next = names[(names.indexOf(me) + 1) % names.length];
const [nextHost, nextPort] = peers[next].split(":");
console.log(`${me}: found ${names.length} peers (${names.join(", ")}); greeting ${next}`);
await new Promise((resolve, reject) => {
  const socket = connect(Number(nextPort), nextHost, () => socket.end(`hello from ${me}`));
  socket.on("error", reject);
  socket.on("close", resolve);
});
const message = await received;
console.log(`${me}: received "${message}"`);
await redis.quit();
