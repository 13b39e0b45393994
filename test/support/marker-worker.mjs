// A job component for failure tests. Each run writes its own marker file,
// <markers>/<JOB_ID>.<COMPONENT_ID>.<NODE_NAME>.<pid>, with "start <ms>", a
// "tick <ms>" every 100 ms while it runs and "end <ms> <why>" when it stops
// on its own or by SIGTERM (a SIGKILLed run just stops ticking). It exits 0
// once <release> exists, or 3 after <max-ms> so it can never run forever.
//   node marker-worker.mjs <markers-dir> <release-file> <max-ms>
import { appendFileSync, existsSync } from "node:fs";
import { join } from "node:path";

const [markers, release, maxMs] = process.argv.slice(2);
if (!markers || !release || !maxMs) {
  console.error("usage: node marker-worker.mjs <markers-dir> <release-file> <max-ms>");
  process.exit(2);
}
const env = process.env;
const file = join(markers, `${env.JOB_ID}.${env.COMPONENT_ID}.${env.NODE_NAME}.${process.pid}`);
const mark = (line) => appendFileSync(file, `${line}\n`);
mark(`start ${Date.now()}`);
console.log(`${env.COMPONENT_ID} started on ${env.NODE_NAME} (pid ${process.pid})`);
const startedAt = Date.now();
const timer = setInterval(() => {
  mark(`tick ${Date.now()}`);
  if (existsSync(release)) finish(0, "released");
  else if (Date.now() - startedAt > Number(maxMs)) finish(3, "timed out");
}, 100);

function finish(code, why) {
  clearInterval(timer);
  mark(`end ${Date.now()} ${why}`);
  console.log(`${env.COMPONENT_ID} ${why} on ${env.NODE_NAME}`);
  process.exit(code);
}
process.on("SIGTERM", () => finish(143, "terminated"));
