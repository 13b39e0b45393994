#!/usr/bin/env bash
# The test command: installs and starts what the tests need (redis-server,
# a Docker engine on its own socket, busybox for the test image), checks
# format, lint and types, runs every test, and stops the engine by its PID.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
bash scripts/lib/setup.sh redis-server docker.io busybox-static iptables iproute2 samba smbclient
echo "maro: lint and format (biome) ..." >&2
npx biome ci . --colors=off >&2
echo "maro: type check ..." >&2
npx turbo run typecheck --output-logs=errors-only >&2
npx tsc -p tsconfig.json >&2
trap 'bash scripts/lib/test-dockerd.sh stop' EXIT
MARO_TEST_DOCKER_HOST="$(bash scripts/lib/test-dockerd.sh start)"
export MARO_TEST_DOCKER_HOST
bash scripts/run-tests.sh "$@"
