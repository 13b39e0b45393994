import type { ServiceError } from "@grpc/grpc-js";
import type { JobSpec, MasterClient } from "@maro/proto";

/** Calls a unary Master method by name and resolves with its answer. */
export function call<Res>(client: MasterClient, method: string, req: object): Promise<Res> {
  return new Promise((resolve, reject) => {
    const fn = (client as unknown as Record<string, (r: object, cb: (e: ServiceError | null, v: Res) => void) => void>)[
      method
    ];
    if (!fn) return reject(new Error(`no method ${method}`));
    fn.call(client, req, (err, res) => (err ? reject(err) : resolve(res)));
  });
}

/** A job spec with one entry per component type: cpu in millicores, 64 MiB each. */
export function jobSpec(
  name: string,
  components: Record<string, { cpu: number; num?: number; command?: string[] }>,
  extra: Partial<JobSpec> = {},
): JobSpec {
  return {
    name,
    components: Object.entries(components).map(([type, c]) => ({
      type,
      resources: { cpuMillis: c.cpu, memoryBytes: 64 * 1024 * 1024, gpu: 0 },
      num: c.num ?? 1,
      command: c.command ?? ["true"],
      shell: false,
    })),
    ...extra,
  };
}
