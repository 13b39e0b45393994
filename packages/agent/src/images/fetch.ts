// A pushed image's tarball from the master, over the agent channel's
// FetchImage call (server streaming, the node's certificate).

import type { AgentChannelClient, FetchImageChunkOut } from "@maro/proto";

/**
 * The tarball's bytes as they arrive; gRPC's flow control holds the master
 * back while the consumer is slower. A failed call throws an Error with the
 * image's hash, the gRPC status and the master's reason. Stopping early
 * cancels the call.
 */
export async function* fetchImageStream(client: AgentChannelClient, sha256: string): AsyncGenerator<Buffer> {
  const call = client.FetchImage({ sha256 });
  let finished = false;
  try {
    for await (const chunk of call as AsyncIterable<FetchImageChunkOut>) yield chunk.data;
    finished = true;
  } catch (err) {
    // A ServiceError's message is "<code> <STATUS>: <details>".
    throw new Error(`FetchImage sha256:${sha256.slice(0, 12)}: ${err instanceof Error ? err.message : String(err)}`);
  } finally {
    if (!finished) call.cancel();
  }
}
