#!/usr/bin/env bash
# benchlab's main job from a fresh clone: make an environment, install, serve the smoke model with
# the embedded llama.cpp engine, run the built-in multiple-choice set and print the report.
# Give a server to benchmark it instead:  bash scripts/demo.sh http://127.0.0.1:8080
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[serve]'
benchlab=.venv/bin/benchlab

server="${1:-${BENCHLAB_SERVER:-}}"
if [ -n "$server" ]; then
  exec "$benchlab" run sample --server "$server"
fi

port=$(.venv/bin/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
log=$(mktemp)
"$benchlab" serve --smoke --port "$port" 2>"$log" &
server_pid=$!
trap 'kill "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null; rm -f "$log"' EXIT

for _ in $(seq 1 120); do
  if .venv/bin/python -c "import urllib.request, sys; urllib.request.urlopen('http://127.0.0.1:$port/health', timeout=1)" 2>/dev/null; then
    break
  fi
  if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "the smoke server did not start:" >&2
    cat "$log" >&2
    exit 1
  fi
  sleep 0.5
done

"$benchlab" run sample --server "http://127.0.0.1:$port" --no-think
