#!/usr/bin/env bash
# Runs every benchmark of issue 6, then writes bench/RESULTS.md from their JSON
# results (bench/report.ts). A failing benchmark does not stop the others; the
# exit status says whether all of them ran. Usage: npm run bench
set -uo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)
export TURBO_TELEMETRY_DISABLED=1
# The master and agent benchmarks run the built daemons (packages/*/dist).
npx turbo run build --output-logs=errors-only || { echo "bench: build failed" >&2; exit 1; }
failed=()
for b in scheduler log-sink e2e-placement fan-in failure-detection docker-start agent-footprint; do
  echo "=== bench/$b.ts ==="
  t0=$(date +%s)
  if ! node --import tsx "bench/$b.ts"; then failed+=("$b"); fi
  echo "=== bench/$b.ts: $(( $(date +%s) - t0 )) s ==="
done
node --import tsx bench/report.ts
echo "bench: all done in $(( $(date +%s) - started )) s"
if [ ${#failed[@]} -gt 0 ]; then
  echo "bench: failed: ${failed[*]}" >&2
  exit 1
fi
