#!/usr/bin/env bash
# Ferry full-load benchmark: Ferry against the usual tool for each engine pair.
#
# Usage: bench/full_load_bench.sh [--quick] [--regen] [--skip-build] [--keep]
#
#   --quick       smoke run: ROWS=100000 and BIG_ROWS=500000
#   --regen       regenerate the source tables even if they look current
#   --skip-build  use the existing Ferry binary ($FERRY) without building it
#   --keep        keep the target tables at the end (default: drop them)
#
# Environment:
#   ROWS       rows in the benchmark table (default 1000000)
#   BIG_ROWS   rows in the PostgreSQL-only table used for the memory-scaling
#              case (default 5000000; 0 skips that case)
#   REPEAT     runs per tool and case; the fastest is kept (default 1)
#   SEG_ROWS   rows in the single table of the parallel-segments cases
#              (default 5000000)
#   CASES      comma-separated subset of: pg-pg, my-pg, lite-pg, pg-my, my-my,
#              pg-pg-big, pg-pg-5m-seg, my-pg-5m-seg (default: all of them)
#   FERRY      Ferry binary (default build/release/ferry, built in Release)
#   FERRY_BENCH_DIR  scratch directory: logs, the SQLite database, pgloader
#                    load files (default /tmp/ferry-bench)
#   FERRY_PG_PORT, FERRY_MYSQL_PORT   as for scripts/servers.sh
#
# This is a benchmark, not a test: it prints numbers and goal verdicts and
# exits 0 even when a goal is missed or a tool fails. It exits non-zero only
# when it cannot set up (servers, data generation).
#
# What it does:
#   1. Installs /usr/bin/time and pgloader when missing, starts the throwaway
#      servers (scripts/servers.sh) and builds Ferry in Release.
#   2. Generates one mixed-type table t (bigint PK, int, bigint, numeric(12,2),
#      double, varchar(40), ~100-byte text, boolean, date, timestamp(6),
#      16-byte bytea/blob, with some NULLs and non-ASCII text) with
#      generate_series in PostgreSQL (schema bench_src), then copies the very
#      same rows into MariaDB (database bench_src) and SQLite
#      ($FERRY_BENCH_DIR/bench_src.db), and proves the three hold identical
#      data with an engine-independent checksum.
#   3. For each engine pair, runs Ferry and a peer tool, one after the other,
#      each into a freshly dropped target, under /usr/bin/time -f '%e %M'
#      (wall seconds, peak RSS of the largest process of the pipeline: client
#      side only, the database servers are not counted for anyone). After
#      every run it checks the target: row count plus a checksum (sums over
#      several columns) for everyone, and `ferry hash` source vs target for
#      Ferry runs.
#   4. Prints one table: case | tool | seconds | rows/s | MB/s | peak RSS MB |
#      ratio | check, then the goal verdicts.
#
# Peers:
#   pg-pg      psql COPY ... TO STDOUT (FORMAT binary) | psql COPY ... FROM
#              STDIN (FORMAT binary), into an identical empty table (with its
#              primary key) created before the clock starts.
#   my-pg      pgloader (load file: MariaDB -> PostgreSQL database
#   lite-pg    bench_pgloader, dropped and recreated before each run).
#   pg-my      psql COPY (SELECT ...) TO STDOUT (text format) | mariadb
#              LOAD DATA LOCAL INFILE '/dev/stdin', into an identical empty
#              table created before the clock starts. (mysqldump cannot read
#              PostgreSQL; this is the fastest stock-client pipe.)
#   my-my      mysqldump bench_src t | mariadb bench_peer (mysqldump's
#              default --opt: extended inserts, disabled keys, table locks).
#   pg-pg-big  same as pg-pg on BIG_ROWS rows, for Ferry's memory scaling.
#   pg-pg-5m-seg, my-pg-5m-seg
#              one SEG_ROWS-row table (bench_seg.t, PostgreSQL resp. MariaDB)
#              loaded by Ferry twice: as one stream (--auto-segments 0, in the
#              peer's column) and with automatic parallel segments (ctid
#              ranges resp. primary-key ranges, in one snapshot; SEG_N readers,
#              default 2); the ratio is
#              one-stream time / segmented time (> 1: segments are faster).
#
# MB/s uses one payload size for every case: the bytes of the source table in
# PostgreSQL's COPY text format (about what crosses the wire as text).
# The ratio column is Ferry's rows/s divided by the peer's rows/s for the same
# case (so > 1 means Ferry is faster). Goals: pg-pg Ferry time <= 1.1 x the
# pipe's (ratio >= 0.91); every other pair ratio >= 3; Ferry peak RSS < 256 MB
# and flat between ROWS and BIG_ROWS.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
GEN_VERSION=2  # bump when the generated data changes, forces regeneration

ROWS="${ROWS:-1000000}"
BIG_ROWS="${BIG_ROWS:-5000000}"
SEG_ROWS="${SEG_ROWS:-5000000}"
CASES="${CASES:-pg-pg,my-pg,lite-pg,pg-my,my-my,pg-pg-big,pg-pg-5m-seg,my-pg-5m-seg}"
REPEAT="${REPEAT:-1}"
FERRY="${FERRY:-$ROOT/build/release/ferry}"
WORK="${FERRY_BENCH_DIR:-/tmp/ferry-bench}"
PG_PORT="${FERRY_PG_PORT:-55432}"
MY_PORT="${FERRY_MYSQL_PORT:-53306}"
REGEN=0
BUILD=1
KEEP=0

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }

while (($#)); do
  case "$1" in
    --quick) ROWS=100000 BIG_ROWS=500000 SEG_ROWS=500000 ;;
    --regen) REGEN=1 ;;
    --skip-build) BUILD=0 ;;
    --keep) KEEP=1 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
  shift
done

log() { echo "bench: $*" >&2; }
die() { echo "bench: ERROR: $*" >&2; exit 1; }
has_case() { [[ ",$CASES," == *",$1,"* ]]; }

# ---------------------------------------------------------------------------
# Endpoints. Everyone (Ferry and the peers) talks TCP to 127.0.0.1, so the
# transport is the same for all tools.
# ---------------------------------------------------------------------------
PG_URI="postgresql://ferry:ferry@127.0.0.1:$PG_PORT/ferry"
my_uri() { echo "mysql://ferry:ferry@127.0.0.1:$MY_PORT/$1"; }
SQLITE_DB="$WORK/bench_src.db"
SQLITE_URI="sqlite://$SQLITE_DB"  # sqlite:// + absolute path = sqlite:///abs

export PGPASSWORD=ferry
export PGOPTIONS="-c client_min_messages=warning"  # no NOTICEs from IF [NOT] EXISTS
# psql: no psqlrc, stop at the first error, quiet.
PSQL=(psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U ferry)
# mariadb client; --local-infile for LOAD DATA LOCAL.
MYSQL=(mariadb --no-defaults -h 127.0.0.1 -P "$MY_PORT" -uferry -pferry --local-infile=1)

pg() { "${PSQL[@]}" -d ferry "$@"; }
my() { "${MYSQL[@]}" "$@"; }
my_val() { "${MYSQL[@]}" -N -B -e "$1"; }

# ---------------------------------------------------------------------------
# Setup: tools, servers, Ferry.
# ---------------------------------------------------------------------------
install_missing() {
  local pkgs=()
  [[ -x /usr/bin/time ]] || pkgs+=(time)
  command -v pgloader >/dev/null || pkgs+=(pgloader)
  command -v jq >/dev/null || pkgs+=(jq)
  command -v sqlite3 >/dev/null || pkgs+=(sqlite3)
  ((${#pkgs[@]})) || return 0
  log "installing ${pkgs[*]}"
  local sudo=()
  ((EUID == 0)) || sudo=(sudo)
  "${sudo[@]}" apt-get install -y "${pkgs[@]}" >/dev/null ||
    { "${sudo[@]}" apt-get update >/dev/null && "${sudo[@]}" apt-get install -y "${pkgs[@]}" >/dev/null; }
}

start_servers() {
  if ! FERRY_PG_PORT=$PG_PORT FERRY_MYSQL_PORT=$MY_PORT "$ROOT/scripts/servers.sh" status >/dev/null; then
    FERRY_PG_PORT=$PG_PORT FERRY_MYSQL_PORT=$MY_PORT "$ROOT/scripts/servers.sh" start >&2
  fi
  eval "$(FERRY_PG_PORT=$PG_PORT FERRY_MYSQL_PORT=$MY_PORT "$ROOT/scripts/servers.sh" env)"
}

# Builds Ferry in Release. A broken build is not fatal: the Ferry runs then
# report 'ferry failed' and the peers still run.
FERRY_OK=1
build_ferry() {
  if ((BUILD)); then
    log "building Ferry (Release) in build/release"
    if ! { cmake -S "$ROOT" -B "$ROOT/build/release" -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DFERRY_BUILD_TESTS=OFF && cmake --build "$ROOT/build/release" --target ferry; } \
      >"$WORK/build.log" 2>&1; then
      log "Ferry build FAILED (see $WORK/build.log); Ferry runs will be skipped"
      tail -n 20 "$WORK/build.log" >&2
    fi
  fi
  if [[ ! -x "$FERRY" ]]; then
    log "no Ferry binary at $FERRY; Ferry runs will be skipped"
    FERRY_OK=0
  fi
}

# ---------------------------------------------------------------------------
# Data generation.
# ---------------------------------------------------------------------------

# The table, per engine. Same column names and order everywhere.
pg_table_ddl() {  # $1 = schema
  cat <<EOF
CREATE TABLE $1.t (
  id   bigint PRIMARY KEY,
  i4   integer NOT NULL,
  i8   bigint,
  num  numeric(12,2),
  dbl  double precision,
  vc   varchar(40),
  txt  text,
  flag boolean,
  d    date,
  ts   timestamp(6),
  bin  bytea
);
EOF
}

MY_TABLE_DDL='CREATE TABLE t (
  id   BIGINT NOT NULL PRIMARY KEY,
  i4   INT NOT NULL,
  i8   BIGINT,
  num  DECIMAL(12,2),
  dbl  DOUBLE,
  vc   VARCHAR(40),
  txt  TEXT,
  flag BOOLEAN,
  d    DATE,
  ts   DATETIME(6),
  bin  BLOB
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4'

# SQLite: INTEGER PRIMARY KEY (the rowid alias) is how a SQLite table spells a
# 64-bit key; the other declared types are the ones SQLite users write.
SQLITE_TABLE_DDL='CREATE TABLE t (
  id   INTEGER PRIMARY KEY,
  i4   INT NOT NULL,
  i8   BIGINT,
  num  NUMERIC(12,2),
  dbl  DOUBLE,
  vc   VARCHAR(40),
  txt  TEXT,
  flag BOOLEAN,
  d    DATE,
  ts   DATETIME,
  bin  BLOB
)'

# Rows 1..$2 of the benchmark table into $1.t. Deterministic: row g is a pure
# function of g. Every nullable column has some NULLs; vc mixes ASCII, Latin-1
# and CJK text and txt carries apostrophes; no backslashes, tabs or newlines,
# so the SQL literal and text-format pipes below need no extra escaping.
pg_generate() {  # $1 = schema, $2 = rows
  pg <<EOF
DROP SCHEMA IF EXISTS $1 CASCADE;
CREATE SCHEMA $1;
$(pg_table_ddl "$1")
INSERT INTO $1.t
SELECT g,
       ((g * 7919) % 2000001 - 1000000)::int,
       CASE WHEN g % 13 = 0 THEN NULL ELSE (g * 2654435761) % 9000000000000 - 4500000000000 END,
       CASE WHEN g % 17 = 0 THEN NULL
            ELSE round(((g * 104729) % 100000000 - 50000000) / 100.0, 2) END,
       CASE WHEN g % 19 = 0 THEN NULL
            ELSE (g::float8 / 7.0) * power(10::float8, (g % 21) - 10)
                 * CASE WHEN g % 2 = 0 THEN 1 ELSE -1 END END,
       CASE WHEN g % 23 = 0 THEN NULL
            ELSE left(CASE g % 4 WHEN 0 THEN 'café ' WHEN 1 THEN 'Zürich-' WHEN 2 THEN '東京 '
                                 ELSE 'item ' END || md5(g::text), (5 + g % 36)::int) END,
       CASE WHEN g % 29 = 0 THEN NULL
            ELSE 'Row #' || g || CASE WHEN g % 7 = 0 THEN ', O''Brien''s note: ' ELSE ': ' END
                 || md5(g::text) || ' ' || substr(md5((g * 3)::text), 1, (10 + g % 23)::int)
                 || ' lorem ipsum dolor sit amet' END,
       CASE WHEN g % 31 = 0 THEN NULL ELSE g % 3 = 0 END,
       CASE WHEN g % 11 = 0 THEN NULL ELSE date '1940-01-01' + ((g * 37) % 36500)::int END,
       CASE WHEN g % 41 = 0 THEN NULL
            ELSE timestamp '1995-01-01 00:00:00'
                 + ((g * 7919123457) % 900000000000000) * interval '1 microsecond' END,
       CASE WHEN g % 37 = 0 THEN NULL ELSE decode(md5(g::text || 'b'), 'hex') END
FROM generate_series(1::bigint, $2) AS g;
ANALYZE $1.t;
EOF
}

# The SELECT that turns the PostgreSQL table into MariaDB's LOAD DATA input
# (text format: tab separated, \N for NULL): booleans as 0/1, bytes as hex.
pg_select_for_mysql() {  # $1 = schema
  echo "SELECT id, i4, i8, num, dbl, vc, txt, flag::int, d, ts, encode(bin, 'hex') FROM $1.t"
}
MY_LOAD_SQL="LOAD DATA LOCAL INFILE '/dev/stdin' INTO TABLE t CHARACTER SET utf8mb4
  (id, i4, i8, num, dbl, vc, txt, flag, d, ts, @bin) SET bin = UNHEX(@bin)"

# PostgreSQL $1.t -> MariaDB database $2, table t (which must exist): a
# COPY text stream straight into LOAD DATA LOCAL.
pg_to_mysql_pipe() {  # $1 = pg schema, $2 = mysql database
  "${PSQL[@]}" -d ferry -c "COPY ($(pg_select_for_mysql "$1")) TO STDOUT" |
    "${MYSQL[@]}" "$2" -e "$MY_LOAD_SQL"
}

my_generate() {
  my -e "DROP DATABASE IF EXISTS bench_src; CREATE DATABASE bench_src CHARACTER SET utf8mb4"
  my bench_src -e "$MY_TABLE_DDL"
  pg_to_mysql_pipe bench_src bench_src
  my bench_src -e "ANALYZE TABLE t" >/dev/null
}

# SQLite from PostgreSQL: one INSERT statement per row, in one transaction.
# Numbers and dates go in as SQLite stores them natively (integers, reals,
# ISO-8601 text), booleans as 0/1 and bytes as blob literals.
sqlite_generate() {
  rm -f "$SQLITE_DB" "$SQLITE_DB-journal" "$SQLITE_DB-wal" "$SQLITE_DB-shm"
  {
    echo "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;" # fast one-off load
    echo "$SQLITE_TABLE_DDL;"
    echo "BEGIN;"
    "${PSQL[@]}" -d ferry -c "COPY (SELECT format('INSERT INTO t VALUES(%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s);',
        id, i4, coalesce(i8::text, 'NULL'), coalesce(num::text, 'NULL'),
        coalesce(dbl::text, 'NULL'), quote_nullable(vc), quote_nullable(txt),
        coalesce(flag::int::text, 'NULL'), quote_nullable(d::text), quote_nullable(ts::text),
        coalesce('x''' || encode(bin, 'hex') || '''', 'NULL'))
      FROM bench_src.t ORDER BY id) TO STDOUT"
    echo "COMMIT;"
  } | sqlite3 -bail "$SQLITE_DB" >/dev/null
}

# Engine-independent checksum of a table t: row count, sum(id), sum(i4),
# sum of num in cents, summed character lengths of vc and txt, summed byte
# length of bin, count of true flags and summed days since 1970 of d. Prints
# one line; equal lines mean (very probably) equal data.
pg_checksum() {  # $1 = database, $2 = schema
  "${PSQL[@]}" -d "$1" -At -c "SELECT concat_ws(' ', count(*), sum(id), sum(i4),
      sum(round(num::numeric * 100)::bigint), sum(length(vc)), sum(length(txt)),
      sum(octet_length(bin)), sum(flag::int), sum(d - date '1970-01-01')) FROM $2.t"
}
my_checksum() {  # $1 = database
  my_val "SELECT concat_ws(' ', count(*), sum(id), sum(i4), sum(round(num * 100)),
      sum(char_length(vc)), sum(char_length(txt)), sum(length(bin)), sum(flag),
      sum(datediff(d, '1970-01-01'))) FROM $1.t"
}
sqlite_checksum() {
  sqlite3 "$SQLITE_DB" "SELECT count(*) || ' ' || sum(id) || ' ' || sum(i4) || ' ' ||
      sum(CAST(round(num * 100) AS INTEGER)) || ' ' || sum(length(vc)) || ' ' ||
      sum(length(txt)) || ' ' || sum(length(bin)) || ' ' || sum(flag) || ' ' ||
      sum(CAST(julianday(d) - 2440587.5 AS INTEGER)) FROM t"
}

# Payload size for MB/s: the table in COPY text format.
pg_payload_bytes() {  # $1 = schema
  "${PSQL[@]}" -d ferry -c "COPY $1.t TO STDOUT" | wc -c
}

REF_SUM=""        # checksum of the source table (all three engines agree)
PAYLOAD_BYTES=0
generate_data() {
  local stamp="$WORK/data.stamp" want="gen=$GEN_VERSION rows=$ROWS"
  if ((!REGEN)) && [[ -f "$stamp" ]] && [[ "$(head -n 1 "$stamp")" == "$want" ]]; then
    local ref
    ref="$(sed -n 2p "$stamp")"
    if [[ "$(pg_checksum ferry bench_src 2>/dev/null)" == "$ref" &&
      "$(my_checksum bench_src 2>/dev/null)" == "$ref" &&
      "$(sqlite_checksum 2>/dev/null)" == "$ref" ]]; then
      REF_SUM="$ref"
      PAYLOAD_BYTES="$(sed -n 3p "$stamp")"
      log "reusing the $ROWS-row source tables ($stamp)"
      return 0
    fi
  fi
  rm -f "$stamp"
  local t0=$SECONDS
  log "generating $ROWS rows in PostgreSQL (bench_src.t)"
  pg_generate bench_src "$ROWS"
  log "copying them into MariaDB (bench_src.t)"
  my_generate
  log "copying them into SQLite ($SQLITE_DB)"
  sqlite_generate
  REF_SUM="$(pg_checksum ferry bench_src)"
  local my_sum lite_sum
  my_sum="$(my_checksum bench_src)"
  lite_sum="$(sqlite_checksum)"
  if [[ "$my_sum" != "$REF_SUM" || "$lite_sum" != "$REF_SUM" ]]; then
    die "the three source tables differ: pg '$REF_SUM' mysql '$my_sum' sqlite '$lite_sum'"
  fi
  PAYLOAD_BYTES="$(pg_payload_bytes bench_src)"
  printf '%s\n%s\n%s\n' "$want" "$REF_SUM" "$PAYLOAD_BYTES" >"$stamp"
  log "data ready in $((SECONDS - t0)) s; checksum: $REF_SUM; payload $((PAYLOAD_BYTES / 1048576)) MB"
}

# The big PostgreSQL-only table for the memory-scaling case.
BIG_SUM=""
BIG_BYTES=0
generate_big() {
  local stamp="$WORK/big.stamp" want="gen=$GEN_VERSION rows=$BIG_ROWS"
  if ((!REGEN)) && [[ -f "$stamp" ]] && [[ "$(head -n 1 "$stamp")" == "$want" ]] &&
    [[ "$(pg_checksum ferry bench_big 2>/dev/null)" == "$(sed -n 2p "$stamp")" ]]; then
    BIG_SUM="$(sed -n 2p "$stamp")"
    BIG_BYTES="$(sed -n 3p "$stamp")"
    log "reusing the $BIG_ROWS-row table bench_big.t"
    return 0
  fi
  rm -f "$stamp"
  log "generating $BIG_ROWS rows in PostgreSQL (bench_big.t)"
  pg_generate bench_big "$BIG_ROWS"
  BIG_SUM="$(pg_checksum ferry bench_big)"
  BIG_BYTES="$(pg_payload_bytes bench_big)"
  printf '%s\n%s\n%s\n' "$want" "$BIG_SUM" "$BIG_BYTES" >"$stamp"
}

# The single table of the parallel-segments cases: PostgreSQL bench_seg.t and,
# for my-pg-5m-seg, the same rows in MariaDB bench_seg.t.
SEG_SUM=""
SEG_BYTES=0
generate_seg() {
  local stamp="$WORK/seg.stamp" want="gen=$GEN_VERSION rows=$SEG_ROWS"
  if ((!REGEN)) && [[ -f "$stamp" ]] && [[ "$(head -n 1 "$stamp")" == "$want" ]] &&
    [[ "$(pg_checksum ferry bench_seg 2>/dev/null)" == "$(sed -n 2p "$stamp")" ]]; then
    SEG_SUM="$(sed -n 2p "$stamp")"
    SEG_BYTES="$(sed -n 3p "$stamp")"
    log "reusing the $SEG_ROWS-row table bench_seg.t"
  else
    rm -f "$stamp" "$WORK/seg-my.stamp"
    log "generating $SEG_ROWS rows in PostgreSQL (bench_seg.t)"
    pg_generate bench_seg "$SEG_ROWS"
    SEG_SUM="$(pg_checksum ferry bench_seg)"
    SEG_BYTES="$(pg_payload_bytes bench_seg)"
    printf '%s\n%s\n%s\n' "$want" "$SEG_SUM" "$SEG_BYTES" >"$stamp"
  fi
  if has_case my-pg-5m-seg && [[ "$(my_checksum bench_seg 2>/dev/null)" != "$SEG_SUM" ]]; then
    log "copying them into MariaDB (bench_seg.t)"
    my -e "DROP DATABASE IF EXISTS bench_seg; CREATE DATABASE bench_seg CHARACTER SET utf8mb4"
    my bench_seg -e "$MY_TABLE_DDL"
    pg_to_mysql_pipe bench_seg bench_seg
    my bench_seg -e "ANALYZE TABLE t" >/dev/null
    [[ "$(my_checksum bench_seg)" == "$SEG_SUM" ]] || die "MariaDB bench_seg.t differs from PostgreSQL's"
  fi
}

# ---------------------------------------------------------------------------
# Timed runs and results.
# ---------------------------------------------------------------------------

# Results, one entry per run.
R_CASE=() R_TOOL=() R_SEC=() R_ROWS=() R_BYTES=() R_RSS=() R_CHECK=() R_ROLE=()
RUN_SEC="" RUN_RSS_KB=""
LOAD_MAX=0  # highest 1-minute load average seen when a timed run started

# timed LOG CMD...: runs CMD under /usr/bin/time, output to LOG. Sets RUN_SEC
# and RUN_RSS_KB; returns CMD's exit status. Pipelines go through `bash -c`
# with pipefail: /usr/bin/time then reports the largest process's peak RSS.
timed() {
  local logf="$1" tf="$WORK/time.out" load
  shift
  rm -f "$tf"
  read -r load _ </proc/loadavg
  LOAD_MAX="$(awk -v a="$LOAD_MAX" -v b="$load" 'BEGIN { print (b > a ? b : a) }')"
  local rc=0
  /usr/bin/time -f '%e %M' -o "$tf" "$@" >"$logf" 2>&1 || rc=$?
  # With a non-zero exit, time writes "Command exited with non-zero status N"
  # first: the numbers are on the last line.
  read -r RUN_SEC RUN_RSS_KB < <(tail -n 1 "$tf" 2>/dev/null || echo "0 0")
  return "$rc"
}

# best_of N PREP LOG CMD...: runs PREP (untimed, via eval) then CMD under
# `timed`, N times; keeps the fastest time in RUN_SEC and the highest peak RSS
# in RUN_RSS_KB. Returns the first non-zero exit status (and stops there).
best_of() {
  local n="$1" prep="$2" logf="$3" best_sec="" max_rss=0 i rc
  shift 3
  for ((i = 1; i <= n; i++)); do
    if ! eval "$prep" >"$logf.prep" 2>&1; then
      RUN_SEC="" RUN_RSS_KB=""
      return 99
    fi
    rc=0
    timed "$logf" "$@" || rc=$?
    ((rc == 0)) || return "$rc"
    if [[ -z "$best_sec" ]] || awk -v a="$RUN_SEC" -v b="$best_sec" 'BEGIN { exit !(a < b) }'; then
      best_sec="$RUN_SEC"
    fi
    ((RUN_RSS_KB > max_rss)) && max_rss="$RUN_RSS_KB"
  done
  RUN_SEC="$best_sec" RUN_RSS_KB="$max_rss"
}

record() {  # case tool role(ferry|peer) rows bytes check
  R_CASE+=("$1") R_TOOL+=("$2") R_ROLE+=("$3") R_ROWS+=("$4") R_BYTES+=("$5")
  R_SEC+=("$RUN_SEC") R_RSS+=("$RUN_RSS_KB") R_CHECK+=("$6")
  log "  $2: ${RUN_SEC}s, peak RSS $((RUN_RSS_KB / 1024)) MB, check: $6"
}
record_failure() {  # case tool role why
  R_CASE+=("$1") R_TOOL+=("$2") R_ROLE+=("$3") R_ROWS+=(0) R_BYTES+=(0)
  R_SEC+=("-") R_RSS+=("-") R_CHECK+=("$4")
  log "  $2: $4"
}

# ferry hash of one table, as "rows hash" (empty on failure).
ferry_hash() {  # uri schema ("" for SQLite)
  local opts=()
  [[ -n "$2" ]] && opts=(--schema "$2")
  "$FERRY" hash "$1" "${opts[@]}" --tables t --json 2>>"$WORK/hash.log" |
    jq -r '.[0] | "\(.rows) \(.hash)"' 2>/dev/null || true
}

# Compares a target checksum line with the reference; prints a verdict.
verdict() {  # got want
  if [[ "$1" == "$2" ]]; then
    echo "OK"
  elif [[ -z "$1" ]]; then
    echo "no target table"
  else
    echo "MISMATCH (rows ${1%% *} of ${2%% *})"
  fi
}

# Ferry run: drop the target table (untimed) so Ferry starts from nothing,
# then migrate with DROP_AND_CREATE; check with the checksum and ferry hash.
# FERRY_EXTRA (array) adds migrate flags; FERRY_TOOL / FERRY_ROLE name the run
# in the report (default ferry / ferry; role peer puts it in the ratio's
# denominator).
FERRY_EXTRA=()
FERRY_TOOL=ferry
FERRY_ROLE=ferry
run_ferry() {  # case src_uri src_schema tgt_kind(pg|my) tgt_uri tgt_schema rows bytes ref
  local name="$1" src_uri="$2" src_schema="$3" kind="$4" tgt_uri="$5" tgt_schema="$6"
  local rows="$7" bytes="$8" ref="$9"
  if ((!FERRY_OK)); then
    record_failure "$name" "$FERRY_TOOL" "$FERRY_ROLE" "ferry failed (no binary)"
    return 0
  fi
  local extra=() prep
  if [[ "$kind" == pg ]]; then
    prep="pg -c 'CREATE SCHEMA IF NOT EXISTS $tgt_schema; DROP TABLE IF EXISTS $tgt_schema.t'"
    extra=(--target-schema "$tgt_schema")
  else
    prep="my -e 'CREATE DATABASE IF NOT EXISTS $tgt_schema CHARACTER SET utf8mb4;
                 DROP TABLE IF EXISTS $tgt_schema.t'"
  fi
  local src_opts=()
  [[ -n "$src_schema" ]] && src_opts=(--schema "$src_schema")
  local logf="$WORK/$name.$FERRY_TOOL.log"
  log "$name: $FERRY_TOOL"
  local rc=0
  best_of "$REPEAT" "$prep" "$logf" "$FERRY" migrate --source "$src_uri" --target "$tgt_uri" \
    "${src_opts[@]}" --tables t "${extra[@]}" ${FERRY_EXTRA[@]+"${FERRY_EXTRA[@]}"} \
    --target-table-prep-mode DROP_AND_CREATE --no-progress --json || rc=$?
  if ((rc != 0)); then
    record_failure "$name" "$FERRY_TOOL" "$FERRY_ROLE" "ferry failed (exit $rc, see $logf)"
    grep -v '^ ' "$logf" | tail -n 5 | sed 's/^/    /' >&2
    return 0
  fi
  local got check
  if [[ "$kind" == pg ]]; then
    got="$(pg_checksum ferry "$tgt_schema" 2>/dev/null || true)"
  else
    got="$(my_checksum "$tgt_schema" 2>/dev/null || true)"
  fi
  check="$(verdict "$got" "$ref")"
  # ferry hash: source and target must agree on rows and content hash.
  local hs ht
  hs="$(ferry_hash "$src_uri" "$src_schema")"
  ht="$(ferry_hash "$tgt_uri" "$tgt_schema")"
  if [[ -z "$hs" || -z "$ht" ]]; then
    check+=", hash failed"
  elif [[ "$hs" == "$ht" ]]; then
    check+=", hash OK"
  else
    check+=", HASH DIFFERS"
    echo "$name: source $hs target $ht" >>"$WORK/hash.log"
  fi
  record "$name" "$FERRY_TOOL" "$FERRY_ROLE" "$rows" "$bytes" "$check"
}

# Peer run: $prep (untimed) then the timed command, then the checksum.
run_peer() {  # case tool rows bytes ref checkfn prep-cmd -- timed-cmd...
  local name="$1" tool="$2" rows="$3" bytes="$4" ref="$5" checkfn="$6" prep="$7"
  shift 7
  [[ "$1" == -- ]] && shift
  local logf="$WORK/$name.$tool.log"
  log "$name: $tool"
  local rc=0
  best_of "$REPEAT" "$prep" "$logf" "$@" || rc=$?
  if ((rc == 99)); then
    record_failure "$name" "$tool" peer "prep failed, see $logf.prep"
    return 0
  fi
  local got check
  got="$(eval "$checkfn" 2>/dev/null || true)"
  check="$(verdict "$got" "$ref")"
  if ((rc != 0)); then
    check="exit $rc; $check"
  fi
  # pgloader exits 0 after FATAL errors: its output tells.
  if [[ "$tool" == pgloader ]] && grep -qE 'FATAL|ERROR' "$logf"; then
    check="pgloader errors (see $logf); $check"
  fi
  record "$name" "$tool" peer "$rows" "$bytes" "$check"
}

# ---------------------------------------------------------------------------
# The cases.
# ---------------------------------------------------------------------------

# pgloader: MariaDB/SQLite -> PostgreSQL database bench_pgloader, recreated
# before each run. A load file, not a bare URL: it keeps pgloader to table t,
# and the CAST rule keeps it working on DATETIME columns that default to
# current_timestamp(6) (a bare URL fails on those; this table has none).
PGL_DB=bench_pgloader
pgloader_prep() {
  "${PSQL[@]}" -d ferry -c "DROP DATABASE IF EXISTS $PGL_DB" -c "CREATE DATABASE $PGL_DB"
}
write_pgloader_files() {
  cat >"$WORK/my-pg.load" <<EOF
LOAD DATABASE
  FROM mysql://ferry:ferry@127.0.0.1:$MY_PORT/bench_src
  INTO postgresql://ferry:ferry@127.0.0.1:$PG_PORT/$PGL_DB
  WITH include drop, create tables, create indexes, reset sequences
  CAST type datetime to timestamp drop default drop not null using zero-dates-to-null
  INCLUDING ONLY TABLE NAMES MATCHING 't';
EOF
  cat >"$WORK/lite-pg.load" <<EOF
LOAD DATABASE
  FROM sqlite://$SQLITE_DB
  INTO postgresql://ferry:ferry@127.0.0.1:$PG_PORT/$PGL_DB
  WITH include drop, create tables, create indexes, reset sequences
  INCLUDING ONLY TABLE NAMES LIKE 't';
EOF
}

case_pg_pg() {  # name src_schema rows bytes ref
  local name="$1" src="$2" rows="$3" bytes="$4" ref="$5"
  run_ferry "$name" "$PG_URI" "$src" pg "$PG_URI" bench_dst "$rows" "$bytes" "$ref"
  run_peer "$name" "copy-pipe" "$rows" "$bytes" "$ref" "pg_checksum ferry bench_peer" \
    "pg -c 'DROP SCHEMA IF EXISTS bench_peer CASCADE; CREATE SCHEMA bench_peer;' -c \"\$(pg_table_ddl bench_peer)\"" \
    -- bash -c 'set -o pipefail
      psql -X -q -h 127.0.0.1 -p "$0" -U ferry -d ferry -c "COPY $1.t TO STDOUT (FORMAT binary)" |
      psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$0" -U ferry -d ferry \
        -c "COPY bench_peer.t FROM STDIN (FORMAT binary)"' "$PG_PORT" "$src"
}

case_my_pg() {
  run_ferry my-pg "$(my_uri bench_src)" bench_src pg "$PG_URI" bench_dst "$ROWS" \
    "$PAYLOAD_BYTES" "$REF_SUM"
  run_peer my-pg pgloader "$ROWS" "$PAYLOAD_BYTES" "$REF_SUM" \
    "pg_checksum $PGL_DB bench_src" pgloader_prep \
    -- pgloader --no-ssl-cert-verification "$WORK/my-pg.load"
}

case_lite_pg() {
  run_ferry lite-pg "$SQLITE_URI" "" pg "$PG_URI" bench_dst "$ROWS" "$PAYLOAD_BYTES" "$REF_SUM"
  run_peer lite-pg pgloader "$ROWS" "$PAYLOAD_BYTES" "$REF_SUM" \
    "pg_checksum $PGL_DB public" pgloader_prep \
    -- pgloader "$WORK/lite-pg.load"
}

case_pg_my() {
  run_ferry pg-my "$PG_URI" bench_src my "$(my_uri bench_dst)" bench_dst "$ROWS" \
    "$PAYLOAD_BYTES" "$REF_SUM"
  run_peer pg-my copy-load-data "$ROWS" "$PAYLOAD_BYTES" "$REF_SUM" "my_checksum bench_peer" \
    "my -e 'DROP DATABASE IF EXISTS bench_peer; CREATE DATABASE bench_peer CHARACTER SET utf8mb4' &&
     my bench_peer -e \"\$MY_TABLE_DDL\"" \
    -- bash -c 'set -o pipefail
      psql -X -q -h 127.0.0.1 -p "$0" -U ferry -d ferry -c "COPY ($1) TO STDOUT" |
      mariadb --no-defaults -h 127.0.0.1 -P "$2" -uferry -pferry --local-infile=1 bench_peer \
        -e "$3"' "$PG_PORT" "$(pg_select_for_mysql bench_src)" "$MY_PORT" "$MY_LOAD_SQL"
}

case_my_my() {
  run_ferry my-my "$(my_uri bench_src)" bench_src my "$(my_uri bench_dst)" bench_dst "$ROWS" \
    "$PAYLOAD_BYTES" "$REF_SUM"
  run_peer my-my mysqldump "$ROWS" "$PAYLOAD_BYTES" "$REF_SUM" "my_checksum bench_peer" \
    "my -e 'DROP DATABASE IF EXISTS bench_peer; CREATE DATABASE bench_peer CHARACTER SET utf8mb4'" \
    -- bash -c 'set -o pipefail
      mysqldump --no-defaults -h 127.0.0.1 -P "$0" -uferry -pferry bench_src t |
      mariadb --no-defaults -h 127.0.0.1 -P "$0" -uferry -pferry bench_peer' "$MY_PORT"
}

# One table, Ferry alone: one stream (the reference) vs automatic segments.
case_seg() {  # name src_uri src_schema
  local name="$1" src_uri="$2" src_schema="$3"
  FERRY_TOOL=ferry-1-stream FERRY_ROLE=peer FERRY_EXTRA=(--auto-segments 0)
  run_ferry "$name" "$src_uri" "$src_schema" pg "$PG_URI" bench_dst "$SEG_ROWS" "$SEG_BYTES" \
    "$SEG_SUM"
  # Below Ferry's 1M-row threshold (a small trial run) the table must still split.
  FERRY_TOOL=ferry-segments FERRY_ROLE=ferry
  FERRY_EXTRA=(--auto-segments "${SEG_N:-2}" --auto-segment-min-rows "$((SEG_ROWS < 1000000 ? SEG_ROWS / 2 : 1000000))")
  run_ferry "$name" "$src_uri" "$src_schema" pg "$PG_URI" bench_dst "$SEG_ROWS" "$SEG_BYTES" \
    "$SEG_SUM"
  FERRY_TOOL=ferry FERRY_ROLE=ferry FERRY_EXTRA=()
  grep -h "automatic segments" "$WORK/$name.ferry-segments.log" | tail -n 1 | sed 's/^/    /' >&2 || true
}

cleanup_targets() {
  ((KEEP)) && return 0
  log "dropping the target tables (--keep keeps them)"
  pg -c "DROP SCHEMA IF EXISTS bench_dst CASCADE" -c "DROP SCHEMA IF EXISTS bench_peer CASCADE" \
    >/dev/null 2>&1 || true
  "${PSQL[@]}" -d ferry -c "DROP DATABASE IF EXISTS $PGL_DB" >/dev/null 2>&1 || true
  my -e "DROP DATABASE IF EXISTS bench_dst; DROP DATABASE IF EXISTS bench_peer" \
    >/dev/null 2>&1 || true
}

# ---------------------------------------------------------------------------
# Report.
# ---------------------------------------------------------------------------
print_report() {
  local n=${#R_CASE[@]} i j
  echo
  echo "Ferry full-load benchmark: $ROWS rows (big case: $BIG_ROWS), best of $REPEAT," \
    "$(nproc) cores, payload $((PAYLOAD_BYTES / 1048576)) MB per $ROWS rows (COPY text size)"
  printf '%-10s | %-15s | %8s | %10s | %7s | %11s | %6s | %s\n' \
    case tool seconds rows/s MB/s "peak RSS MB" ratio "check"
  printf '%s\n' "-----------+-----------------+----------+------------+---------+-------------+--------+------------------"
  for ((i = 0; i < n; i++)); do
    local sec="${R_SEC[i]}" rps="-" mbps="-" rss="-" ratio="-"
    if [[ "$sec" != "-" ]]; then
      rps="$(awk -v r="${R_ROWS[i]}" -v s="$sec" 'BEGIN { printf "%.0f", (s > 0 ? r / s : 0) }')"
      mbps="$(awk -v b="${R_BYTES[i]}" -v s="$sec" 'BEGIN { printf "%.1f", (s > 0 ? b / 1048576 / s : 0) }')"
      rss="$(awk -v k="${R_RSS[i]}" 'BEGIN { printf "%.1f", k / 1024 }')"
      if [[ "${R_ROLE[i]}" == ferry ]]; then
        # Ferry rows/s over the peer's rows/s, same case.
        for ((j = 0; j < n; j++)); do
          if [[ "${R_CASE[j]}" == "${R_CASE[i]}" && "${R_ROLE[j]}" == peer && "${R_SEC[j]}" != "-" ]]; then
            ratio="$(awk -v f="$sec" -v p="${R_SEC[j]}" 'BEGIN { printf "%.2f", (f > 0 ? p / f : 0) }')"
          fi
        done
      fi
    fi
    printf '%-10s | %-15s | %8s | %10s | %7s | %11s | %6s | %s\n' "${R_CASE[i]}" "${R_TOOL[i]}" \
      "$sec" "$rps" "$mbps" "$rss" "$ratio" "${R_CHECK[i]}"
  done
  echo
  echo "ratio = Ferry rows/s / peer rows/s (peer time / Ferry time)."
  echo "Goals:"
  local c goal
  for c in pg-pg my-pg lite-pg pg-my my-my pg-pg-big pg-pg-5m-seg my-pg-5m-seg; do
    local fs="" ps=""
    for ((i = 0; i < n; i++)); do
      [[ "${R_CASE[i]}" == "$c" ]] || continue
      if [[ "${R_ROLE[i]}" == ferry ]]; then fs="${R_SEC[i]}"; else ps="${R_SEC[i]}"; fi
    done
    [[ -n "$fs$ps" ]] || continue
    if [[ -z "$fs" || "$fs" == "-" || -z "$ps" || "$ps" == "-" ]]; then
      echo "  $c: no comparison (a run failed)"
      continue
    fi
    if [[ "$c" == *-seg ]]; then
      goal="$(awk -v f="$fs" -v p="$ps" 'BEGIN { r = p / f; printf "one-stream time / segmented time = %.2f (goal > 1): %s", r, (r > 1 ? "MET" : "MISSED") }')"
    elif [[ "$c" == pg-pg* ]]; then
      goal="$(awk -v f="$fs" -v p="$ps" 'BEGIN { r = f / p; printf "Ferry time / pipe time = %.2f (goal <= 1.10): %s", r, (r <= 1.10 ? "MET" : "MISSED") }')"
    else
      goal="$(awk -v f="$fs" -v p="$ps" 'BEGIN { r = p / f; printf "Ferry rows/s / peer rows/s = %.2f (goal >= 3): %s", r, (r >= 3 ? "MET" : "MISSED") }')"
    fi
    echo "  $c: $goal"
  done
  # Memory: Ferry's peak RSS at ROWS and BIG_ROWS on PG->PG.
  local r1="" r2=""
  for ((i = 0; i < n; i++)); do
    [[ "${R_ROLE[i]}" == ferry && "${R_SEC[i]}" != "-" ]] || continue
    [[ "${R_CASE[i]}" == pg-pg ]] && r1="${R_RSS[i]}"
    [[ "${R_CASE[i]}" == pg-pg-big ]] && r2="${R_RSS[i]}"
  done
  if [[ -n "$r1" ]]; then
    awk -v a="$r1" -v b="$r2" -v n1="$ROWS" -v n2="$BIG_ROWS" 'BEGIN {
      printf "  Ferry peak RSS (pg-pg): %.0f MB at %d rows", a / 1024, n1
      if (b != "") printf ", %.0f MB at %d rows", b / 1024, n2
      m = (b != "" && b > a) ? b : a
      ok = m / 1024 < 256 && (b == "" || b / a < 1.25)
      printf " (goal < 256 MB and flat): %s\n", (ok ? "MET" : "MISSED")
    }'
  fi
  echo "Highest 1-minute load average when a run started: $LOAD_MAX on $(nproc) cores" \
    "(above the core count, other work competed with the runs: treat the numbers with care)."
  echo "Logs: $WORK"
}

# ---------------------------------------------------------------------------
# Main.
# ---------------------------------------------------------------------------
main() {
  mkdir -p "$WORK"
  : >"$WORK/hash.log"
  install_missing
  start_servers
  build_ferry
  generate_data
  write_pgloader_files

  # Each case is isolated: a failure inside one is recorded, never fatal.
  has_case pg-pg && { case_pg_pg pg-pg bench_src "$ROWS" "$PAYLOAD_BYTES" "$REF_SUM" || log "pg-pg: case aborted"; }
  has_case my-pg && { case_my_pg || log "my-pg: case aborted"; }
  has_case lite-pg && { case_lite_pg || log "lite-pg: case aborted"; }
  has_case pg-my && { case_pg_my || log "pg-my: case aborted"; }
  has_case my-my && { case_my_my || log "my-my: case aborted"; }
  if has_case pg-pg-big && ((BIG_ROWS > 0)); then
    generate_big
    case_pg_pg pg-pg-big bench_big "$BIG_ROWS" "$BIG_BYTES" "$BIG_SUM" || log "pg-pg-big: case aborted"
  fi
  if has_case pg-pg-5m-seg || has_case my-pg-5m-seg; then
    generate_seg
    has_case pg-pg-5m-seg && { case_seg pg-pg-5m-seg "$PG_URI" bench_seg || log "pg-pg-5m-seg: case aborted"; }
    has_case my-pg-5m-seg && { case_seg my-pg-5m-seg "$(my_uri bench_seg)" bench_seg || log "my-pg-5m-seg: case aborted"; }
  fi
  cleanup_targets
  print_report | tee "$WORK/results.txt"
}

# One line, so bash has parsed the exit before main runs: editing this file
# while it runs cannot make bash execute a half-read line afterwards.
main "$@"; exit
