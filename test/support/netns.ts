// Several hosts on one machine for failure tests: a Linux bridge on the host
// side and one network namespace per test host, each joined to the bridge by
// a veth pair, on a private /24 that exists only on this machine (no default
// route inside a namespace, so nothing can leave it). Names carry a per-run
// id so parallel runs do not collide; everything made here (namespaces,
// veths, the bridge, the host iptables rule) is removed by destroy(), by a
// process-exit hook, and by the next run if this process died before either.

import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** Where each live network records the PID of the process that owns it. */
const LEDGER = "/run/maro-test/netns";

function run(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

function tryRun(cmd: string, args: string[]): boolean {
  try {
    run(cmd, args);
    return true;
  } catch {
    return false;
  }
}

/** Why network namespaces cannot be used here, or null when they can. */
export function netnsUnavailable(): string | null {
  if (process.getuid?.() !== 0) return "network namespaces need root";
  for (const [cmd, args] of [
    ["ip", ["-V"]],
    ["iptables", ["--version"]],
  ] as const)
    if (!tryRun(cmd, [...args])) return `${cmd} is not installed (apt-get install -y iproute2 iptables)`;
  return null;
}

/** One test host: a namespace with one address on the bridge's subnet. */
export interface NetHost {
  readonly name: string;
  readonly ns: string;
  readonly ip: string;
  /** Prefix for a command run inside the namespace: [...host.exec, "node", ...]. */
  readonly exec: string[];
  /** Every PID whose network namespace is this host's (its agent and all it started). */
  pids(): number[];
  /** Drops all traffic between this host and `peerIp`, both ways, inside the namespace. */
  partitionFrom(peerIp: string): void;
  /** Removes the rules partitionFrom added. */
  heal(): void;
}

export interface TestNetwork {
  readonly id: string;
  readonly bridge: string;
  /** The host side's address on the bridge (where the master listens). */
  readonly hostIp: string;
  readonly subnet: string;
  readonly hosts: NetHost[];
  addHost(name: string): NetHost;
  destroy(): void;
}

function forwardRule(bridge: string, id: string): string[] {
  // Docker loads br_netfilter and sets FORWARD to DROP, which would also drop
  // traffic bridged between two namespaces: accept it for this bridge only.
  return ["FORWARD", "-i", bridge, "-o", bridge, "-m", "comment", "--comment", `maro-test ${id}`, "-j", "ACCEPT"];
}

function namespacesOf(id: string): string[] {
  let list = "";
  try {
    list = run("ip", ["netns", "list"]);
  } catch {
    return [];
  }
  const prefix = `maro-t${id}-`;
  return list
    .split("\n")
    .map((l) => l.split(" ")[0] ?? "")
    .filter((n) => n.startsWith(prefix));
}

function pidsIn(ns: string): number[] {
  try {
    return run("ip", ["netns", "pids", ns])
      .split("\n")
      .filter(Boolean)
      .map(Number)
      .filter((pid) => pid !== process.pid);
  } catch {
    return [];
  }
}

/** Removes everything a network with this id made; safe to call more than once. */
function teardown(id: string): void {
  const bridge = `maro-t${id}`;
  for (const ns of namespacesOf(id)) {
    // A namespace lives on while a process is in it: end what the test left there.
    for (const pid of pidsIn(ns)) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {}
    }
    tryRun("ip", ["netns", "delete", ns]);
  }
  tryRun("ip", ["link", "delete", bridge]);
  while (tryRun("iptables", ["-D", ...forwardRule(bridge, id)])) {}
  rmSync(join(LEDGER, id), { force: true });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Tears down networks whose owning test process is gone (it was killed before it could). */
function sweepOrphans(): void {
  let ids: string[] = [];
  try {
    ids = readdirSync(LEDGER);
  } catch {
    return;
  }
  for (const id of ids) {
    const owner = Number(readFileSync(join(LEDGER, id), "utf8").trim());
    if (!alive(owner)) teardown(id);
  }
}

/** A /24 in 10.77.0.0/16 that no interface or route here uses yet. */
function freeSubnet(): string {
  const used = run("ip", ["-4", "route", "show"]) + run("ip", ["-4", "addr", "show"]);
  for (let i = 0; i < 200; i++) {
    const third = 1 + (randomBytes(1).readUInt8(0) % 250);
    const prefix = `10.77.${third}`;
    if (!used.includes(`${prefix}.`)) return prefix;
  }
  throw new Error("no free 10.77.x.0/24 subnet for the test network");
}

/**
 * Makes a bridge `maro-t<id>` with the host side at 10.77.x.1/24. Hosts added
 * later get .2, .3, ... in their own namespaces `maro-t<id>-<name>`.
 */
export function createTestNetwork(): TestNetwork {
  sweepOrphans();
  const id = randomBytes(3).toString("hex");
  const bridge = `maro-t${id}`;
  const prefix = freeSubnet();
  const hostIp = `${prefix}.1`;
  mkdirSync(LEDGER, { recursive: true });
  writeFileSync(join(LEDGER, id), `${process.pid}\n`);
  const onExit = () => teardown(id);
  process.once("exit", onExit);
  const hosts: NetHost[] = [];
  try {
    run("ip", ["link", "add", bridge, "type", "bridge"]);
    run("ip", ["addr", "add", `${hostIp}/24`, "dev", bridge]);
    run("ip", ["link", "set", bridge, "up"]);
    const [chain, ...spec] = forwardRule(bridge, id);
    run("iptables", ["-I", chain as string, "1", ...spec]);
  } catch (err) {
    teardown(id);
    throw err;
  }
  const network: TestNetwork = {
    id,
    bridge,
    hostIp,
    subnet: `${prefix}.0/24`,
    hosts,
    addHost(name: string): NetHost {
      const index = hosts.length + 2;
      if (index > 254) throw new Error("at most 253 hosts on one test network");
      const ns = `maro-t${id}-${name}`;
      const veth = `mt${id}h${index}`;
      const ip = `${prefix}.${index}`;
      try {
        run("ip", ["netns", "add", ns]);
        run("ip", ["link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns]);
        run("ip", ["link", "set", veth, "master", bridge, "up"]);
        run("ip", ["-n", ns, "addr", "add", `${ip}/24`, "dev", "eth0"]);
        run("ip", ["-n", ns, "link", "set", "eth0", "up"]);
        run("ip", ["-n", ns, "link", "set", "lo", "up"]);
      } catch (err) {
        tryRun("ip", ["netns", "delete", ns]);
        throw err;
      }
      const exec = ["ip", "netns", "exec", ns];
      const rules: string[][] = [];
      const host: NetHost = {
        name,
        ns,
        ip,
        exec,
        pids: () => pidsIn(ns),
        partitionFrom(peerIp: string) {
          for (const rule of [
            ["OUTPUT", "-d", peerIp, "-j", "DROP"],
            ["INPUT", "-s", peerIp, "-j", "DROP"],
          ]) {
            run(exec[0] as string, [...exec.slice(1), "iptables", "-I", ...rule]);
            rules.push(rule);
          }
        },
        heal() {
          for (const rule of rules.splice(0)) run(exec[0] as string, [...exec.slice(1), "iptables", "-D", ...rule]);
        },
      };
      hosts.push(host);
      return host;
    },
    destroy() {
      process.off("exit", onExit);
      teardown(id);
    },
  };
  return network;
}
