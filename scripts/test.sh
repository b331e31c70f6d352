#!/usr/bin/env bash
# The project's full test command: install dependencies, start throwaway
# PostgreSQL and MariaDB servers, configure, build, and run every test.
#
# Usage: scripts/test.sh        (CI runs it as `bash .ci/run`, which execs this)
#
# Works on a clean clone with nothing running, as root (or a user with sudo
# for the package install). Exits non-zero if any step or any test fails.
#
# Servers: if this script started them, it stops them (and deletes their
# data) on exit. If they were already running (`scripts/servers.sh start`
# by hand, e.g. shared by developers), it uses them and leaves them running.
#
# Environment:
#   FERRY_BUILD_DIR   build directory (default build/ci)
#   plus the FERRY_SERVERS_DIR / FERRY_PG_PORT / FERRY_MYSQL_PORT settings of
#   scripts/servers.sh.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

BUILD_DIR="${FERRY_BUILD_DIR:-build/ci}"

# --- Section headers with timings, so a log shows where the time went. -----
section_name=""
section_start=$SECONDS

end_section() {
  if [[ -n "$section_name" ]]; then
    printf '==== done: %s (%ds)\n' "$section_name" $((SECONDS - section_start))
  fi
}

section() {
  end_section
  section_name="$1"
  section_start=$SECONDS
  printf '\n==== [%4ds elapsed] %s\n' "$SECONDS" "$section_name"
}

# --- Cleanup: stop the servers if we started them. --------------------------
stop_servers=0

on_exit() {
  local rc=$?
  if ((rc != 0)); then
    printf '\n==== FAILED (exit %d) in: %s, after %ds total\n' \
      "$rc" "${section_name:-setup}" "$SECONDS" >&2
  fi
  if ((stop_servers)); then
    # Quiet on success so ctest's summary stays the last lines of the log.
    local out
    if ! out="$(scripts/servers.sh stop 2>&1)"; then
      printf '%s\nwarning: scripts/servers.sh stop failed\n' "$out" >&2
    fi
  fi
  exit "$rc"
}
trap on_exit EXIT

# --- Steps. ------------------------------------------------------------------
section "install dependencies (scripts/install-deps.sh --servers)"
scripts/install-deps.sh --servers

section "start PostgreSQL and MariaDB (scripts/servers.sh start)"
# status: 0 both run, 1 one runs, 3 none. Stop at exit only what we started
# from nothing, never servers someone else is using.
servers_status=0
scripts/servers.sh status >/dev/null 2>&1 || servers_status=$?
if ((servers_status == 3)); then
  stop_servers=1
else
  echo "servers were already (partly) running: using them, leaving them running"
fi
scripts/servers.sh start
eval "$(scripts/servers.sh env)"
echo "FERRY_TEST_PG_URI=$FERRY_TEST_PG_URI"
echo "FERRY_TEST_MYSQL_URI=$FERRY_TEST_MYSQL_URI"

section "configure ($BUILD_DIR)"
cmake -S . -B "$BUILD_DIR" -G Ninja \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DFERRY_WERROR=ON

section "build ($(nproc) jobs)"
cmake --build "$BUILD_DIR" -j"$(nproc)"

section "test (ctest -j2)"
# --no-tests=error: a run that finds no test at all is a failure, not a pass.
# Nothing is printed after ctest on success: its summary closes the log.
ctest --test-dir "$BUILD_DIR" --output-on-failure -j2 --no-tests=error
