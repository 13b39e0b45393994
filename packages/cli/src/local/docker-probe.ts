import { request } from "node:http";
import { networkInterfaces } from "node:os";

/** Socket path of a DOCKER_HOST-style address (unix only for local clusters). */
export function dockerSocketPath(dockerHost: string): string {
  if (dockerHost.startsWith("unix://")) return dockerHost.slice("unix://".length);
  if (dockerHost.startsWith("/")) return dockerHost;
  throw new Error(`docker host "${dockerHost}" is not a unix socket; local clusters need unix:///path/to/docker.sock`);
}

function get(socketPath: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path, method: "GET", timeout: 3000 }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => {
        body += c;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("timeout", () => req.destroy(new Error("timed out")));
    req.on("error", reject);
    req.end();
  });
}

/**
 * Checks the Docker engine answers and returns the gateway of its default
 * bridge: containers reach the host (and the cluster's Redis) there.
 */
export async function probeDocker(dockerHost: string): Promise<{ bridgeGateway: string | null }> {
  const socketPath = dockerSocketPath(dockerHost);
  const ping = await get(socketPath, "/_ping").catch((err: Error) => {
    throw new Error(
      `no Docker engine at ${dockerHost} (${err.message}); start dockerd, set DOCKER_HOST or docker.socket in the deployment, or use runtime: process`,
    );
  });
  if (ping.status !== 200) throw new Error(`the Docker engine at ${dockerHost} answered ${ping.status} to a ping`);
  const bridge = await get(socketPath, "/networks/bridge");
  if (bridge.status !== 200) return { bridgeGateway: null };
  const parsed = JSON.parse(bridge.body) as {
    IPAM?: { Config?: { Gateway?: string; Subnet?: string }[] };
    Options?: Record<string, string>;
  };
  const declared = parsed.IPAM?.Config?.find((c) => c.Gateway)?.Gateway;
  if (declared) return { bridgeGateway: declared };
  // The default bridge often leaves Gateway out: it is then the address of
  // the bridge interface (listed only while the link is up), which Docker
  // takes as the subnet's first host.
  const ifname = parsed.Options?.["com.docker.network.bridge.name"] ?? "docker0";
  const address = networkInterfaces()[ifname]?.find((a) => a.family === "IPv4")?.address;
  if (address) return { bridgeGateway: address };
  const subnet = parsed.IPAM?.Config?.find((c) => c.Subnet && !c.Subnet.includes(":"))?.Subnet;
  return { bridgeGateway: subnet ? firstHost(subnet) : null };
}

/** "172.17.0.0/16" → "172.17.0.1". */
export function firstHost(cidr: string): string | null {
  const [base] = cidr.split("/");
  const parts = (base ?? "").split(".").map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) return null;
  const n = (((parts[0] ?? 0) << 24) | ((parts[1] ?? 0) << 16) | ((parts[2] ?? 0) << 8) | (parts[3] ?? 0)) >>> 0;
  const h = n + 1;
  return [h >>> 24, (h >>> 16) & 255, (h >>> 8) & 255, h & 255].join(".");
}
