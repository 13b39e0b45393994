#!/usr/bin/env bash
# Runs test files (all of them, or those given) with node's test runner.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
if [ $# -gt 0 ]; then files=("$@"); else
  mapfile -t files < <(find packages test -name '*.test.ts' -not -path '*/node_modules/*' | sort)
fi
exec node --import tsx --test --test-concurrency=1 --test-timeout=300000 "${files[@]}"
