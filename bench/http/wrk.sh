#!/bin/sh
# Load test of the transport alone: wrk against trivial_server (GET /ok), keep-alive.
# Usage: bench/http/wrk.sh BUILD_DIR [CONNECTIONS] [SECONDS] [IO_THREADS]
set -eu
build=${1:?build directory}
conns=${2:-50}
secs=${3:-10}
io=${4:-2}
port_file=$(mktemp)
"$build/bin/http_trivial_server" 0 "$io" >"$port_file" &
server=$!
trap 'kill -TERM $server 2>/dev/null; wait $server 2>/dev/null; rm -f "$port_file"' EXIT
for _ in 1 2 3 4 5 6 7 8 9 10; do [ -s "$port_file" ] && break; sleep 0.2; done
port=$(cat "$port_file")
wrk -t2 -c"$conns" -d"${secs}s" --latency "http://127.0.0.1:$port/ok"
