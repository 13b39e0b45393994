// Generates TypeScript types for the .proto files into src/gen with the same
// options the runtime loader uses (see src/load-options.ts).
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const require = createRequire(import.meta.url);
const bin = join(dirname(require.resolve("@grpc/proto-loader/package.json")), "build/bin/proto-loader-gen-types.js");
const protoDir = join(root, "proto");
const files = readdirSync(join(protoDir, "maro/v1")).map((f) => `maro/v1/${f}`);
rmSync(join(root, "src/gen"), { recursive: true, force: true });
execFileSync(
  process.execPath,
  [
    bin,
    "--longs=Number",
    "--enums=String",
    "--defaults",
    "--oneofs",
    "--grpcLib=@grpc/grpc-js",
    `--includeDirs=${protoDir}`,
    "--outDir=src/gen",
    ...files,
  ],
  { cwd: root, stdio: ["ignore", "ignore", "inherit"] },
);

// The generator writes extensionless relative imports; NodeNext ESM needs ".js".
for (const entry of readdirSync(join(root, "src/gen"), { recursive: true })) {
  const file = join(root, "src/gen", String(entry));
  if (!file.endsWith(".ts")) continue;
  const text = readFileSync(file, "utf8").replace(/from '(\.{1,2}\/[^']+)'/g, "from '$1.js'");
  writeFileSync(file, text);
}
