// One component of the ring-recover job: the components pass numbered
// messages around a ring over TCP for ROUNDS rounds, and the ring survives
// one of them being killed and restarted.
//
// Discovery is MARO's pattern: each component writes its TCP address into a
// Redis hash per job and waits until JOB_SIZE addresses are there. Progress
// lives in Redis too, so a restarted component resumes where it was:
//   job:<JOB_ID>:peers  component id → host:port (rewritten on every start)
//   job:<JOB_ID>:ring   "<id>:recv" → last round received, "<id>:sent" → last round delivered
// A receiver records a round in Redis before it acknowledges it, so a message
// is never counted twice and never lost: a sender that loses its connection
// re-reads the roster, reconnects to the (maybe new) address and sends again;
// a round the receiver already has is acknowledged without being counted.
import { connect, createServer } from "node:net";
import { Redis } from "ioredis";

const env = process.env;
const me = env.COMPONENT_ID;
const expected = Number(env.JOB_SIZE);
const rounds = Number(env.RING_ROUNDS || 40);
const pauseMs = Number(env.RING_ROUND_MS || 150);
const host = env.NODE_ADDRESS || "127.0.0.1";
const GIVE_UP_MS = 60_000;
const redis = new Redis({ host: env.REDIS_HOST, port: Number(env.REDIS_PORT), password: env.REDIS_PASSWORD });
const peersKey = `job:${env.JOB_ID}:peers`;
const ringKey = `job:${env.JOB_ID}:ring`;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const say = (text) => console.log(`${me}: ${text}`);

// ---- receiving: what the previous component sends --------------------------

let received = Number((await redis.hget(ringKey, `${me}:recv`)) ?? 0);
// Progress found in Redis at start means this is a restart; `received` moves
// once peers deliver, so it cannot tell later.
const receivedAtStart = received;
let wake = () => {};

async function onMessage(message) {
  if (message.round <= received) return { ack: message.round }; // a resend: already counted
  if (message.round !== received + 1) return { error: `expected round ${received + 1}, got ${message.round}` };
  await redis.hset(ringKey, `${me}:recv`, message.round);
  received = message.round;
  wake();
  return { ack: message.round };
}

const incoming = new Set();
const server = createServer((socket) => {
  incoming.add(socket);
  socket.on("close", () => incoming.delete(socket));
  socket.setEncoding("utf8");
  let buffered = "";
  socket.on("data", async (chunk) => {
    buffered += chunk;
    for (let i = buffered.indexOf("\n"); i >= 0; i = buffered.indexOf("\n")) {
      const line = buffered.slice(0, i);
      buffered = buffered.slice(i + 1);
      const reply = await onMessage(JSON.parse(line)).catch((err) => ({ error: String(err) }));
      if (!socket.destroyed) socket.write(`${JSON.stringify(reply)}\n`);
    }
  });
  socket.on("error", () => {});
});
await new Promise((resolve) => server.listen(0, host, resolve));
const address = `${host}:${server.address().port}`;
await redis.hset(peersKey, me, address);
say(`listening at ${address}`);

async function waitReceived(round) {
  const deadline = Date.now() + GIVE_UP_MS;
  while (received < round) {
    if (Date.now() > deadline) throw new Error(`round ${round} never arrived from the previous component`);
    await new Promise((resolve) => {
      wake = resolve;
      setTimeout(resolve, 500);
    });
  }
}

// ---- sending: to the next component, reconnecting when it moves ------------

async function waitForPeers() {
  const deadline = Date.now() + GIVE_UP_MS;
  for (;;) {
    const peers = await redis.hgetall(peersKey);
    if (Object.keys(peers).length >= expected) return Object.keys(peers).sort();
    if (Date.now() > deadline) throw new Error(`only ${Object.keys(peers).length} of ${expected} peers registered`);
    await sleep(50);
  }
}

const names = await waitForPeers();
const next = names[(names.indexOf(me) + 1) % names.length];
say(`found ${names.length} peers (${names.join(", ")}); sending to ${next}`);

let link = null; // { socket, address, replies: string[], waiting }
let lastAddress = null;

function open(target) {
  return new Promise((resolve, reject) => {
    const [h, p] = target.split(":");
    const socket = connect(Number(p), h);
    const state = { socket, address: target, lines: [], notify: () => {}, closed: false };
    let buffered = "";
    socket.setEncoding("utf8");
    socket.on("timeout", () => socket.destroy(new Error("no answer within 3 s")));
    socket.setTimeout(3000);
    socket.once("connect", () => {
      socket.setTimeout(0);
      resolve(state);
    });
    socket.once("error", reject);
    socket.on("data", (chunk) => {
      buffered += chunk;
      for (let i = buffered.indexOf("\n"); i >= 0; i = buffered.indexOf("\n")) {
        state.lines.push(buffered.slice(0, i));
        buffered = buffered.slice(i + 1);
      }
      state.notify();
    });
    socket.on("close", () => {
      state.closed = true;
      state.notify();
    });
  });
}

async function exchange(state, round) {
  state.socket.setTimeout(3000);
  state.socket.write(`${JSON.stringify({ round, from: me })}\n`);
  while (state.lines.length === 0) {
    if (state.closed) throw new Error("connection closed");
    await new Promise((resolve) => {
      state.notify = resolve;
    });
  }
  state.socket.setTimeout(0);
  const reply = JSON.parse(state.lines.shift());
  if (reply.ack !== round) throw new Error(reply.error ?? `unexpected reply ${JSON.stringify(reply)}`);
}

async function deliver(round) {
  const deadline = Date.now() + GIVE_UP_MS;
  for (;;) {
    try {
      if (!link) {
        const target = await redis.hget(peersKey, next);
        link = await open(target);
        if (lastAddress && target !== lastAddress) say(`reconnected to ${next} at its new address ${target}`);
        lastAddress = target;
      }
      await exchange(link, round);
      return;
    } catch (err) {
      link?.socket.destroy();
      link = null;
      // The next component may already have this round (it records before it acknowledges).
      if (Number((await redis.hget(ringKey, `${next}:recv`)) ?? 0) >= round) return;
      if (Date.now() > deadline) throw new Error(`could not deliver round ${round} to ${next}: ${err.message}`);
      say(`lost ${next} (${err.message}); re-reading the roster`);
      await sleep(300);
    }
  }
}

// ---- the rounds ---------------------------------------------------------------

const sent = Number((await redis.hget(ringKey, `${me}:sent`)) ?? 0);
if (sent > 0 || receivedAtStart > 0) say(`restarted: resuming after round ${sent} sent, ${receivedAtStart} received`);
for (let round = sent + 1; round <= rounds; round++) {
  await deliver(round);
  await redis.hset(ringKey, `${me}:sent`, round);
  await waitReceived(round);
  if (round % 10 === 0) say(`round ${round} done`);
  await sleep(pauseMs);
}
await waitReceived(rounds);
say(`completed ${rounds} rounds`);
// Everyone this component talks to has what it needs: close every connection.
link?.socket.end();
server.close();
for (const socket of incoming) socket.end();
await redis.quit();
