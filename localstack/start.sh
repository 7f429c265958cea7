#!/usr/bin/env bash
# Starts the local AWS emulator (moto's server on 127.0.0.1:4566, through ./moto_server.py so
# that each request is atomic as in DynamoDB) unless something already answers there, then
# creates the approvals table and the provider secret (./bootstrap).
#
#   localstack/start.sh            # idempotent: safe to run again, and from several processes
#
# moto is installed into .venv-emulator/ at the repository root on first use
# (python3 -m venv + pip from PyPI). The server's pid and log are .cavra/emulator.pid and
# .cavra/emulator.log. Stop it with localstack/stop.sh. Everything talks to it through the
# standard AWS settings, e.g.
#   AWS_ENDPOINT_URL=http://127.0.0.1:4566 AWS_REGION=us-east-1 \
#   AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
# Users with Docker can run real LocalStack instead: localstack/docker-compose.yml.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
host=127.0.0.1
port="${CAVRA_EMULATOR_PORT:-4566}"
venv="$root/.venv-emulator"
# The version ./moto_server.py was written against (it uses moto's WSGI app directly).
moto_version=5.2.5
state="$root/.cavra"
mkdir -p "$state"

# Whether any HTTP server answers on the port (moto, or LocalStack from docker-compose.yml).
answers() {
    python3 - "$host" "$port" <<'PY'
import sys, urllib.error, urllib.request
try:
    urllib.request.urlopen(f"http://{sys.argv[1]}:{sys.argv[2]}/moto-api/", timeout=1).read()
except urllib.error.HTTPError:
    pass  # an answer all the same
except Exception:
    sys.exit(1)
PY
}

# One starter at a time (several test processes may call this at once).
exec 9>"$state/emulator.lock"
flock 9

if ! answers; then
    if [ ! -x "$venv/bin/moto_server" ]; then
        echo "localstack/start.sh: installing moto into $venv" >&2
        python3 -m venv "$venv"
        "$venv/bin/pip" install --quiet --disable-pip-version-check "moto[server,dynamodb,secretsmanager]==$moto_version" >&2
    fi
    echo "localstack/start.sh: starting moto on $host:$port (log: $state/emulator.log)" >&2
    # setsid: the server outlives the shell (and the test process) that started it.
    # CAVRA_EMULATOR_IDLE_EXIT (seconds, the tests set it): exit once idle that long.
    # CAVRA_EMULATOR_LEASES (a folder, the tests set it): exit once every process that left
    # its PID there has ended.
    setsid "$venv/bin/python" "$here/moto_server.py" -H "$host" -p "$port" \
        --idle-exit "${CAVRA_EMULATOR_IDLE_EXIT:-0}" --leases "${CAVRA_EMULATOR_LEASES:-}" \
        >"$state/emulator.log" 2>&1 </dev/null 9>&- &
    echo $! >"$state/emulator.pid"
    for _ in $(seq 1 300); do
        if answers; then break; fi
        if ! kill -0 "$(cat "$state/emulator.pid")" 2>/dev/null; then
            echo "localstack/start.sh: the moto server exited; see $state/emulator.log" >&2
            tail -20 "$state/emulator.log" >&2 || true
            exit 1
        fi
        sleep 0.1
    done
    if ! answers; then
        echo "localstack/start.sh: the moto server did not answer on $host:$port within 30 s" >&2
        exit 1
    fi
elif ! python3 - "$host" "$port" <<'PY'
import sys, urllib.request
try:
    body = urllib.request.urlopen(f"http://{sys.argv[1]}:{sys.argv[2]}/cavra-emulator", timeout=1).read()
    sys.exit(0 if body.startswith(b"cavra emulator") else 1)
except Exception:
    sys.exit(1)
PY
then
    echo "localstack/start.sh: using the server already on $host:$port (not started by this script;" \
        "if it is a plain moto_server, concurrent writes are not atomic and the race checks may fail)" >&2
fi

export AWS_ENDPOINT_URL="${AWS_ENDPOINT_URL:-http://$host:$port}"
"$here/bootstrap"
