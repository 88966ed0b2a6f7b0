#!/usr/bin/env bash
# HTTP load benchmark of sungrow-server with wrk: realtime against a Caddy static-file ceiling, ingest, RSS.
#
# How to run: build the server (`make release`, or any build dir with bin/sungrow-server), then
#   bench/server/wrk_server.sh [BUILD_DIR]            # default BUILD_DIR: build-release next to bench/
# It needs wrk, curl and caddy (2.x) on PATH; for the PostgreSQL + Redis part also the PostgreSQL 15
# binaries (PG_BIN, default /usr/lib/postgresql/15/bin) and redis-server — set WITH_PG=0 to skip that
# part. Everything runs on loopback ports chosen at random among free ones, in a throwaway directory
# under /tmp (KEEP_WORK=1 keeps it, with every wrk output and server log). When run as root,
# PostgreSQL runs as the `postgres` user. Every process the script starts is stopped on exit, also on
# Ctrl-C or an error. Knobs (environment): DURATION (s, default 10), CONNECTIONS (50), WRK_THREADS (1),
# IO_THREADS_LIST ("1 2": the realtime runs repeat for each), WORKER_THREADS (server default when
# unset). Each scenario gets a freshly started server (fresh SQLite file / fresh PostgreSQL database),
# so its VmHWM is the peak RSS of that scenario alone. The static ceiling is a file with exactly the
# bytes of a realtime answer, served by Caddy's file_server over plain HTTP, measured before and after
# the server runs with the same wrk flags. Ingest posts batches of 30 samples: `replay` sends one
# fixed batch again and again (all duplicates after the first request — cheap by design, so this is
# the parse/validate/ON CONFLICT path), `unique` gives every batch new timestamps (every sample is
# inserted and rolled up); /metrics counters before and after each run confirm what was inserted. With
# PostgreSQL + Redis, realtime is also measured with Redis stopped (degraded mode: every read fails
# over to PostgreSQL). The figures go to stdout as a table (progress on stderr); not part of CTest.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
bench_name=wrk_server.sh
# shellcheck source=bench/server/lib.sh
source "$here/lib.sh"
build=${1:-$here/../../build-release}
server_bin=$build/bin/sungrow-server
duration=${DURATION:-10}
connections=${CONNECTIONS:-50}
wrk_threads=${WRK_THREADS:-1}
io_threads_list=${IO_THREADS_LIST:-"1 2"}
worker_threads=${WORKER_THREADS:-}
with_pg=${WITH_PG:-1}
pg_bin=${PG_BIN:-/usr/lib/postgresql/15/bin}
batch=30
device=bench-1


[[ -x $server_bin ]] || die "no server binary at $server_bin (run 'make release' or pass a build dir)"
for tool in wrk curl caddy; do command -v "$tool" >/dev/null || die "$tool is not installed"; done
if [[ $with_pg == 1 ]]; then
  [[ -x $pg_bin/initdb && -x $pg_bin/pg_ctl ]] || die "no PostgreSQL binaries in $pg_bin (WITH_PG=0 skips)"
  command -v redis-server >/dev/null || die "redis-server is not installed (WITH_PG=0 skips)"
fi
# The server reads its configuration from the environment too; a stray variable must not leak in.
unset DATABASE_URL REDIS_URL DEVICE_TOKENS DEVICE_TOKENS_FILE CACHE_TTL_S LISTEN_ADDR PORT DATA_DIR \
  IO_THREADS WORKER_THREADS PG_POOL_SIZE LOG_LEVEL MAX_CONNECTIONS

work=$(mktemp -d /tmp/sungrow-wrk.XXXXXX)
chmod 755 "$work"  # the postgres user has to reach its data directory inside
server_pid="" caddy_pid="" redis_pid="" watcher_pid="" pg_data=""

cleanup() {
  stop_pid "$watcher_pid"
  stop_pid "$server_pid"
  stop_pid "$caddy_pid"
  stop_pid "$redis_pid"
  stop_postgres
  if [[ ${KEEP_WORK:-0} == 1 ]]; then note "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM


# start_server NAME ARGS…: a fresh server on a fresh data dir; sets server_pid, server_port, server_url.
start_server() {
  local name=$1
  shift
  local dir=$work/$name
  mkdir -p "$dir"
  local threads=()
  [[ -n $worker_threads ]] && threads=(--worker-threads "$worker_threads")
  "$server_bin" --port 0 --listen-addr 127.0.0.1 --data-dir "$dir" \
    --device-tokens "$token:$device" "${threads[@]}" "$@" >"$dir/server.log" 2>&1 &
  server_pid=$!
  server_port=""
  for _ in $(seq 150); do
    server_port=$(sed -n 's/^sungrow-server listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$dir/server.log")
    [[ -n $server_port ]] && break
    kill -0 "$server_pid" 2>/dev/null || { cat "$dir/server.log" >&2; die "server '$name' exited"; }
    sleep 0.1
  done
  [[ -n $server_port ]] || die "server '$name' printed no port: $(cat "$dir/server.log")"
  server_url=http://127.0.0.1:$server_port
}

stop_server() { stop_pid "$server_pid"; server_pid=""; }

watch_rss() {  # watch_rss PID FILE: the largest VmRSS seen, every 100 ms, until killed
  local max=0 rss
  while kill -0 "$1" 2>/dev/null; do
    rss=$(status_kib "$1" VmRSS 2>/dev/null || echo 0)
    ((rss > max)) && max=$rss && echo "$max" >"$2"
    sleep 0.1
  done
}


seed_sample() {  # one full sample at the current time, so /v1/realtime has something to answer
  local ts
  ts=$(date -u +%Y-%m-%dT%H:%M:%S.000Z)
  cat <<EOF
{"samples":[{"device_id":"$device","ts":"$ts","seq":1,"pv_power_w":2450,"mppt1_voltage_v":312.5,
"mppt1_current_a":3.92,"mppt2_voltage_v":305.2,"mppt2_current_a":4.01,"load_power_w":690,
"grid_power_w":-560,"grid_power_source":"meter","battery_power_w":-1200,"grid_voltage_v":231.4,
"grid_frequency_hz":50.01,"inverter_temperature_c":41.3,"battery_soc_pct":64.5,"battery_soh_pct":98.0,
"battery_voltage_v":52.3,"battery_current_a":-22.94,"battery_temperature_c":24.5,
"pv_energy_today_kwh":7.4,"pv_energy_total_kwh":12345.6,"grid_import_today_kwh":3.01,
"grid_import_total_kwh":4321.0,"grid_export_today_kwh":1.2,"grid_export_total_kwh":2345.0,
"battery_charge_today_kwh":2.5,"battery_charge_total_kwh":1500.0,"battery_discharge_today_kwh":2.4,
"battery_discharge_total_kwh":1400.0,"load_energy_today_kwh":9.1,"running_state":2,
"power_flow":{"pv":true,"charging":true,"discharging":false,"load":true,"exporting":true,"importing":false}}]}
EOF
}

seed() {
  local reply
  reply=$(seed_sample | curl -sS --fail-with-body -H "Authorization: Bearer $token" \
    -H "Content-Type: application/json" --data-binary @- "$server_url/v1/ingest") ||
    die "seeding ingest failed: $reply"
}

metric() {  # metric NAME: a counter from /metrics (0 when absent)
  curl -sS "$server_url/metrics" | awk -v m="$1" '$1 == m { print $2; found = 1 } END { if (!found) print 0 }'
}

results=$work/results.tsv
printf 'scenario\treq/s\tsamples/s\tp50 ms\tp99 ms\tnon-2xx\tsocket errors\tpeak VmRSS MiB\tVmHWM MiB\tnote\n' >"$results"

# load NAME PID URL [WRK OPTIONS…] [-- SCRIPT ARGS…]: one wrk run while the target's RSS is watched.
# Sets last_rps, last_p50, last_p99, last_non2xx, last_sockerr, last_peak_rss, last_hwm.
load() {
  local name=$1 pid=$2 url=$3
  shift 3
  local options=() script_args=()
  while (($#)) && [[ $1 != -- ]]; do options+=("$1"); shift; done
  (($#)) && shift && script_args=("$@")
  local out=$work/$name.wrk rss_file=$work/$name.rss
  echo 0 >"$rss_file"
  watch_rss "$pid" "$rss_file" &
  watcher_pid=$!
  # A script's arguments follow the URL on wrk's command line.
  wrk -t"$wrk_threads" -c"$connections" -d"${duration}s" --latency "${options[@]}" "$url" \
    "${script_args[@]}" >"$out" 2>&1 || { cat "$out" >&2; die "wrk failed in $name"; }
  stop_pid "$watcher_pid"
  watcher_pid=""
  last_rps=$(awk '/^Requests\/sec:/ { print $2 }' "$out")
  last_p50=$(to_ms "$(awk '$1 == "50%" { print $2 }' "$out")")
  last_p99=$(to_ms "$(awk '$1 == "99%" { print $2 }' "$out")")
  last_non2xx=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' "$out")
  last_non2xx=${last_non2xx:-0}
  last_sockerr=$(awk -F'Socket errors: ' '/Socket errors:/ { print $2 }' "$out")
  last_sockerr=${last_sockerr:-none}
  last_peak_rss=$(cat "$rss_file")
  last_hwm=$(status_kib "$pid" VmHWM)
  note "$name: $last_rps req/s, p50 $last_p50 ms, p99 $last_p99 ms, non-2xx $last_non2xx," \
    "peak VmRSS $(mib "$last_peak_rss") MiB, VmHWM $(mib "$last_hwm") MiB"
}

record() {  # record NAME SAMPLES_PER_REQUEST NOTE
  local samples="-"
  [[ $2 != 0 ]] && samples=$(awk -v r="$last_rps" -v b="$2" 'BEGIN { printf "%.0f", r * b }')
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$last_rps" "$samples" "$last_p50" \
    "$last_p99" "$last_non2xx" "$last_sockerr" "$(mib "$last_peak_rss")" "$(mib "$last_hwm")" \
    "$3" >>"$results"
}

token=$("$server_bin" token new "$device" | cut -d: -f1)
[[ ${#token} -ge 16 ]] || die "sungrow-server token new printed no usable token"
auth=(-H "Authorization: Bearer $token")
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
note "server $server_bin; wrk -t$wrk_threads -c$connections -d${duration}s --latency; $(nproc) cores"

# --- the realtime answer's exact bytes, for Caddy to serve as a static file ---------------------------
start_server probe --cache-ttl 86400 --log-level warn
seed
mkdir -p "$work/static"
curl -sS --fail "${auth[@]}" "$server_url/v1/realtime" -o "$work/static/realtime.json"
realtime_bytes=$(stat -c %s "$work/static/realtime.json")
stop_server
note "realtime answer: $realtime_bytes bytes; Caddy serves a file of the same bytes"

caddy_port=$(free_port)
cat >"$work/Caddyfile" <<EOF
{
	admin off
	auto_https off
}
http://127.0.0.1:$caddy_port {
	root * $work/static
	file_server
}
EOF
# Caddy keeps state under XDG directories; keep them in the throwaway directory.
XDG_CONFIG_HOME=$work/xdg-config XDG_DATA_HOME=$work/xdg-data \
  caddy run --config "$work/Caddyfile" --adapter caddyfile >"$work/caddy.log" 2>&1 &
caddy_pid=$!
wait_for_port "$caddy_port" "$caddy_pid" caddy
static_url=http://127.0.0.1:$caddy_port/realtime.json
[[ $(curl -sS --fail "$static_url" | wc -c) == "$realtime_bytes" ]] || die "Caddy serves the wrong file"

caddy_rps=()
caddy_ceiling() {
  load "caddy-static-$1" "$caddy_pid" "$static_url"
  record "caddy static file ($1)" 0 "$realtime_bytes B, file_server"
  caddy_rps+=("$last_rps")
}
caddy_ceiling before

declare -A realtime_rps
realtime_run() {  # realtime_run LABEL NOTE ARGS…: seed, then wrk on GET /v1/realtime
  local label=$1 what=$2
  shift 2
  start_server "$label" "$@"
  seed
  local before_hits
  before_hits=$(metric sungrow_cache_hits_total)
  load "$label" "$server_pid" "$server_url/v1/realtime" "${auth[@]}"
  local source hits
  source=$(curl -sS "${auth[@]}" "$server_url/v1/realtime" | sed -n 's/.*"source":"\([a-z]*\)".*/\1/p')
  hits=$(($(metric sungrow_cache_hits_total) - before_hits))
  record "realtime $what" 0 "source=$source, cache hits during run: $hits"
  realtime_rps[$label]=$last_rps
  stop_server
}

for io in $io_threads_list; do
  realtime_run "realtime-memory-io$io" "memory cache, io=$io" \
    --cache-ttl 86400 --io-threads "$io" --log-level warn
done
first_io=${io_threads_list%% *}
realtime_run "realtime-memory-io$first_io-info" "memory cache, io=$first_io, log-level info" \
  --cache-ttl 86400 --io-threads "$first_io" --log-level info
info_log=$work/realtime-memory-io$first_io-info/server.log
note "info log: $(wc -l <"$info_log") lines, $(stat -c %s "$info_log") bytes (to a file on disk)"


ingest_run() {  # ingest_run LABEL WHAT MODE BASE_EPOCH ARGS…
  local label=$1 what=$2 mode=$3 base=$4
  shift 4
  start_server "$label" "$@"
  local ins0 dup0
  ins0=$(metric sungrow_samples_inserted_total)
  dup0=$(metric sungrow_samples_duplicate_total)
  load "$label" "$server_pid" "$server_url/v1/ingest" "${auth[@]}" -s "$here/ingest.lua" \
    -- "$mode" "$device" "$batch" "$base"
  local ins dup
  ins=$(($(metric sungrow_samples_inserted_total) - ins0))
  dup=$(($(metric sungrow_samples_duplicate_total) - dup0))
  record "ingest $what, $mode" "$batch" "inserted $ins, duplicates $dup"
  stop_server
}

ingest_run ingest-sqlite-replay "SQLite" replay 1764547200 --io-threads "$first_io" --log-level warn
ingest_run ingest-sqlite-unique "SQLite" unique 1704067200 --io-threads "$first_io" --log-level warn

if [[ $with_pg == 1 ]]; then
  start_postgres
  redis_port=$(free_port)
  redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no \
    --daemonize no --logfile "$work/redis.log" &
  redis_pid=$!
  wait_for_port "$redis_port" "$redis_pid" redis-server
  redis_url=redis://127.0.0.1:$redis_port/0
  db_number=0
  fresh_db() {  # a new empty database per scenario, so each one starts from the same state; sets db_url
    db_number=$((db_number + 1))
    "$pg_bin/createdb" -h 127.0.0.1 -p "$pg_port" -U postgres "bench$db_number"
    db_url=postgresql://postgres@127.0.0.1:$pg_port/bench$db_number
  }
  note "PostgreSQL 15 on port $pg_port (default settings: fsync and synchronous_commit on)," \
    "Redis on port $redis_port"
  for io in $io_threads_list; do
    fresh_db
    realtime_run "realtime-redis-io$io" "Redis cache + PostgreSQL, io=$io" \
      --database-url "$db_url" --redis-url "$redis_url" --cache-ttl 86400 --io-threads "$io" \
      --log-level warn
  done
  fresh_db
  ingest_run ingest-pg-replay "PostgreSQL + Redis" replay 1764547200 --database-url "$db_url" \
    --redis-url "$redis_url" --io-threads "$first_io" --log-level warn
  fresh_db
  ingest_run ingest-pg-unique "PostgreSQL + Redis" unique 1704067200 --database-url "$db_url" \
    --redis-url "$redis_url" --io-threads "$first_io" --log-level warn
  # Degraded mode: Redis stopped after the seed, so every read tries Redis, fails, and is answered
  # from PostgreSQL (the store path; with a live cache a miss refills it and later reads are hits).
  fresh_db
  start_server realtime-redis-down --database-url "$db_url" --redis-url "$redis_url" \
    --cache-ttl 86400 --io-threads "$first_io" --log-level warn
  seed
  stop_pid "$redis_pid"
  redis_pid=""
  errors0=$(metric sungrow_cache_errors_total)
  load realtime-redis-down "$server_pid" "$server_url/v1/realtime" "${auth[@]}"
  source=$(curl -sS "${auth[@]}" "$server_url/v1/realtime" | sed -n 's/.*"source":"\([a-z]*\)".*/\1/p')
  record "realtime Redis DOWN -> PostgreSQL, io=$first_io" 0 \
    "source=$source, cache errors during run: $(($(metric sungrow_cache_errors_total) - errors0))"
  realtime_rps[realtime-redis-down]=$last_rps
  stop_server
fi

caddy_ceiling after

# --- summary --------------------------------------------------------------------------------------
echo
echo "sungrow-server HTTP benchmark — $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores," \
  "wrk -t$wrk_threads -c$connections -d${duration}s --latency, worker threads ${worker_threads:-default}"
echo "load average at start: $load_before, at end: $(cut -d' ' -f1-3 /proc/loadavg)" \
  "(other work on the machine skews every figure; compare rows of the same run)"
column -t -s $'\t' "$results"
echo
ceiling=$(printf '%s\n' "${caddy_rps[@]}" | awk '{ s += $1 } END { printf "%.2f", s / NR }')
echo "Caddy static ceiling (mean of before/after): $ceiling req/s"
for label in "${!realtime_rps[@]}"; do
  awk -v l="$label" -v r="${realtime_rps[$label]}" -v c="$ceiling" \
    'BEGIN { printf "  %-32s %10.2f req/s = %5.1f %% of the ceiling (goal >= 50 %%)\n", l, r, 100 * r / c }'
done | sort
