#!/usr/bin/env bash
# What open event streams cost: GET /v1/realtime latency (wrk) with no stream open, then with
# STREAMS open streams (GET /v1/stream, each fed a sample a second by ingest), and the server's RSS.
#
# How to run: bench/server/wrk_streams.sh [BUILD_DIR]   # default: build-release next to bench/
# Needs wrk, curl and python3. Knobs (environment): STREAMS (500), DURATION (s, 10), CONNECTIONS
# (50), WRK_THREADS (1), KEEP_WORK=1 keeps the work directory. The server runs on embedded defaults
# (SQLite, in-process cache) on a free loopback port; both phases run against the same server with
# the same ingest of one sample a second, so the only difference is the open streams. Not in CTest.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
bench_name=wrk_streams.sh
# shellcheck source=bench/server/lib.sh
source "$here/lib.sh"
build=${1:-$here/../../build-release}
server_bin=$build/bin/sungrow-server
streams=${STREAMS:-500}
duration=${DURATION:-10}
connections=${CONNECTIONS:-50}
wrk_threads=${WRK_THREADS:-1}
device=bench-1
token=bench-streams-token-0123456789abcdef
viewer=bench-streams-viewer-0123456789abcdef

[[ -x $server_bin ]] || die "no server binary at $server_bin (run 'make release' or pass a build dir)"
for tool in wrk curl python3; do command -v "$tool" >/dev/null || die "$tool is not installed"; done
unset DATABASE_URL REDIS_URL DEVICE_TOKENS DEVICE_TOKENS_FILE VIEWER_TOKENS_FILE LISTEN_ADDR PORT \
  DATA_DIR IO_THREADS WORKER_THREADS LOG_LEVEL MAX_CONNECTIONS STREAMS_MAX STREAMS_PER_CREDENTIAL

work=$(mktemp -d /tmp/sungrow-streams.XXXXXX)
server_pid="" feeder_pid="" holder_pid=""
cleanup() {
  stop_pid "$holder_pid"
  stop_pid "$feeder_pid"
  stop_pid "$server_pid"
  if [[ ${KEEP_WORK:-0} == 1 ]]; then note "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

echo "$token:$device" > "$work/tokens"
python3 - "$work/viewers" "$viewer" "$device" <<'PY'
import hashlib, sys
path, token, device = sys.argv[1:]
with open(path, "w") as f:
    f.write(hashlib.sha256(token.encode()).hexdigest() + " " + device + "\n")
PY
"$server_bin" --port 0 --data-dir "$work/data" --device-tokens-file "$work/tokens" \
  --viewer-tokens-file "$work/viewers" --streams-max "$((streams + 10))" \
  --streams-per-credential "$((streams + 10))" --log-level warn > "$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 100); do
  port=$(sed -n 's/^sungrow-server listening on [^ ]*:\([0-9]*\)$/\1/p' "$work/server.log")
  [[ -n $port ]] && break
  sleep 0.1
done
[[ -n ${port:-} ]] || die "the server did not start: $(cat "$work/server.log")"
base=http://127.0.0.1:$port

# One new sample a second, in both phases.
python3 - "$base" "$token" "$device" <<'PY' > "$work/feeder.log" 2>&1 &
import datetime, json, sys, time, urllib.request
base, token, device = sys.argv[1:]
seq = 0
while True:
    seq += 1
    ts = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    body = json.dumps({"samples": [{"device_id": device, "ts": ts, "seq": seq,
                                    "pv_power_w": 1000 + seq % 500}]}).encode()
    req = urllib.request.Request(base + "/v1/ingest", body, {
        "Authorization": "Bearer " + token, "Content-Type": "application/json"})
    urllib.request.urlopen(req).read()
    time.sleep(1)
PY
feeder_pid=$!
sleep 2

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$server_pid/status"; }
p99_ms() {  # wrk --latency output → the 99th percentile in ms
  awk '$1 == "99%" { v = $2; if (v ~ /us$/) { sub(/us$/, "", v); v /= 1000 }
                     else if (v ~ /ms$/) { sub(/ms$/, "", v) }
                     else if (v ~ /s$/) { sub(/s$/, "", v); v *= 1000 } print v }' "$1"
}
run_wrk() {  # run_wrk NAME
  wrk -t "$wrk_threads" -c "$connections" -d "${duration}s" --latency \
    -H "Authorization: Bearer $viewer" "$base/v1/realtime?device_id=$device" > "$work/wrk-$1.txt"
}

rss_before=$(rss_kib)
run_wrk without
rss_without=$(rss_kib)

# STREAMS raw sockets on one GET /v1/stream each, read as events come (one process, select()).
python3 - "$port" "$viewer" "$device" "$streams" <<'PY' > "$work/holder.log" 2>&1 &
import selectors, socket, sys, time
port, viewer, device, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
sel = selectors.DefaultSelector()
request = (f"GET /v1/stream?device_id={device} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
           f"Authorization: Bearer {viewer}\r\n\r\n").encode()
for _ in range(n):
    s = socket.create_connection(("127.0.0.1", int(port)))
    s.sendall(request)
    s.setblocking(False)
    sel.register(s, selectors.EVENT_READ)
events = 0
opened = 0
last = time.time()
while True:
    for key, _ in sel.select(timeout=1):
        data = key.fileobj.recv(65536)
        if not data:
            sel.unregister(key.fileobj)
            continue
        opened += data.count(b"retry:")
        events += data.count(b"event: sample")
    if time.time() - last >= 1:
        print(f"open={opened} events={events}", flush=True)
        last = time.time()
PY
holder_pid=$!
for _ in $(seq 100); do
  open=$(curl -s "$base/metrics" | awk '/^sungrow_event_streams_open / {print $2}')
  [[ ${open:-0} -ge $streams ]] && break
  sleep 0.2
done
[[ ${open:-0} -ge $streams ]] || die "only ${open:-0} of $streams streams opened"
sleep 2
rss_streams_idle=$(rss_kib)
run_wrk with
rss_with=$(rss_kib)
events=$(tail -n 1 "$work/holder.log")

without=$(p99_ms "$work/wrk-without.txt")
with=$(p99_ms "$work/wrk-with.txt")
rps_without=$(awk '/^Requests\/sec/ {print $2}' "$work/wrk-without.txt")
rps_with=$(awk '/^Requests\/sec/ {print $2}' "$work/wrk-with.txt")
printf '| %-34s | %12s | %12s |\n' "GET /v1/realtime, $connections connections" "no streams" "$streams streams"
printf '| %-34s | %12s | %12s |\n' "----" "----" "----"
printf '| %-34s | %12s | %12s |\n' "p99 latency (ms)" "$without" "$with"
printf '| %-34s | %12s | %12s |\n' "requests/s" "$rps_without" "$rps_with"
printf '| %-34s | %12s | %12s |\n' "server RSS after the run (MiB)" \
  "$(awk -v k="$rss_without" 'BEGIN{printf "%.1f", k/1024}')" \
  "$(awk -v k="$rss_with" 'BEGIN{printf "%.1f", k/1024}')"
echo
echo "RSS before: $(awk -v k="$rss_before" 'BEGIN{printf "%.1f", k/1024}') MiB; with $streams idle-ish streams open: $(awk -v k="$rss_streams_idle" 'BEGIN{printf "%.1f", k/1024}') MiB"
echo "p99 ratio (with/without): $(awk -v a="$with" -v b="$without" 'BEGIN{printf "%.2f", a/b}'); stream holder: $events"
