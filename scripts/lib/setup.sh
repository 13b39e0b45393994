#!/usr/bin/env bash
# Brings a checkout to a runnable state: Debian packages, npm dependencies, build.
# Usage: setup.sh PKG...   (Debian packages to ensure)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
export TURBO_TELEMETRY_DISABLED=1
bash scripts/lib/ensure-packages.sh "$@"
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "maro: installing npm dependencies (npm ci) ..." >&2
  npm ci --no-audit --no-fund --loglevel=error >&2
fi
echo "maro: building ..." >&2
npx turbo run build --output-logs=errors-only >&2
