# Shell helpers the wrk benchmark scripts in this folder share (sourced, not run): messages,
# processes the script started, free loopback ports, /proc figures, wrk's latency units, and a
# throwaway PostgreSQL 15.
# The sourcing script sets `bench_name` (for messages) and `work` (its throwaway directory) first.

die() { echo "$bench_name: $*" >&2; exit 1; }
note() { echo "# $*" >&2; }

stop_pid() {  # stop_pid PID: SIGTERM, then SIGKILL after 10 s; only ever a PID the script started
  local pid=$1
  [[ -n $pid ]] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

port_in_use() { (: </dev/tcp/127.0.0.1/"$1") 2>/dev/null; }

free_port() {
  local port
  for _ in $(seq 50); do
    port=$((20000 + RANDOM % 40000))
    port_in_use "$port" || { echo "$port"; return; }
  done
  die "no free loopback port found"
}

wait_for_port() {  # wait_for_port PORT PID WHAT
  for _ in $(seq 150); do
    port_in_use "$1" && return 0
    kill -0 "$2" 2>/dev/null || die "$3 exited during start-up"
    sleep 0.1
  done
  die "$3 did not listen on port $1"
}

status_kib() { # status_kib PID FIELD: a /proc/PID/status line in KiB, without forking
  local key value _
  while read -r key value _; do
    [[ $key == "$2:" ]] && { echo "$value"; return; }
  done <"/proc/$1/status"
  echo 0
}

mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

to_ms() {  # wrk latency ("812.00us", "2.10ms", "1.02s") to milliseconds
  awk -v v="$1" 'BEGIN {
    n = v + 0
    if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n = n; else if (v ~ /s$/) n *= 1000
    printf "%.2f", n }'
}

run_as_pg() {  # PostgreSQL refuses to run as root: as root, run as the `postgres` user
  if [[ $(id -u) == 0 ]]; then
    setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"
  else
    "$@"
  fi
}

# start_postgres: a fresh PostgreSQL 15 cluster under $work/pg with default settings (fsync and
# synchronous_commit on) on a free port; sets pg_bin, pg_port, pg_data. stop_postgres stops it.
start_postgres() {
  pg_bin=${PG_BIN:-/usr/lib/postgresql/15/bin}
  [[ -x $pg_bin/initdb && -x $pg_bin/pg_ctl ]] || die "no PostgreSQL binaries in $pg_bin"
  chmod 755 "$work"  # the postgres user has to reach its data directory inside
  pg_port=$(free_port)
  pg_data=$work/pg/data
  mkdir -p "$work/pg"
  [[ $(id -u) == 0 ]] && chown postgres: "$work/pg"
  run_as_pg "$pg_bin/initdb" -D "$pg_data" -U postgres --auth=trust -E UTF8 --no-sync \
    >"$work/pg-initdb.log" 2>&1 || { cat "$work/pg-initdb.log" >&2; die "initdb failed"; }
  run_as_pg "$pg_bin/pg_ctl" -D "$pg_data" -l "$work/pg/postgres.log" -w \
    -o "-p $pg_port -k $work/pg -c listen_addresses=127.0.0.1 $*" start >/dev/null ||
    { cat "$work/pg/postgres.log" >&2; die "PostgreSQL did not start"; }
}

stop_postgres() {
  if [[ -n ${pg_data:-} && -f $pg_data/postmaster.pid ]]; then
    run_as_pg "$pg_bin/pg_ctl" -D "$pg_data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
}
