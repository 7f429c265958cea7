#!/usr/bin/env bash
# Stops the moto server that localstack/start.sh started (its pid is in .cavra/emulator.pid).
# A server started some other way is left alone.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
pidfile="$root/.cavra/emulator.pid"
if [ ! -f "$pidfile" ]; then
    echo "localstack/stop.sh: no emulator started by start.sh" >&2
    exit 0
fi
pid="$(cat "$pidfile")"
if kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q moto_server; then
    kill "$pid"
    for _ in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    echo "localstack/stop.sh: stopped the moto server (pid $pid)" >&2
else
    echo "localstack/stop.sh: pid $pid is not a running moto server" >&2
fi
rm -f "$pidfile"
