import { request } from "node:http";

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
  const parsed = JSON.parse(bridge.body) as { IPAM?: { Config?: { Gateway?: string }[] } };
  return { bridgeGateway: parsed.IPAM?.Config?.find((c) => c.Gateway)?.Gateway ?? null };
}
