// What the agent asks of a container runtime. Two implementations: docker
// (Docker Engine API) and process (child processes, no isolation).

export interface LaunchSpec {
  /** Unique on the node; the docker container name, or the process's key. */
  containerName: string;
  /** Image reference; required by docker, ignored by process. */
  image: string;
  /** argv; when shell is true, command holds one string run as `sh -c`. */
  command: string[];
  shell: boolean;
  env: Record<string, string>;
  /** Limits: docker applies them (--cpus, --memory); process ignores them. */
  cpuMillis: number;
  memoryBytes: number;
  /** Devices this component alone may use. */
  gpuIndices: number[];
  /** Host directory bound at target inside the component. */
  mount?: { source: string; target: string };
  /** Process runtime: working directory when it exists on this host. */
  workdir?: string;
  /** Labels that let the agent find its containers again (maro.*). */
  labels: Record<string, string>;
}

export type RuntimeEvent =
  | { kind: "running"; containerName: string; timeMs: number }
  | {
      kind: "exited";
      containerName: string;
      exitCode: number;
      oomKilled: boolean;
      /** The last lines of output (stdout and stderr), at most ~4 KiB. */
      outputTail: string;
      timeMs: number;
    };

export interface ContainerInfo {
  containerName: string;
  running: boolean;
  labels: Record<string, string>;
}

export interface ContainerRuntime {
  readonly kind: "docker" | "process";
  /**
   * Starts a component. Resolves once it runs (a "running" event is emitted
   * too); rejects with a RuntimeError whose message says what to fix (image
   * missing, command not found, name in use).
   */
  start(spec: LaunchSpec): Promise<void>;
  /** SIGTERM, then SIGKILL after graceSeconds. Resolves when it is gone. Unknown names are a no-op. */
  stop(containerName: string, graceSeconds: number): Promise<void>;
  /** Components this runtime manages whose labels include all of `labels`. */
  list(labels: Record<string, string>): Promise<ContainerInfo[]>;
  /** Every exit is reported once, the moment the runtime learns of it. */
  onEvent(listener: (event: RuntimeEvent) => void): void;
  /** Stops watching (does not stop components). */
  close(): Promise<void>;
}

export class RuntimeError extends Error {
  constructor(
    readonly code: "IMAGE_NOT_FOUND" | "NAME_IN_USE" | "START_FAILED" | "RUNTIME_UNAVAILABLE",
    message: string,
  ) {
    super(message);
    this.name = "RuntimeError";
  }
}
