#!/usr/bin/env bash
# The quickstart: installs what it needs, builds, creates a local cluster
# (process runtime), runs examples/hello-peers, prints its result and status,
# and deletes the cluster again.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
bash scripts/lib/setup.sh redis-server samba smbclient
export MARO_HOME="${MARO_HOME:-$root/.maro-quickstart}"
maro() { node packages/cli/bin/maro.js "$@"; }
name=demo
if [ -f "$MARO_HOME/clusters/$name/cluster.json" ]; then maro grass delete "$name" >/dev/null || true; fi
cleanup() { echo "== maro grass delete $name" >&2; maro grass delete "$name" || true; }
trap cleanup EXIT
echo "== maro grass create examples/local/deployment.yml" >&2
maro grass create examples/local/deployment.yml
maro grass node list "$name"
echo "== maro grass job start $name examples/hello-peers/job.yml --wait" >&2
status=0
maro grass job start "$name" examples/hello-peers/job.yml --wait || status=$?
echo "== maro grass job list $name" >&2
maro grass job list "$name"
exit "$status"
