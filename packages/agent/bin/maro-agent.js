#!/usr/bin/env node
// V8 settings the agent sets for itself, before any of its code loads (the CLI
// starts it as `node maro-agent.js`, so they cannot be command-line flags).
// The agent is small and mostly idle: it samples /proc once a second and
// talks gRPC. Measured on an idle process-runtime node, these keep ~5 MB off
// its RSS (and its start-up peak ~14 MB lower) at no extra cpu for sampling:
// no optimizing or baseline compiler (V8's compiler code stays unpaged and no
// optimized code is kept), heap sizing for memory, and a young generation
// that does not grow past its start.
// Throughput-heavy paths (shipping much log output) run on the interpreter,
// ~2-4x slower in JS; MARO_AGENT_JIT=1 keeps V8's defaults for such nodes.
import { setFlagsFromString } from "node:v8";

if (process.env.MARO_AGENT_JIT !== "1")
  for (const flag of ["--no-opt", "--no-sparkplug", "--optimize-for-size", "--semi-space-growth-factor=1"])
    setFlagsFromString(flag);
await import("../dist/main.js");
