// Which GPUs a component may see. The scheduler hands each GPU component its
// own device indices (host numbering); everything else must see none, or a
// CUDA program would grab whatever GPU it finds first.

/**
 * Environment for a container. The NVIDIA container runtime reads
 * NVIDIA_VISIBLE_DEVICES (host indices) and exposes only those devices; inside
 * the container CUDA numbers what it sees from 0, so CUDA_VISIBLE_DEVICES
 * counts 0..n-1 rather than repeating the host indices. "void" keeps a
 * component without GPUs away from them even when an image (CUDA base images
 * do) says NVIDIA_VISIBLE_DEVICES=all.
 */
export function containerGpuEnv(gpuIndices: readonly number[]): Record<string, string> {
  if (gpuIndices.length === 0) return { NVIDIA_VISIBLE_DEVICES: "void", CUDA_VISIBLE_DEVICES: "" };
  return {
    NVIDIA_VISIBLE_DEVICES: gpuIndices.join(","),
    CUDA_VISIBLE_DEVICES: gpuIndices.map((_, i) => i).join(","),
  };
}

/**
 * Environment for a plain process, which sees every GPU of the host: CUDA is
 * told to number devices by PCI bus (the order the node reports them in, not
 * "fastest first") and to use only the component's. An empty
 * CUDA_VISIBLE_DEVICES hides them all.
 */
export function processGpuEnv(gpuIndices: readonly number[]): Record<string, string> {
  return { CUDA_DEVICE_ORDER: "PCI_BUS_ID", CUDA_VISIBLE_DEVICES: gpuIndices.join(",") };
}

/** HostConfig.DeviceRequests asking the engine for exactly these GPUs. */
export function gpuDeviceRequests(gpuIndices: readonly number[]) {
  return [{ Driver: "nvidia", DeviceIDs: gpuIndices.map(String), Capabilities: [["gpu"]] }];
}
