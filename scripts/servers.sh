#!/usr/bin/env bash
# Throwaway PostgreSQL 15 and MariaDB servers for tests, CI and benchmarks.
#
# Usage: scripts/servers.sh start|stop|stop-pg|stop-mysql|status|env
#
#   start   initialise (first time) and start both servers; idempotent: a
#           server that already runs is left alone (so `start` after
#           `stop-pg` restarts PostgreSQL with its data). Waits up to
#           FERRY_SERVERS_TIMEOUT seconds (default 60) for each one and, on
#           failure, prints the tail of its log and exits non-zero.
#   stop    stop both servers and delete the whole base directory.
#   stop-pg, stop-mysql
#           stop one server (fast shutdown: sessions are cut) and keep its
#           data, to test what clients do while a server restarts.
#   status  tell what runs; exit 0 if both run, 1 if only one, 3 if none.
#   env     print `export FERRY_TEST_PG_URI=...` and
#           `export FERRY_TEST_MYSQL_URI=...`, for
#           eval "$(scripts/servers.sh env)".
#
# Environment:
#   FERRY_SERVERS_DIR   base directory       (default /tmp/ferry-servers)
#   FERRY_PG_PORT       PostgreSQL TCP port  (default 55432)
#   FERRY_MYSQL_PORT    MariaDB TCP port     (default 53306)
#   FERRY_SERVERS_TIMEOUT  readiness/shutdown timeout in seconds (default 60)
#
# Both servers listen on 127.0.0.1 only, keep their Unix sockets in the base
# directory and are tuned for speed, not durability (fsync off etc.): never
# put data you care about in them.
#
# Accounts (password auth over TCP):
#   PostgreSQL: role ferry/ferry (SUPERUSER REPLICATION LOGIN), database
#               ferry; superuser postgres (trust over the Unix socket only).
#               wal_level=logical for CDC.
#   MariaDB:    ferry/ferry @ '%', 'localhost', '127.0.0.1' with ALL
#               PRIVILEGES WITH GRANT OPTION, database ferry; root without
#               password over the Unix socket. ROW binlog, FULL row image.
set -euo pipefail

BASE="${FERRY_SERVERS_DIR:-/tmp/ferry-servers}"
PG_PORT="${FERRY_PG_PORT:-55432}"
MY_PORT="${FERRY_MYSQL_PORT:-53306}"
TIMEOUT="${FERRY_SERVERS_TIMEOUT:-60}"

PG_BIN=/usr/lib/postgresql/15/bin
PG_DATA="$BASE/pg"
PG_LOG="$BASE/pg.log"
PG_CONF_EXTRA="$PG_DATA/ferry.conf"

MY_DATA="$BASE/mysql"
MY_SOCK="$BASE/mysql.sock"
MY_PID="$BASE/mysql.pid"
MY_LOG="$BASE/mysql.log"
MY_INSTALL_LOG="$BASE/mysql-install.log"

# Marker proving that $BASE was created by this script (guards `rm -rf`).
MARKER="$BASE/.ferry-servers"

log() { echo "servers.sh: $*"; }
err() { echo "servers.sh: $*" >&2; }

# Print the comment block at the top of this file.
usage() {
  awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
}

# Print the last lines of a log file to stderr (used on failures).
show_log_tail() {
  local file="$1"
  if [[ -f "$file" ]]; then
    err "----- last 40 lines of $file -----"
    tail -n 40 "$file" >&2 || true
    err "----- end of $file -----"
  else
    err "(no log file $file)"
  fi
}

# True if process $1 exists and is not a zombie (a killed server can stay a
# zombie for a moment until init reaps it, and `kill -0` succeeds on those).
# Reads /proc/PID/stat: the state is the first field after "(comm) ".
alive() {
  local stat
  [[ -n "$1" ]] && stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
  stat="${stat##*) }"
  [[ -n "$stat" && "$stat" != Z* ]]
}

# Wait until process $1 is gone, zombie included (at most $TIMEOUT seconds).
wait_gone() {
  local deadline=$((SECONDS + TIMEOUT))
  while [[ -n "$1" ]] && kill -0 "$1" 2>/dev/null && ((SECONDS < deadline)); do
    sleep 0.2
  done
}

# ---------------------------------------------------------------------------
# PostgreSQL
# ---------------------------------------------------------------------------

# PostgreSQL refuses to run as root: as root, its programs run as `postgres`
# and the files it writes belong to that user.
if ((EUID == 0)); then
  PG_USER=postgres
else
  PG_USER="$(id -un)"
fi

# Run a PostgreSQL server program as $PG_USER, from a directory it can read.
# fd 9 (the lock, see with_lock) is closed so the server does not inherit it.
as_pg() {
  if ((EUID == 0)); then
    (cd / && runuser -u "$PG_USER" -- "$@") 9>&-
  else
    (cd / && "$@") 9>&-
  fi
}

# True if the postmaster recorded in postmaster.pid is alive.
pg_alive() {
  local pid
  pid="$(head -n 1 "$PG_DATA/postmaster.pid" 2>/dev/null)" && alive "$pid"
}

# True if the postmaster is alive and accepts connections on $PG_PORT.
pg_running() {
  pg_alive && "$PG_BIN/pg_isready" -q -h "$BASE" -p "$PG_PORT" -t 5
}

# psql as superuser postgres over the Unix socket (trust).
pg_psql() {
  "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$BASE" -p "$PG_PORT" \
    -U postgres "$@"
}

# A test certificate authority and a server certificate for 127.0.0.1 / localhost, made once:
# both servers offer TLS with it, and tests verify it ($TLS_DIR/ca.pem, FERRY_TEST_TLS_CA).
TLS_DIR="$BASE/tls"
tls_make() {
  if [[ -f "$TLS_DIR/server.pem" && -f "$TLS_DIR/ca.pem" ]]; then
    return 0
  fi
  log "making a test CA and server certificate in $TLS_DIR"
  mkdir -p "$TLS_DIR"
  (
    cd "$TLS_DIR"
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=Ferry test CA" \
      -keyout ca.key -out ca.pem
    openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout server.key \
      -out server.csr
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >server.ext
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 3650 \
      -extfile server.ext -out server.pem
  ) >"$BASE/tls.log" 2>&1 || {
    err "could not make the test certificates"
    show_log_tail "$BASE/tls.log"
    return 1
  }
  chmod 755 "$TLS_DIR"
  chmod 644 "$TLS_DIR/ca.pem" "$TLS_DIR/server.pem"
}

# Settings written at every start, so FERRY_PG_PORT may change between runs.
pg_write_config() {
  cat >"$PG_CONF_EXTRA" <<EOF
# Written by scripts/servers.sh at every start; edits are lost.
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$BASE'
max_connections = 200
shared_buffers = 256MB
# Logical decoding / CDC.
wal_level = logical
max_replication_slots = 20
max_wal_senders = 20
# Throwaway server: speed over durability.
fsync = off
synchronous_commit = off
full_page_writes = off
# Benchmarks write GBs of WAL: fewer forced checkpoints, steadier timings.
max_wal_size = 8GB
# TLS offered (not required) with the test certificate.
ssl = on
ssl_cert_file = 'server.pem'
ssl_key_file = 'server.key'
EOF
  # PostgreSQL wants its key owned by its own user and private.
  cp "$TLS_DIR/server.pem" "$TLS_DIR/server.key" "$PG_DATA/"
  chmod 600 "$PG_DATA/server.key"
  if ((EUID == 0)); then
    chown "$PG_USER": "$PG_CONF_EXTRA" "$PG_DATA/server.pem" "$PG_DATA/server.key"
  fi
}

pg_init() {
  log "initialising PostgreSQL in $PG_DATA"
  rm -rf "$PG_DATA" "$BASE/pg.initialized"
  if ! as_pg "$PG_BIN/initdb" -D "$PG_DATA" -U postgres --no-sync \
    --encoding=UTF8 --locale=C.UTF-8 \
    --auth-local=trust --auth-host=scram-sha-256 >"$BASE/pg-initdb.log" 2>&1; then
    err "initdb failed"
    show_log_tail "$BASE/pg-initdb.log"
    return 1
  fi
  cat >"$PG_DATA/pg_hba.conf" <<'EOF'
# Written by scripts/servers.sh.
# TYPE  DATABASE     USER  ADDRESS       METHOD
local   all          all                 trust
host    all          all   127.0.0.1/32  scram-sha-256
host    replication  all   127.0.0.1/32  scram-sha-256
EOF
  echo "include_if_exists = 'ferry.conf'" >>"$PG_DATA/postgresql.conf"
  if ((EUID == 0)); then
    chown "$PG_USER": "$PG_DATA/pg_hba.conf"
  fi
  touch "$BASE/pg.initialized"
}

# Create role and database ferry; safe to repeat.
pg_setup_accounts() {
  pg_psql -d postgres <<'EOF'
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ferry') THEN
    CREATE ROLE ferry;
  END IF;
END
$$;
ALTER ROLE ferry WITH SUPERUSER REPLICATION LOGIN PASSWORD 'ferry';
SELECT 'CREATE DATABASE ferry OWNER ferry'
  WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'ferry') \gexec
EOF
}

pg_start() {
  if pg_running; then
    log "PostgreSQL already running on 127.0.0.1:$PG_PORT"
    return 0
  fi
  if [[ ! -f "$BASE/pg.initialized" || ! -f "$PG_DATA/PG_VERSION" ]]; then
    pg_init
  fi
  tls_make
  pg_write_config
  # After a crash the old postmaster may linger as a zombie for a moment, and
  # PostgreSQL will not start while its PID still exists.
  wait_gone "$(head -n 1 "$PG_DATA/postmaster.pid" 2>/dev/null || true)"
  log "starting PostgreSQL on 127.0.0.1:$PG_PORT"
  if ! as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w -t "$TIMEOUT" \
    start >/dev/null; then
    err "PostgreSQL failed to start (timeout ${TIMEOUT}s)"
    show_log_tail "$PG_LOG"
    return 1
  fi
  if ! pg_setup_accounts; then
    err "creating PostgreSQL role/database ferry failed"
    show_log_tail "$PG_LOG"
    return 1
  fi
  log "PostgreSQL ready"
}

pg_stop() {
  if ! pg_alive; then
    return 0
  fi
  log "stopping PostgreSQL"
  if ! as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w -t "$TIMEOUT" \
    stop >/dev/null; then
    err "fast shutdown failed, using immediate"
    as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m immediate -w -t "$TIMEOUT" \
      stop >/dev/null || true
  fi
}

# ---------------------------------------------------------------------------
# MariaDB
# ---------------------------------------------------------------------------

my_pid() {
  [[ -f "$MY_PID" ]] && cat "$MY_PID" 2>/dev/null
}

my_ping() {
  mariadb-admin --no-defaults --socket="$MY_SOCK" -uroot \
    --connect-timeout=2 ping >/dev/null 2>&1
}

my_running() {
  local pid
  pid="$(my_pid)" || return 1
  alive "$pid" && my_ping
}

# mariadb client as root over the Unix socket (no password).
my_sql() {
  mariadb --no-defaults --socket="$MY_SOCK" -uroot "$@"
}

my_init() {
  log "initialising MariaDB in $MY_DATA"
  rm -rf "$MY_DATA" "$BASE/mysql.initialized"
  mkdir -p "$MY_DATA"
  local user_opt=()
  if ((EUID == 0)); then
    user_opt=(--user=root)
  fi
  if ! mariadb-install-db --no-defaults --auth-root-authentication-method=normal \
    --skip-test-db --datadir="$MY_DATA" "${user_opt[@]}" \
    >"$MY_INSTALL_LOG" 2>&1; then
    err "mariadb-install-db failed"
    show_log_tail "$MY_INSTALL_LOG"
    return 1
  fi
  touch "$BASE/mysql.initialized"
}

# Create the ferry accounts and database; safe to repeat. Kept out of the
# binlog so CDC tests start from a clean log.
my_setup_accounts() {
  my_sql --batch <<'EOF'
SET SESSION sql_log_bin = 0;
-- Drop anonymous users and root@<hostname> (useless with skip-name-resolve,
-- and a log warning at every connection otherwise).
DELETE FROM mysql.global_priv
  WHERE User = ''
     OR (User = 'root' AND Host NOT IN ('localhost', '127.0.0.1', '::1'));
DELETE FROM mysql.proxies_priv
  WHERE Host NOT IN ('localhost', '127.0.0.1', '::1');
FLUSH PRIVILEGES;
CREATE USER IF NOT EXISTS 'ferry'@'%' IDENTIFIED BY 'ferry';
CREATE USER IF NOT EXISTS 'ferry'@'localhost' IDENTIFIED BY 'ferry';
CREATE USER IF NOT EXISTS 'ferry'@'127.0.0.1' IDENTIFIED BY 'ferry';
GRANT ALL PRIVILEGES ON *.* TO 'ferry'@'%' WITH GRANT OPTION;
GRANT ALL PRIVILEGES ON *.* TO 'ferry'@'localhost' WITH GRANT OPTION;
GRANT ALL PRIVILEGES ON *.* TO 'ferry'@'127.0.0.1' WITH GRANT OPTION;
CREATE DATABASE IF NOT EXISTS ferry;
EOF
}

my_start() {
  if my_running; then
    log "MariaDB already running on 127.0.0.1:$MY_PORT"
    return 0
  fi
  local pid
  if pid="$(my_pid)" && alive "$pid"; then
    err "MariaDB process $pid exists but does not answer; run '$0 stop' first"
    return 1
  fi
  if [[ ! -f "$BASE/mysql.initialized" ]]; then
    my_init
  fi
  local user_opt=()
  if ((EUID == 0)); then
    user_opt=(--user=root)
  fi
  tls_make
  log "starting MariaDB on 127.0.0.1:$MY_PORT"
  rm -f "$MY_PID"
  # setsid: own session, so the server outlives this shell and its terminal;
  # no inherited stdio or lock fd, so callers waiting on them do not hang.
  setsid mariadbd --no-defaults "${user_opt[@]}" \
    --datadir="$MY_DATA" \
    --port="$MY_PORT" \
    --bind-address=127.0.0.1 \
    --socket="$MY_SOCK" \
    --pid-file="$MY_PID" \
    --log-error="$MY_LOG" \
    --skip-name-resolve \
    --character-set-server=utf8mb4 \
    --collation-server=utf8mb4_general_ci \
    --log-bin="$MY_DATA/mysql-bin" \
    --binlog-format=ROW \
    --binlog-row-image=FULL \
    --binlog-row-metadata=FULL \
    --server-id=1 \
    --local-infile=1 \
    --max-allowed-packet=1G \
    --max-connections=500 \
    --innodb-flush-log-at-trx-commit=0 \
    --sync-binlog=0 \
    --innodb-buffer-pool-size=512M \
    --innodb-log-file-size=256M \
    --ssl-ca="$TLS_DIR/ca.pem" \
    --ssl-cert="$TLS_DIR/server.pem" \
    --ssl-key="$TLS_DIR/server.key" \
    </dev/null >>"$MY_LOG" 2>&1 9>&- &
  local server_pid=$!

  local deadline=$((SECONDS + TIMEOUT))
  until my_ping; do
    if ! alive "$server_pid"; then
      err "MariaDB exited during startup"
      show_log_tail "$MY_LOG"
      return 1
    fi
    if ((SECONDS >= deadline)); then
      err "MariaDB did not answer ping within ${TIMEOUT}s"
      show_log_tail "$MY_LOG"
      return 1
    fi
    sleep 0.2
  done
  if ! my_setup_accounts; then
    err "creating MariaDB user/database ferry failed"
    show_log_tail "$MY_LOG"
    return 1
  fi
  log "MariaDB ready"
}

my_stop() {
  local pid
  pid="$(my_pid)" || return 0
  if ! alive "$pid"; then
    return 0
  fi
  log "stopping MariaDB"
  # Clean shutdown via the socket; fall back to SIGTERM, then SIGKILL.
  # (bounded: a server with wedged threads never finishes a clean shutdown)
  timeout 30 mariadb-admin --no-defaults --socket="$MY_SOCK" -uroot \
    --connect-timeout=5 shutdown >/dev/null 2>&1 || kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + TIMEOUT))
  while alive "$pid"; do
    if ((SECONDS >= deadline)); then
      err "MariaDB (pid $pid) did not stop within ${TIMEOUT}s, killing it"
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.2
  done
}

# ---------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------

make_base() {
  if [[ -e "$BASE" && ! -f "$MARKER" ]]; then
    err "$BASE exists but was not created by this script; refusing to use it"
    return 1
  fi
  mkdir -p "$BASE"
  touch "$MARKER"
  # PostgreSQL (as $PG_USER) puts its socket and log here; root, which runs
  # MariaDB, can write anywhere.
  if ((EUID == 0)); then
    chown "$PG_USER": "$BASE"
  fi
  chmod 0755 "$BASE"
}

cmd_start() {
  if [[ ! -x "$PG_BIN/pg_ctl" ]] || ! command -v mariadbd >/dev/null 2>&1; then
    err "PostgreSQL 15 or MariaDB missing; run scripts/install-deps.sh --servers"
    return 1
  fi
  make_base
  pg_start
  my_start
  cmd_env | sed 's/^/servers.sh: /'
}

cmd_stop() {
  if [[ ! -e "$BASE" ]]; then
    log "nothing to stop ($BASE does not exist)"
    return 0
  fi
  if [[ ! -f "$MARKER" ]]; then
    err "$BASE was not created by this script; refusing to touch it"
    return 1
  fi
  pg_stop
  my_stop
  rm -rf -- "$BASE"
  log "stopped; removed $BASE"
}

cmd_stop_one() {
  if [[ ! -f "$MARKER" ]]; then
    err "$BASE was not created by this script; refusing to touch it"
    return 1
  fi
  "$1"
}

cmd_status() {
  local up=0
  if pg_running; then
    log "PostgreSQL running on 127.0.0.1:$PG_PORT (socket dir $BASE)"
    up=$((up + 1))
  else
    log "PostgreSQL not running"
  fi
  if my_running; then
    log "MariaDB running on 127.0.0.1:$MY_PORT (socket $MY_SOCK)"
    up=$((up + 1))
  else
    log "MariaDB not running"
  fi
  case "$up" in
    2) return 0 ;;
    1) return 1 ;;
    *) return 3 ;;
  esac
}

cmd_env() {
  echo "export FERRY_TEST_PG_URI=postgresql://ferry:ferry@127.0.0.1:$PG_PORT/ferry"
  echo "export FERRY_TEST_MYSQL_URI=mysql://ferry:ferry@127.0.0.1:$MY_PORT/ferry"
  echo "export FERRY_TEST_TLS_CA=$TLS_DIR/ca.pem"
  # Both servers offer TLS, and libpq would take it unasked (sslmode=prefer): the tests that
  # test TLS ask for it in their URIs; every other connection stays plain, as before.
  echo "export PGSSLMODE=disable"
}

# One start/stop at a time (e.g. two engineers, or CI and a developer).
# The lock file lives beside $BASE so that `stop` can delete $BASE.
with_lock() {
  exec 9>"$BASE.lock"
  if ! flock -w $((TIMEOUT * 3)) 9; then
    err "could not lock $BASE.lock"
    return 1
  fi
  "$@"
}

if (($# != 1)); then
  usage >&2
  exit 2
fi

case "$1" in
  start) with_lock cmd_start ;;
  stop) with_lock cmd_stop ;;
  stop-pg) with_lock cmd_stop_one pg_stop ;;
  stop-mysql) with_lock cmd_stop_one my_stop ;;
  status) cmd_status ;;
  env) cmd_env ;;
  -h | --help) usage ;;
  *)
    usage >&2
    exit 2
    ;;
esac
