#!/usr/bin/env bash
# Starts or stops the Docker engine the tests use, on its own socket and data
# root, and makes the test image maro/busybox:test. Stops it by its PID only.
# Usage: test-dockerd.sh start|stop   (prints DOCKER_HOST on start)
set -euo pipefail
run=/run/maro-test
sock="$run/docker.sock"
pidfile="$run/dockerd.pid"
data=/var/lib/maro-test/docker
case "${1:-}" in
  start)
    mkdir -p "$run" "$data"
    if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null && [ -S "$sock" ]; then
      echo "unix://$sock"; exit 0
    fi
    rm -f "$pidfile"
    dockerd --host "unix://$sock" --data-root "$data" --exec-root "$run/exec" --pidfile "$pidfile" \
      >"$run/dockerd.log" 2>&1 &
    for _ in $(seq 1 100); do
      DOCKER_HOST="unix://$sock" docker version >/dev/null 2>&1 && break
      sleep 0.1
    done
    if ! DOCKER_HOST="unix://$sock" docker version >/dev/null 2>&1; then
      echo "dockerd did not start; see $run/dockerd.log" >&2; tail -20 "$run/dockerd.log" >&2; exit 1
    fi
    if ! DOCKER_HOST="unix://$sock" docker image inspect maro/busybox:test >/dev/null 2>&1; then
      rootfs=$(mktemp -d)
      mkdir -p "$rootfs/bin" "$rootfs/tmp" "$rootfs/etc"
      cp /bin/busybox "$rootfs/bin/busybox"
      for applet in $("$rootfs/bin/busybox" --list); do
        [ "$applet" = busybox ] || ln -sf busybox "$rootfs/bin/$applet"
      done
      echo "root:x:0:0:root:/:/bin/sh" >"$rootfs/etc/passwd"
      tar -C "$rootfs" -c . | DOCKER_HOST="unix://$sock" docker import -c 'ENV PATH=/bin' - maro/busybox:test >/dev/null
      rm -rf "$rootfs"
    fi
    echo "unix://$sock"
    ;;
  stop)
    if [ -f "$pidfile" ]; then
      pid=$(cat "$pidfile")
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
      rm -f "$pidfile"
    fi
    ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
