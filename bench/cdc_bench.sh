#!/usr/bin/env bash
# Ferry CDC catch-up benchmark: replaying a backlog of changes, Ferry against PostgreSQL's own
# logical replication (CREATE SUBSCRIPTION), PostgreSQL -> PostgreSQL on the same server.
#
# Usage: bench/cdc_bench.sh [--skip-build] [--keep] [--perf]
#
#   --skip-build  use the existing Ferry binary ($FERRY) without building it
#   --keep        keep the benchmark databases at the end (default: drop them)
#   --perf        record both Ferry replays with `perf record -g` into $FERRY_BENCH_DIR/*.perf
#                 (the timings then include perf's overhead)
#
# Environment:
#   SCALE      pgbench scale of the source (default 10: 1,000,000 accounts)
#   SHAPE      the backlog's transactions:
#                pgbench (default): the standard TPC-B-like script, 4 row changes per
#                  transaction (3 updates, 1 insert), TXNS transactions;
#                bulk: 100 transactions of 10,000 row changes each (5,000 updates of
#                  pgbench_accounts, 4,000 inserts into pgbench_history, 1,000 deletes of
#                  pgbench_accounts), like a batch job.
#   TXNS       pgbench transactions in the backlog (default 250000: 1,000,000 row changes)
#   FERRY      Ferry binary (default build/release/ferry, built in Release)
#   FERRY_BENCH_DIR  scratch directory (default /tmp/ferry-cdc-bench)
#   FERRY_PG_PORT    as for scripts/servers.sh
#
# What it does:
#   1. Starts the throwaway servers (scripts/servers.sh), builds Ferry in Release.
#   2. Creates three databases on the PostgreSQL server: the source (pgbench -i), Ferry's
#      target, and the subscription's target. Ferry copies the source with full-load-and-cdc and
#      stops at once (its slot stays); the subscription's target gets the same initial rows
#      (pgbench -i, same scale) and a slot + publication are created on the source.
#   3. Writes the backlog with pgbench (TXNS transactions, the default script) while neither
#      replica runs. Both slots hold it.
#   4. Replays it with Ferry (`ferry migrate --resume --cdc-stop-position END`, transactional
#      apply, default settings) under /usr/bin/time (wall seconds, peak RSS), with a second
#      Ferry task into its own database with batch apply ({"TargetMetadata":
#      {"BatchApplyEnabled": true}}, copied and stopped like the first), then with
#      CREATE SUBSCRIPTION ... WITH (create_slot = false, copy_data = false), timed from
#      CREATE to the slot's confirmed position reaching END.
#   The source's own decoding speed is measured first: pg_recvlogical reads the backlog from a
#   third slot to /dev/null. No replica can go faster than that on this machine.
#   5. Checks both targets against the source with `ferry hash` and prints one table:
#      replica | seconds | row changes/s | peak RSS MB | ratio to the subscription | check.
#
# Goals (issue 4): transactional apply >= 30,000 and batch apply >= 100,000 row changes/s
# PostgreSQL -> PostgreSQL on this machine. This is a benchmark, not a test: it exits 0 even when a goal is missed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SCALE="${SCALE:-10}"
TXNS="${TXNS:-250000}"
SHAPE="${SHAPE:-pgbench}"
FERRY="${FERRY:-$ROOT/build/release/ferry}"
WORK="${FERRY_BENCH_DIR:-/tmp/ferry-cdc-bench}"
PG_PORT="${FERRY_PG_PORT:-55432}"
BUILD=1
KEEP=0
PERF=0

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }
while (($#)); do
  case "$1" in
    --skip-build) BUILD=0 ;;
    --keep) KEEP=1 ;;
    --perf) PERF=1 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
  shift
done

log() { echo "bench: $*" >&2; }
die() { echo "bench: ERROR: $*" >&2; exit 1; }

SRC_DB=cdcb_src
FERRY_DB=cdcb_ferry
SUB_DB=cdcb_sub
BATCH_DB=cdcb_batch
pg_uri() { echo "postgresql://ferry:ferry@127.0.0.1:$PG_PORT/$1"; }
export PGPASSWORD=ferry
export PGOPTIONS="-c client_min_messages=warning"
PSQL=(psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U ferry)
pg() { local db="$1"; shift; "${PSQL[@]}" -d "$db" "$@"; }
pg_val() { "${PSQL[@]}" -d "$1" -At -c "$2"; }

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
rm -rf "$WORK/data"

cleanup_replication() {
  pg "$SUB_DB" -c "DROP SUBSCRIPTION IF EXISTS cdcb_sub" 2>/dev/null || true
  pg ferry -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
               WHERE slot_name IN ('cdcb_sub', 'cdcb_decode', 'ferry_cdcb', 'ferry_cdcb_batch') AND NOT active" >/dev/null
}

log "setting up: pgbench scale $SCALE"
cleanup_replication
for db in "$SRC_DB" "$FERRY_DB" "$SUB_DB" "$BATCH_DB"; do
  pg ferry -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
done
pgbench -q -i -s "$SCALE" -h 127.0.0.1 -p "$PG_PORT" -U ferry "$SRC_DB" >/dev/null 2>&1
pgbench -q -i -s "$SCALE" -h 127.0.0.1 -p "$PG_PORT" -U ferry "$SUB_DB" >/dev/null 2>&1
# pgbench_history has no key; it only gets inserts, but Ferry wants every captured table able
# to deliver updates and deletes.
pg "$SRC_DB" -c "ALTER TABLE pgbench_history REPLICA IDENTITY FULL"

log "Ferry: initial copy (full-load-and-cdc, stops once loaded)"
START_LSN=$(pg_val "$SRC_DB" "SELECT pg_current_wal_lsn()")
"$FERRY" migrate --source "$(pg_uri $SRC_DB)" --target "$(pg_uri $FERRY_DB)" \
  --migration-type full-load-and-cdc --task-name cdcb --data-dir "$WORK/data" \
  --cdc-stop-position "$START_LSN" --heartbeat 1 --no-progress \
  --target-table-prep-mode DROP_AND_CREATE >"$WORK/ferry-initial.log" 2>&1 ||
  die "Ferry's initial copy failed: $(tail -5 "$WORK/ferry-initial.log")"

echo '{"TargetMetadata": {"BatchApplyEnabled": true}}' >"$WORK/batch-settings.json"
log "Ferry (batch apply): initial copy"
"$FERRY" migrate --source "$(pg_uri $SRC_DB)" --target "$(pg_uri $BATCH_DB)" \
  --migration-type full-load-and-cdc --task-name cdcb-batch --data-dir "$WORK/data" \
  --task-settings "$WORK/batch-settings.json" \
  --cdc-stop-position "$START_LSN" --heartbeat 1 --no-progress \
  --target-table-prep-mode DROP_AND_CREATE >"$WORK/ferry-batch-initial.log" 2>&1 ||
  die "Ferry's initial copy (batch apply) failed: $(tail -5 "$WORK/ferry-batch-initial.log")"

log "subscription: slot and publication"
pg "$SRC_DB" -c "DROP PUBLICATION IF EXISTS cdcb_pub" \
  -c "CREATE PUBLICATION cdcb_pub FOR TABLE pgbench_accounts, pgbench_branches,
      pgbench_tellers, pgbench_history" \
  -c "SELECT pg_create_logical_replication_slot('cdcb_sub', 'pgoutput')" >/dev/null

pg "$SRC_DB" -c "SELECT pg_create_logical_replication_slot('cdcb_decode', 'pgoutput')" >/dev/null
case "$SHAPE" in
  pgbench)
    log "writing the backlog: $TXNS pgbench transactions ($((TXNS / 2 * 2 * 4)) row changes)"
    PGOPTIONS="-c synchronous_commit=off" pgbench -n -c 2 -j 2 -t $((TXNS / 2)) \
      -h 127.0.0.1 -p "$PG_PORT" -U ferry "$SRC_DB" >"$WORK/pgbench.log" 2>&1
    CHANGES=$((TXNS / 2 * 2 * 4))
    ;;
  bulk)
    log "writing the backlog: 100 transactions of 10,000 row changes"
    for i in $(seq 0 99); do
      echo "BEGIN;
        UPDATE pgbench_accounts SET abalance = abalance + $i, filler = 'bulk $i'
          WHERE aid BETWEEN $((i * 5000 + 1)) AND $((i * 5000 + 5000));
        INSERT INTO pgbench_history (tid, bid, aid, delta, mtime, filler)
          SELECT g % 100 + 1, g % 10 + 1, g, $i, now(), 'h$i' FROM generate_series(1, 4000) g;
        DELETE FROM pgbench_accounts WHERE aid BETWEEN $((900000 + i * 1000 + 1)) AND $((900000 + i * 1000 + 1000));
        COMMIT;"
    done | PGOPTIONS="-c synchronous_commit=off" pg "$SRC_DB" >/dev/null
    CHANGES=1000000
    ;;
  *) die "SHAPE must be pgbench or bulk, not $SHAPE" ;;
esac
END_LSN=$(pg_val "$SRC_DB" "SELECT pg_current_wal_lsn()")
log "backlog ends at $END_LSN"

log "source decoding alone: pg_recvlogical to /dev/null"
T0=$(date +%s.%N)
pg_recvlogical -h 127.0.0.1 -p "$PG_PORT" -U ferry -d "$SRC_DB" --slot cdcb_decode --start \
  -o proto_version=1 -o publication_names=cdcb_pub -E "$END_LSN" -f /dev/null
DECODE_S=$(echo "$(date +%s.%N) - $T0" | bc -l)
pg "$SRC_DB" -c "SELECT pg_drop_replication_slot('cdcb_decode')" >/dev/null

# perf record around a replay when --perf is given.
profiled() {
  local name="$1"
  shift
  if ((PERF)); then
    perf record -q -F 999 -g -o "$WORK/$name.perf" -- "$@"
  else
    "$@"
  fi
}

log "Ferry: replaying the backlog"
profiled ferry /usr/bin/time -f '%e %M %U %S' -o "$WORK/ferry.time" "$FERRY" migrate \
  --source "$(pg_uri $SRC_DB)" --target "$(pg_uri $FERRY_DB)" \
  --migration-type full-load-and-cdc --task-name cdcb --data-dir "$WORK/data" --resume \
  --cdc-stop-position "$END_LSN" --heartbeat 1 --no-progress >"$WORK/ferry-replay.log" 2>&1 ||
  log "Ferry's replay failed: $(tail -5 "$WORK/ferry-replay.log")"
# The last line: /usr/bin/time puts "Command exited with non-zero status N" before it on failure.
read -r FERRY_S FERRY_KB FERRY_U FERRY_SYS < <(tail -1 "$WORK/ferry.time")

log "Ferry (batch apply): replaying the backlog"
profiled ferry-batch /usr/bin/time -f '%e %M %U %S' -o "$WORK/ferry-batch.time" "$FERRY" migrate \
  --source "$(pg_uri $SRC_DB)" --target "$(pg_uri $BATCH_DB)" \
  --migration-type full-load-and-cdc --task-name cdcb-batch --data-dir "$WORK/data" --resume \
  --task-settings "$WORK/batch-settings.json" \
  --cdc-stop-position "$END_LSN" --heartbeat 1 --no-progress >"$WORK/ferry-batch-replay.log" 2>&1 ||
  log "Ferry's replay (batch apply) failed: $(tail -5 "$WORK/ferry-batch-replay.log")"
read -r BATCH_S BATCH_KB BATCH_U BATCH_SYS < <(tail -1 "$WORK/ferry-batch.time")

log "subscription: replaying the backlog"
T0=$(date +%s.%N)
pg "$SUB_DB" -c "CREATE SUBSCRIPTION cdcb_sub CONNECTION
    'host=127.0.0.1 port=$PG_PORT dbname=$SRC_DB user=ferry password=ferry'
    PUBLICATION cdcb_pub WITH (create_slot = false, slot_name = 'cdcb_sub', copy_data = false)"
while :; do
  done_=$(pg_val "$SRC_DB" "SELECT confirmed_flush_lsn >= '$END_LSN' FROM pg_replication_slots
                              WHERE slot_name = 'cdcb_sub'")
  [[ "$done_" == t ]] && break
  if (($(echo "$(date +%s.%N) - $T0 > 1800" | bc -l))); then
    log "the subscription did not reach $END_LSN within 30 minutes"
    break
  fi
  sleep 0.05
done
T1=$(date +%s.%N)
SUB_S=$(echo "$T1 - $T0" | bc -l)
pg "$SUB_DB" -c "ALTER SUBSCRIPTION cdcb_sub DISABLE"

check() {
  local a b
  # Only the pgbench tables: Ferry's target also holds its control tables (awsdms_txn_state).
  a=$("$FERRY" hash "$(pg_uri $SRC_DB)" --schema public --tables 'pgbench_*' --json | md5sum)
  b=$("$FERRY" hash "$(pg_uri "$1")" --schema public --tables 'pgbench_*' --json | md5sum)
  [[ "$a" == "$b" ]] && echo "equal" || echo "DIFFERS"
}
FERRY_CHECK=$(check "$FERRY_DB")
SUB_CHECK=$(check "$SUB_DB")
BATCH_CHECK=$(check "$BATCH_DB")

rate() { echo "$CHANGES / $1" | bc -l | xargs printf '%.0f'; }
FERRY_RATE=$(rate "$FERRY_S")
SUB_RATE=$(rate "$SUB_S")
RATIO=$(echo "$FERRY_RATE / $SUB_RATE" | bc -l | xargs printf '%.2f')
BATCH_RATE=$(rate "$BATCH_S")
BATCH_RATIO=$(echo "$BATCH_RATE / $SUB_RATE" | bc -l | xargs printf '%.2f')
cpu() { echo "$1 + $2" | bc -l | xargs printf '%.1f'; }
printf '\n%-34s %9s %14s %12s %12s %8s %s\n' "replica ($CHANGES row changes)" seconds "changes/s" \
  "peak RSS MB" "Ferry CPU s" ratio check
printf '%-34s %9.2f %14s %12s %12s %8s %s\n' "ferry (transactional apply)" "$FERRY_S" "$FERRY_RATE" \
  "$((FERRY_KB / 1024))" "$(cpu "$FERRY_U" "$FERRY_SYS")" "${RATIO}x" "$FERRY_CHECK"
printf '%-34s %9.2f %14s %12s %12s %8s %s\n' "ferry (batch apply)" "$BATCH_S" "$BATCH_RATE" \
  "$((BATCH_KB / 1024))" "$(cpu "$BATCH_U" "$BATCH_SYS")" "${BATCH_RATIO}x" "$BATCH_CHECK"
printf '%-34s %9.2f %14s %12s %12s %8s %s\n' "CREATE SUBSCRIPTION" "$SUB_S" "$SUB_RATE" "-" "-" \
  "1.00x" "$SUB_CHECK"
printf '%-34s %9.2f %14s %12s %12s %8s %s\n' "(source decoding alone)" "$DECODE_S" \
  "$(rate "$DECODE_S")" "-" "-" "-" "pg_recvlogical"
echo "backlog shape: $SHAPE"
if ((FERRY_RATE >= 30000)); then
  echo "goal: transactional apply >= 30,000 row changes/s: met ($FERRY_RATE)"
else
  echo "goal: transactional apply >= 30,000 row changes/s: MISSED ($FERRY_RATE)"
fi
if ((BATCH_RATE >= 100000)); then
  echo "goal: batch apply >= 100,000 row changes/s: met ($BATCH_RATE)"
else
  echo "goal: batch apply >= 100,000 row changes/s: MISSED ($BATCH_RATE)"
fi

if ((!KEEP)); then
  cleanup_replication
  pg "$SRC_DB" -c "DROP PUBLICATION IF EXISTS cdcb_pub"
  for db in "$SRC_DB" "$FERRY_DB" "$SUB_DB" "$BATCH_DB"; do pg ferry -c "DROP DATABASE IF EXISTS $db"; done
fi
