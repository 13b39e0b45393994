import { connect } from "node:net";
import { Packr } from "msgpackr";

const packr = new Packr({ useRecords: false });
const s = connect(24299, "127.0.0.1");
let n = 0;
const N = 5000;
const t0 = Date.now();
const send = () =>
  s.write(
    Buffer.from(
      packr.pack([
        "maro.p.c",
        Math.floor(Date.now() / 1000),
        { container_id: "x".repeat(64), container_name: "/c", source: "stdout", log: "d".repeat(90) },
        { chunk: "chunk" + n },
      ]),
    ),
  );
s.on("connect", send);
s.on("data", () => {
  if (++n >= N) {
    console.log("msgs/s", N / ((Date.now() - t0) / 1000));
    s.end();
    return;
  }
  send();
});
