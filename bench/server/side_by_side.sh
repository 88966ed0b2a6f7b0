#!/usr/bin/env bash
# sungrow-server next to the ceilings a user could pick instead, in one interleaved run: realtime
# against nginx serving the same bytes, ingest against raw COPY / raw INSERT … unnest of the same
# rows into the same table. Prints each case's ratio per round, the median and the range.
#
# How to run: `make bench-server`, or bench/server/side_by_side.sh [BUILD_DIR] (default: build/, the
# dev preset: RelWithDebInfo, so perf can name functions). Needs wrk, curl, nginx (nginx-light),
# redis-server, the PostgreSQL 15 binaries and BUILD_DIR/bin/{sungrow-server,pg_ceiling}.
#
# Cases (each round runs them all, one after the other, so a noisy neighbour skews both sides):
#   realtime memory     GET /v1/realtime, embedded server (SQLite, in-process cache)   vs nginx
#   realtime pg+redis   the same against a server on PostgreSQL + Redis                 vs nginx
#   ingest batch 1000   POST /v1/ingest of 1,000-sample batches, PostgreSQL     vs raw COPY batches
#   ingest batch 30     the same with 30-sample batches             vs one raw INSERT … unnest client
# DEVICES devices (1,000) each hold their own token; realtime walks them in turn, ingest sends each
# device's next batch in turn, ts 5 s apart and seq 1, 2, 3, … per device, never repeated. Ingest is
# counted in PostgreSQL (rows before and after the window), never from replies. The ceilings write
# the same rows into a second database of the same schema (the server migrated it).
#
# Knobs (environment): DURATION (s per run, 10), ROUNDS (3), DEVICES (1000), RT_CONNECTIONS (50),
# INGEST_CONNECTIONS (8: wrk connections for both ingest cases and COPY clients), WRK_THREADS (1),
# SERVER_ARGS (extra server flags, e.g. "--io-threads 2"), NGINX_WORKERS (auto = one per core),
# BEFORE=PATH (another sungrow-server binary, e.g. of an older commit: every server case runs for it
# too, in the same rounds, on its own servers and database, and the summary shows both),
# PERF=DIR (a system-wide `perf record -g` of round 1 of every case, with reports by process and by
# symbol, into DIR), KEEP_WORK=1. Nothing here changes a durability setting: PostgreSQL runs on its
# defaults (fsync, synchronous_commit on). Not part of CTest.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../../build}
bench_name=side_by_side.sh
# shellcheck source=bench/server/lib.sh
source "$here/lib.sh"

server_bin=$build/bin/sungrow-server
ceiling_bin=$build/bin/pg_ceiling
duration=${DURATION:-10}
rounds=${ROUNDS:-3}
devices=${DEVICES:-1000}
rt_connections=${RT_CONNECTIONS:-50}
ingest_connections=${INGEST_CONNECTIONS:-8}
wrk_threads=${WRK_THREADS:-1}
read -r -a server_args <<<"${SERVER_ARGS:-}"
perf_dir=${PERF:-}


[[ -x $server_bin ]] || die "no server binary at $server_bin (make build, or pass a build dir)"
[[ -x $ceiling_bin ]] || die "no pg_ceiling at $ceiling_bin (built with the benchmarks)"
for tool in wrk curl nginx redis-server openssl; do
  command -v "$tool" >/dev/null || die "$tool is not installed (scripts/install-deps)"
done
[[ -z $perf_dir ]] || command -v perf >/dev/null || die "PERF is set but perf is not installed"
unset DATABASE_URL REDIS_URL DEVICE_TOKENS DEVICE_TOKENS_FILE VIEWER_TOKENS_FILE CACHE_TTL_S \
  LISTEN_ADDR PORT DATA_DIR IO_THREADS WORKER_THREADS PG_POOL_SIZE LOG_LEVEL MAX_CONNECTIONS

work=$(mktemp -d /tmp/sungrow-side.XXXXXX)
declare -A bin=([after]=$server_bin) memory_url pg_url server_pids
variants=(after)
if [[ -n ${BEFORE:-} ]]; then
  [[ -x $BEFORE ]] || die "BEFORE=$BEFORE is not an executable"
  bin[before]=$BEFORE
  variants+=(before)
fi
nginx_pid="" redis_pid="" perf_pid=""
cleanup() {
  stop_pid "$perf_pid"
  for pid in "${server_pids[@]}"; do stop_pid "$pid"; done
  [[ -n $nginx_pid ]] && kill -QUIT "$nginx_pid" 2>/dev/null
  stop_pid "$redis_pid"
  stop_postgres
  if [[ ${KEEP_WORK:-0} == 1 ]]; then note "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- tokens: one per device, plus one granting every device to seed the realtime answers --------
tokens=$work/tokens
openssl rand -hex $((24 * devices)) | fold -w 48 |
  awk '{ printf "%s:bench-%04d\n", $0, NR }' >"$tokens"
seed_token=$(openssl rand -hex 24)
{
  printf '%s:' "$seed_token"
  seq -f 'bench-%04g' 1 "$devices" | paste -sd,
} >>"$tokens"
chmod 600 "$tokens"

# start_server VARIANT NAME ARGS…: prints the PID; the port goes to $work/NAME/port.
start_server() {
  local variant=$1 name=$2
  shift 2
  local dir=$work/$name
  mkdir -p "$dir"
  "${bin[$variant]}" --port 0 --listen-addr 127.0.0.1 --data-dir "$dir" --device-tokens-file "$tokens" \
    --cache-ttl 86400 --log-level warn "${server_args[@]}" "$@" >"$dir/server.log" 2>&1 &
  local pid=$! port=""
  for _ in $(seq 150); do
    port=$(sed -n 's/^sungrow-server listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$dir/server.log")
    [[ -n $port ]] && break
    kill -0 "$pid" 2>/dev/null || { cat "$dir/server.log" >&2; die "server '$name' exited"; }
    sleep 0.1
  done
  [[ -n $port ]] || die "server '$name' printed no port"
  echo "$port" >"$dir/port"
  echo "$pid"
}

seed() {  # seed URL: one sample per device, stamped now, in one batch (the seeding token)
  local now
  now=$(date -u +%Y-%m-%dT%H:%M:%S.000Z)
  seq -f 'bench-%04g' 1 "$devices" | awk -v ts="$now" 'BEGIN { printf "{\"samples\":[" }
    { printf "%s{\"device_id\":\"%s\",\"ts\":\"%s\",\"seq\":1,\"pv_power_w\":2450,\"load_power_w\":690,", (NR > 1 ? "," : ""), $1, ts
      printf "\"grid_power_w\":-560,\"grid_power_source\":\"meter\",\"battery_power_w\":-1200,"
      printf "\"battery_soc_pct\":64.5,\"pv_energy_today_kwh\":7.4,\"pv_energy_total_kwh\":12345.6,"
      printf "\"grid_import_total_kwh\":4321.0,\"grid_export_total_kwh\":2345.0,\"running_state\":2}" }
    END { printf "]}" }' >"$work/seed.json"
  curl -sS --fail-with-body -o /dev/null -H "Authorization: Bearer $seed_token" \
    -H "Content-Type: application/json" --data-binary @"$work/seed.json" "$1/v1/ingest" ||
    die "seeding $1 failed"
}

# --- PostgreSQL, Redis, the two servers, nginx ------------------------------------------------------
start_postgres
createdb() { "$pg_bin/createdb" -h 127.0.0.1 -p "$pg_port" -U postgres "$1"; }
psql_value() { "$pg_bin/psql" -h 127.0.0.1 -p "$pg_port" -U postgres -d "$1" -Atqc "$2"; }
for v in "${variants[@]}"; do createdb "server_$v"; done
createdb ceiling
redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --daemonize no \
  --logfile "$work/redis.log" &
redis_pid=$!
wait_for_port "$redis_port" "$redis_pid" redis-server
ceiling_db=postgresql://postgres@127.0.0.1:$pg_port/ceiling

# The ceiling database gets the server's schema from a server that migrates it and stops.
migrate_pid=$(start_server after migrate --database-url "$ceiling_db")
stop_pid "$migrate_pid"

# Each variant gets its own Redis database too, so neither sees the other's cached samples.
redis_db=0
for v in "${variants[@]}"; do
  server_pids[memory-$v]=$(start_server "$v" "memory-$v")
  memory_url[$v]=http://127.0.0.1:$(cat "$work/memory-$v/port")
  server_pids[pg-$v]=$(start_server "$v" "pg-$v" \
    --database-url "postgresql://postgres@127.0.0.1:$pg_port/server_$v" \
    --redis-url "redis://127.0.0.1:$redis_port/$redis_db")
  pg_url[$v]=http://127.0.0.1:$(cat "$work/pg-$v/port")
  redis_db=$((redis_db + 1))
  seed "${memory_url[$v]}"
  seed "${pg_url[$v]}"
done

# nginx serves the bytes of device 1's realtime answer (every device's answer has the same size).
mkdir -p "$work/static"
curl -sS --fail -H "Authorization: Bearer $(head -1 "$tokens" | cut -d: -f1)" \
  "${memory_url[after]}/v1/realtime?device_id=bench-0001" -o "$work/static/realtime.json"
realtime_bytes=$(stat -c %s "$work/static/realtime.json")
nginx_port=$(free_port)
mkdir -p "$work/nginx"
cat >"$work/nginx/nginx.conf" <<EOF
worker_processes ${NGINX_WORKERS:-auto};
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  client_body_temp_path $work/nginx/body;
  proxy_temp_path $work/nginx/proxy;
  fastcgi_temp_path $work/nginx/fastcgi;
  uwsgi_temp_path $work/nginx/uwsgi;
  scgi_temp_path $work/nginx/scgi;
  server {
    listen 127.0.0.1:$nginx_port;
    location = /v1/realtime {
      default_type application/json;
      alias $work/static/realtime.json;
    }
  }
}
EOF
nginx -c "$work/nginx/nginx.conf" -e "$work/nginx/error.log" &
nginx_pid=$!
wait_for_port "$nginx_port" "$nginx_pid" nginx
nginx_url=http://127.0.0.1:$nginx_port
[[ $(curl -sS --fail "$nginx_url/v1/realtime?device_id=bench-0001" | wc -c) == "$realtime_bytes" ]] ||
  die "nginx serves the wrong file"
note "realtime answer $realtime_bytes bytes; $devices devices; $(nproc) cores; rounds $rounds × ${duration}s"

# --- measuring -------------------------------------------------------------------------------------
results=$work/results.tsv  # round, case, side (server, before, ceiling), rate, p99 ms
: >"$results"

perf_start() {  # perf_start LABEL: a system-wide profile of the coming window, round 1 only
  [[ -n $perf_dir && $round == 1 ]] || return 0
  mkdir -p "$perf_dir"
  perf record -a -g -F 499 -o "$perf_dir/$1.data" -- sleep "$duration" >/dev/null 2>&1 &
  perf_pid=$!
}

perf_stop() {  # perf_stop LABEL: wait for the profile, then write its reports
  [[ -n $perf_pid ]] || return 0
  wait "$perf_pid" || true
  perf_pid=""
  perf report -i "$perf_dir/$1.data" --no-children --sort comm --stdio 2>/dev/null |
    grep -v '^$' | head -40 >"$perf_dir/$1.by-process.txt" || true
  perf report -i "$perf_dir/$1.data" --no-children --sort comm,dso,symbol --stdio -g none \
    2>/dev/null | grep -v '^$' | head -120 >"$perf_dir/$1.by-symbol.txt" || true
}

wrk_run() {  # wrk_run LABEL URL CONNECTIONS FLEET_ARGS…: one window; prints "req/s p99_ms"
  local label=$1 url=$2 connections=$3
  shift 3
  local out=$work/$label.r$round.wrk
  perf_start "$label"
  wrk -t"$wrk_threads" -c"$connections" -d"${duration}s" --latency -s "$here/fleet.lua" "$url" \
    -- "$@" >"$out" 2>&1 || { cat "$out" >&2; die "wrk failed in $label"; }
  perf_stop "$label"
  local non2xx
  non2xx=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' "$out")
  [[ -z $non2xx ]] || { cat "$out" >&2; die "$label: $non2xx answers were not 2xx"; }
  echo "$(awk '/^Requests\/sec:/ { print $2 }' "$out") $(to_ms "$(awk '$1 == "99%" { print $2 }' "$out")")"
}

record() {  # record CASE SIDE RATE P99
  printf '%s\t%s\t%s\t%s\t%s\n' "$round" "$1" "$2" "$3" "$4" >>"$results"
  note "round $round  $1  $2: $3/s, p99 ${4} ms"
}

side_of() { [[ $1 == after ]] && echo server || echo "$1"; }

realtime_case() {  # realtime_case CASE URL LABEL VARIANT
  local r
  read -r -a r <<<"$(wrk_run "$3" "$2" "$rt_connections" realtime "$tokens" "$wrk_threads")"
  record "$1" "$(side_of "$4")" "${r[0]}" "${r[1]}"
}

nginx_case() {
  local r
  read -r -a r <<<"$(wrk_run nginx "$nginx_url/v1/realtime" "$rt_connections" realtime "$tokens" \
    "$wrk_threads")"
  record "realtime (both)" ceiling "${r[0]}" "${r[1]}"
}

# ingest_case CASE LABEL BATCH FIRST_N VARIANT: the server's rows/s, counted in PostgreSQL
ingest_case() {
  local v=$5 before after start end r
  before=$(psql_value "server_$v" "SELECT count(*) FROM samples")
  start=$(date +%s.%N)
  read -r -a r <<<"$(wrk_run "$2" "${pg_url[$v]}/v1/ingest" "$ingest_connections" ingest \
    "$tokens" "$wrk_threads" "$3" "$4")"
  after=$(psql_value "server_$v" "SELECT count(*) FROM samples")
  end=$(date +%s.%N)
  local rate
  rate=$(awk -v n=$((after - before)) -v s="$start" -v e="$end" 'BEGIN { printf "%.0f", n / (e - s) }')
  record "$1" "$(side_of "$v")" "$rate" "${r[1]}"
}

ceiling_case() {  # ceiling_case CASE LABEL MODE BATCH CLIENTS FIRST_N
  perf_start "$2"
  local out
  out=$("$ceiling_bin" --url "$ceiling_db" --mode "$3" --batch "$4" --clients "$5" \
    --seconds "$duration" --devices "$devices" --first-n "$6") || die "pg_ceiling failed in $2"
  perf_stop "$2"
  record "$1" ceiling "$(sed -n 's/.*rows_per_s=\([0-9]*\).*/\1/p' <<<"$out")" "-"
}

for round in $(seq "$rounds"); do
  # Each round's ingest continues every device's sequence past the previous round's.
  first_1000=$(((2 * round) * 1000000))
  first_30=$(((2 * round + 1) * 1000000))
  nginx_case
  for v in "${variants[@]}"; do
    realtime_case "realtime memory" "${memory_url[$v]}/v1/realtime" "realtime-memory-$v" "$v"
    realtime_case "realtime pg+redis" "${pg_url[$v]}/v1/realtime" "realtime-pg-redis-$v" "$v"
  done
  for v in "${variants[@]}"; do ingest_case "ingest batch 1000" "ingest-1000-$v" 1000 "$first_1000" "$v"; done
  ceiling_case "ingest batch 1000" copy-1000 copy 1000 "$ingest_connections" "$first_1000"
  for v in "${variants[@]}"; do ingest_case "ingest batch 30" "ingest-30-$v" 30 "$first_30" "$v"; done
  ceiling_case "ingest batch 30" unnest-30 unnest 30 1 "$first_30"
done

# --- summary ---------------------------------------------------------------------------------------
echo
echo "sungrow-server side by side — $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores, $rounds rounds ×" \
  "${duration}s, $devices devices; realtime wrk -c$rt_connections, ingest -c$ingest_connections," \
  "wrk -t$wrk_threads; server args: ${SERVER_ARGS:-defaults}"
awk -F'\t' '
  function median(list, n,   i, j, t, a) {
    for (i = 1; i <= n; i++) a[i] = list[i]
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  { rate[$1, $2, $3] = $4; p99[$1, $2, $3] = $5; if ($1 > rounds) rounds = $1 }
  END {
    split("realtime memory|realtime pg+redis|ingest batch 1000|ingest batch 30", cases, "|")
    split("0.5|0.35|0.5|1.0", goals, "|")
    split("req/s|req/s|rows/s|rows/s", units, "|")
    printf "%-20s %-7s %-7s %12s %12s %9s  %-26s %-20s %s\n", "case", "build", "unit", "server", "ceiling", "ratio", "range (per round)", "server p99 ms", "goal"
    for (c = 1; c <= 4; c++) {
      name = cases[c]; ceiling_name = c <= 2 ? "realtime (both)" : name
      for (b = 1; b <= 2; b++) {
        side = b == 1 ? "before" : "server"
        if (!((1, name, side) in rate)) continue
        n = 0; rounds_text = ""; p99_text = ""
        for (r = 1; r <= rounds; r++) {
          s = rate[r, name, side]; k = rate[r, ceiling_name, "ceiling"]
          n++; ratio[n] = s / k; srv[n] = s; ceil[n] = k
          rounds_text = rounds_text (r > 1 ? " " : "") sprintf("%.2f", ratio[n])
          p99_text = p99_text (r > 1 ? " " : "") p99[r, name, side]
        }
        lo = ratio[1]; hi = ratio[1]
        for (i = 2; i <= n; i++) { if (ratio[i] < lo) lo = ratio[i]; if (ratio[i] > hi) hi = ratio[i] }
        printf "%-20s %-7s %-7s %12.0f %12.0f %9.2f  %-26s %-20s >= %s\n", name, b == 1 ? "before" : "this", units[c], median(srv, n), median(ceil, n), median(ratio, n), sprintf("%.2f–%.2f (%s)", lo, hi, rounds_text), p99_text, goals[c]
      }
    }
  }' "$results"
echo "ceilings: realtime = nginx (workers ${NGINX_WORKERS:-auto}) serving the same $realtime_bytes bytes;" \
  "batch 1000 = raw COPY, $ingest_connections clients, a transaction per batch; batch 30 = one raw" \
  "INSERT … unnest … ON CONFLICT DO NOTHING client"
[[ -z $perf_dir ]] || echo "profiles of round 1: $perf_dir/*.by-process.txt, *.by-symbol.txt"
