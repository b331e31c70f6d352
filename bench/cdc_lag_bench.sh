#!/usr/bin/env bash
# Ferry CDC end-to-end lag benchmark: a steady pgbench load at a fixed rate on the PostgreSQL
# source, a probe that measures how long each change takes to become visible on the target,
# Ferry against PostgreSQL's own logical replication (CREATE SUBSCRIPTION), PostgreSQL ->
# PostgreSQL on the same server.
#
# Usage: bench/cdc_lag_bench.sh [--skip-build] [--keep] [--only ferry|sub]
#
#   --skip-build  use the existing Ferry binary ($FERRY) without building it
#   --keep        keep the benchmark databases at the end (default: drop them)
#   --only R      run one replica only (ferry or sub)
#
# Environment:
#   SCALE      pgbench scale of the source (default 10: 1,000,000 accounts)
#   RATE       row changes per second under load (default 5000). The standard TPC-B-like
#              script changes 4 rows per transaction, so pgbench runs at -R RATE/4.
#   SECONDS_UNDER_LOAD  length of the measured load (default 60)
#   CLIENTS    pgbench clients (default 4, 2 threads)
#   FERRY      Ferry binary (default build/release/ferry, built in Release)
#   FERRY_BENCH_DIR  scratch directory (default /tmp/ferry-cdc-lag-bench)
#   FERRY_PG_PORT    as for scripts/servers.sh
#
# What it does, for each replica in turn (never both at once):
#   1. Creates the source (pgbench -i, plus a table lag_probe(seq bigint PRIMARY KEY,
#      t timestamptz)) and an empty target database.
#   2. Starts the replica: Ferry `migrate --migration-type full-load-and-cdc` (default settings:
#      transactional apply) under /usr/bin/time; or CREATE SUBSCRIPTION with copy_data on a
#      target holding the same (empty) tables. Waits until the initial copy is done and a
#      probe row inserted after it has arrived through the change stream.
#      Then a CHECKPOINT, and up to 60 s for the 1-minute load average to fall below 1.0 (the
#      copy leaves dirty buffers and autovacuum work behind), for every replica alike.
#   3. Runs pgbench -R RATE/4 for SECONDS_UNDER_LOAD seconds and, at the same time,
#      bench/cdc_lag_probe.py: every 100 ms an insert of (seq, clock_timestamp()) into
#      lag_probe on the source, while the target is polled every 10 ms for the highest seq
#      arrived. Lag of a probe = time it was first seen on the target - its insert time.
#   4. Waits for the last probe, stops the replica (SIGTERM to Ferry: a clean stop), checks
#      the pgbench tables on target and source with `ferry hash`.
# Then prints one table: replica | probes | p50 | p95 | p99 | max lag (ms) | achieved load |
# peak RSS MB | check.
#
# Goal (issue 4): p99 lag under 1 s at 5,000 row changes/s. This is a benchmark, not a test: it
# exits 0 even when a goal is missed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SCALE="${SCALE:-10}"
RATE="${RATE:-5000}"
LOAD_S="${SECONDS_UNDER_LOAD:-60}"
CLIENTS="${CLIENTS:-4}"
FERRY="${FERRY:-$ROOT/build/release/ferry}"
WORK="${FERRY_BENCH_DIR:-/tmp/ferry-cdc-lag-bench}"
PG_PORT="${FERRY_PG_PORT:-55432}"
BUILD=1
KEEP=0
ONLY=""

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }
while (($#)); do
  case "$1" in
    --skip-build) BUILD=0 ;;
    --keep) KEEP=1 ;;
    --only) shift; ONLY="${1:-}"; [[ "$ONLY" == ferry || "$ONLY" == sub ]] || { usage >&2; exit 2; } ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
  shift
done

log() { echo "lag-bench: $*" >&2; }
die() { echo "lag-bench: ERROR: $*" >&2; exit 1; }

SRC_DB=cdcl_src
DST_DB=cdcl_dst
TASK=cdcl
SLOT=ferry_cdcl
SUB=cdcl_sub
PUB=cdcl_pub
pg_uri() { echo "postgresql://ferry:ferry@127.0.0.1:$PG_PORT/$1"; }
export PGPASSWORD=ferry
export PGOPTIONS="-c client_min_messages=warning"
PSQL=(psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U ferry)
pg() { local db="$1"; shift; "${PSQL[@]}" -d "$db" "$@"; }
pg_val() { "${PSQL[@]}" -d "$1" -At -c "$2"; }
PGBENCH=(pgbench -h 127.0.0.1 -p "$PG_PORT" -U ferry)
TPS=$(((RATE + 3) / 4))

command -v python3 >/dev/null || die "python3 is needed for bench/cdc_lag_probe.py"
command -v stdbuf >/dev/null || die "stdbuf (coreutils) is needed for bench/cdc_lag_probe.py"
[[ -x /usr/bin/time ]] || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }
"$ROOT/scripts/servers.sh" start >&2
if ((BUILD)); then
  log "building Ferry (Release)"
  cmake -S "$ROOT" -B "$ROOT/build/release" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DFERRY_BUILD_TESTS=OFF >/dev/null
  ninja -C "$ROOT/build/release" ferry >/dev/null
fi
[[ -x "$FERRY" ]] || die "no Ferry binary at $FERRY"
mkdir -p "$WORK"

FERRY_TIME_PID=""
cleanup() {
  if [[ -n "$FERRY_TIME_PID" ]] && kill -0 "$FERRY_TIME_PID" 2>/dev/null; then
    local child
    child=$(pgrep -P "$FERRY_TIME_PID" || true)
    [[ -n "$child" ]] && kill -TERM "$child" 2>/dev/null || true
    wait "$FERRY_TIME_PID" 2>/dev/null || true
  fi
  pg "$DST_DB" -c "DROP SUBSCRIPTION IF EXISTS $SUB" >/dev/null 2>&1 || true
  pg ferry -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
               WHERE slot_name IN ('$SLOT', '$SUB') AND NOT active" >/dev/null 2>&1 || true
  if ((!KEEP)); then
    for db in "$SRC_DB" "$DST_DB"; do pg ferry -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true; done
  fi
}
trap cleanup EXIT

# Fresh source and empty target.
setup_databases() {
  cleanup
  for db in "$SRC_DB" "$DST_DB"; do
    pg ferry -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
  done
  "${PGBENCH[@]}" -q -i -s "$SCALE" "$SRC_DB" >/dev/null 2>&1 || die "pgbench -i failed"
  # pgbench_history has no key; Ferry wants every captured table able to deliver updates and
  # deletes.
  pg "$SRC_DB" -c "ALTER TABLE pgbench_history REPLICA IDENTITY FULL" \
    -c "CREATE TABLE lag_probe (seq bigint PRIMARY KEY, t timestamptz NOT NULL)" \
    -c "INSERT INTO lag_probe VALUES (1, clock_timestamp())"
}

# wait_for SECONDS DESCRIPTION COMMAND...: until COMMAND succeeds.
wait_for() {
  local limit="$1" what="$2"; shift 2
  local deadline=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}
probe_arrived() { [[ "$(pg_val "$DST_DB" "SELECT count(*) FROM lag_probe WHERE seq = $1")" == 1 ]]; }

# After the initial copy: one probe row through the change stream, then the measured load.
measure() {
  local name="$1"
  pg "$SRC_DB" -c "INSERT INTO lag_probe VALUES (2, clock_timestamp())"
  wait_for 120 "the first streamed probe" probe_arrived 2 ||
    die "$name: a row inserted after the initial copy did not arrive within 120 s"
  # The initial copy leaves work behind (dirty buffers, autovacuum of the new tables): let the
  # machine settle, the same way for every replica, so that the steady state is measured.
  pg "$SRC_DB" -c "CHECKPOINT"
  local settle=$((SECONDS + 60))
  while (($(awk '{print ($1 > 1.0)}' /proc/loadavg))) && ((SECONDS < settle)); do sleep 1; done
  log "$name: settled, load average $(cut -d' ' -f1-3 /proc/loadavg)"
  log "$name: streaming; load: pgbench -R $TPS ($RATE row changes/s) for $LOAD_S s + probe"
  "${PGBENCH[@]}" -n -c "$CLIENTS" -j 2 -R "$TPS" -T "$LOAD_S" -P 10 "$SRC_DB" \
    >"$WORK/$name-pgbench.log" 2>&1 &
  local pgbench_pid=$!
  local probe_rc=0
  python3 "$ROOT/bench/cdc_lag_probe.py" --source "$(pg_uri $SRC_DB)" \
    --target "$(pg_uri $DST_DB)" --seconds "$LOAD_S" --drain 120 \
    --dump "$WORK/$name-probes.txt" >"$WORK/$name-probe.out" 2>"$WORK/$name-probe.err" ||
    probe_rc=$?
  wait "$pgbench_pid" || log "$name: pgbench failed: $(tail -3 "$WORK/$name-pgbench.log")"
  ((probe_rc == 0)) || log "$name: probe: $(cat "$WORK/$name-probe.err" "$WORK/$name-probe.out")"
  # Let the replica catch up with the last pgbench transactions before the check.
  local end_lsn
  end_lsn=$(pg_val "$SRC_DB" "SELECT pg_current_wal_lsn()")
  wait_for 300 "catch-up" slot_past "$2" "$end_lsn" || log "$name: did not catch up to $end_lsn"
}
slot_past() {
  [[ "$(pg_val ferry "SELECT confirmed_flush_lsn >= '$2' FROM pg_replication_slots
                      WHERE slot_name = '$1'")" == t ]]
}

check() {
  local a b
  a=$("$FERRY" hash "$(pg_uri $SRC_DB)" --schema public --tables 'pgbench_*,lag_probe' --json | md5sum)
  b=$("$FERRY" hash "$(pg_uri $DST_DB)" --schema public --tables 'pgbench_*,lag_probe' --json | md5sum)
  [[ "$a" == "$b" ]] && echo "equal" || echo "DIFFERS"
}

# achieved: row changes/s pgbench really ran (its tps line x 4).
achieved() {
  local tps
  tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$WORK/$1-pgbench.log" | head -1)
  [[ -n "$tps" ]] && printf '%.0f' "$(echo "$tps * 4" | bc -l)" || echo "?"
}

declare -A RESULT RSS CHECK LOAD
run_ferry() {
  setup_databases
  rm -rf "$WORK/data"
  log "ferry: full-load-and-cdc, then streaming"
  /usr/bin/time -f '%e %M' -o "$WORK/ferry.time" "$FERRY" migrate \
    --source "$(pg_uri $SRC_DB)" --target "$(pg_uri $DST_DB)" \
    --migration-type full-load-and-cdc --task-name "$TASK" --data-dir "$WORK/data" \
    --heartbeat 1 --no-progress --target-table-prep-mode DROP_AND_CREATE \
    >"$WORK/ferry.log" 2>&1 &
  FERRY_TIME_PID=$!
  measure ferry "$SLOT"
  log "ferry: stopping"
  local child
  child=$(pgrep -P "$FERRY_TIME_PID" || true)
  [[ -n "$child" ]] && kill -TERM "$child"
  wait "$FERRY_TIME_PID" || log "ferry exited non-zero: $(tail -5 "$WORK/ferry.log")"
  FERRY_TIME_PID=""
  local kb
  read -r _ kb < <(tail -1 "$WORK/ferry.time") || kb=0
  RSS[ferry]=$((kb / 1024))
  RESULT[ferry]=$(cat "$WORK/ferry-probe.out" 2>/dev/null || true)
  CHECK[ferry]=$(check)
  LOAD[ferry]=$(achieved ferry)
  # Ferry's slot and publication: the task is not deleted, so drop them here.
  pg ferry -c "SELECT pg_drop_replication_slot('$SLOT')" >/dev/null 2>&1 || true
}

run_sub() {
  setup_databases
  log "subscription: same tables on the target, CREATE SUBSCRIPTION with copy_data"
  "${PGBENCH[@]}" -q -i -I dtp "$DST_DB" >/dev/null 2>&1 || die "pgbench -i -I dtp failed"
  pg "$DST_DB" -c "CREATE TABLE lag_probe (seq bigint PRIMARY KEY, t timestamptz NOT NULL)"
  # The slot is created beforehand: CREATE SUBSCRIPTION creating it on the same server would
  # wait for its own transaction to end (a hang the PostgreSQL manual warns about).
  pg "$SRC_DB" -c "CREATE PUBLICATION $PUB FOR TABLE pgbench_accounts, pgbench_branches,
                   pgbench_tellers, pgbench_history, lag_probe" \
    -c "SELECT pg_create_logical_replication_slot('$SUB', 'pgoutput')" >/dev/null
  pg "$DST_DB" -c "CREATE SUBSCRIPTION $SUB CONNECTION
    'host=127.0.0.1 port=$PG_PORT dbname=$SRC_DB user=ferry password=ferry'
    PUBLICATION $PUB WITH (create_slot = false, slot_name = '$SUB')"
  wait_for 600 "initial sync" sub_ready || die "subscription: initial copy not done in 600 s"
  measure sub "$SUB"
  RESULT[sub]=$(cat "$WORK/sub-probe.out" 2>/dev/null || true)
  CHECK[sub]=$(check)
  LOAD[sub]=$(achieved sub)
  RSS[sub]="-"
  pg "$DST_DB" -c "DROP SUBSCRIPTION $SUB" >/dev/null
}
sub_ready() {
  [[ "$(pg_val "$DST_DB" "SELECT count(*) FILTER (WHERE srsubstate <> 'r') || ' ' || count(*)
                           FROM pg_subscription_rel")" == "0 5" ]]
}

field() { sed -n "s/.*$2=\([^ ]*\).*/\1/p" <<<"$1"; }
log "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
[[ "$ONLY" == sub ]] || run_ferry
[[ "$ONLY" == ferry ]] || run_sub

printf '\n%-28s %7s %7s %7s %7s %8s %12s %8s %s\n' "replica (lag in ms)" probes p50 p95 p99 max \
  "changes/s" "RSS MB" check
for r in ferry sub; do
  [[ -n "${RESULT[$r]+x}" ]] || continue
  label="ferry (transactional apply)"
  [[ "$r" == sub ]] && label="CREATE SUBSCRIPTION"
  res="${RESULT[$r]}"
  printf '%-28s %7s %7s %7s %7s %8s %12s %8s %s\n' "$label" \
    "$(field "$res" arrived)/$(field "$res" probes)" "$(field "$res" p50_ms)" \
    "$(field "$res" p95_ms)" "$(field "$res" p99_ms)" "$(field "$res" max_ms)" \
    "${LOAD[$r]}" "${RSS[$r]}" "${CHECK[$r]}"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg); target load $RATE row changes/s"
if [[ -n "${RESULT[ferry]+x}" ]]; then
  p99=$(field "${RESULT[ferry]}" p99_ms)
  if [[ -n "$p99" && "$p99" != nan ]] && ((p99 < 1000)); then
    echo "goal: p99 lag < 1 s at $RATE row changes/s: met (${p99} ms)"
  else
    echo "goal: p99 lag < 1 s at $RATE row changes/s: MISSED (${p99:-?} ms)"
  fi
fi
