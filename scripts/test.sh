#!/usr/bin/env bash
# The project's full test command: install dependencies, start throwaway
# PostgreSQL and MariaDB servers, configure, build, and run every test; plus
# the sanitizer jobs (scripts/sanitizer-tests.sh) and clang-tidy on the changed
# files (scripts/tidy.sh).
#
# Jobs and order (2 cores; about 20-25 minutes in all):
#   1. install; start two pairs of servers: one for ctest, one for the
#      sanitizer jobs (CDC tests use fixed schemas and slots, so two runs must
#      never share a server); configure, build (g++, RelWithDebInfo, -Werror)
#   2. in the background, niced, one after another: the ASan+UBSan build, the
#      TSan build, their unit tests, clang-tidy (logs in $BUILD_DIR/ci-jobs/);
#      and as soon as the ASan build is ready, its CDC integration tests on the
#      sanitizer servers
#   3. meanwhile ctest (mostly waiting on the servers, one integration test at
#      a time)
#   4. after ctest, once the TSan build is ready: its CDC integration tests on
#      the ctest servers, now free
#   5. a summary with each job's result and time; any failure fails the run,
#      and the summary names the job(s) that failed.
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
#   FERRY_BUILD_DIR   build directory (default build/ci; the sanitizer builds go to
#                     build/ci-asan and build/ci-tsan, see scripts/sanitizer-tests.sh)
#   plus the FERRY_SERVERS_DIR / FERRY_PG_PORT / FERRY_MYSQL_PORT settings of
#   scripts/servers.sh, and for the sanitizer jobs' servers FERRY_SAN_SERVERS_DIR
#   (default: FERRY_SERVERS_DIR's with "-san"), FERRY_SAN_PG_PORT (55433),
#   FERRY_SAN_MYSQL_PORT (53307).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

BUILD_DIR="${FERRY_BUILD_DIR:-build/ci}"
export SAN_SERVERS_DIR="${FERRY_SAN_SERVERS_DIR:-${FERRY_SERVERS_DIR:-/tmp/ferry-servers}-san}"
export SAN_PG_PORT="${FERRY_SAN_PG_PORT:-55433}"
export SAN_MYSQL_PORT="${FERRY_SAN_MYSQL_PORT:-53307}"

# scripts/servers.sh for the sanitizer jobs' pair of servers.
san_servers() {
  FERRY_SERVERS_DIR="$SAN_SERVERS_DIR" FERRY_PG_PORT="$SAN_PG_PORT" \
    FERRY_MYSQL_PORT="$SAN_MYSQL_PORT" scripts/servers.sh "$@"
}
export -f san_servers

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
stop_san_servers=0
jobs_pid=""
cdc_jobs_pid=""

on_exit() {
  local rc=$?
  # The background jobs run in their own process groups (setsid): stop all of them.
  local pid
  for pid in $jobs_pid $cdc_jobs_pid; do
    if kill -0 "$pid" 2>/dev/null; then kill -TERM -- -"$pid" 2>/dev/null || true; fi
  done
  if ((rc != 0)); then
    printf '\n==== FAILED (exit %d) in: %s, after %ds total\n' \
      "$rc" "${section_name:-setup}" "$SECONDS" >&2
  fi
  # Quiet on success so the summary stays the last lines of the log.
  local out
  if ((stop_servers)) && ! out="$(scripts/servers.sh stop 2>&1)"; then
    printf '%s\nwarning: scripts/servers.sh stop failed\n' "$out" >&2
  fi
  if ((stop_san_servers)) && ! out="$(san_servers stop 2>&1)"; then
    printf '%s\nwarning: stopping the sanitizer jobs'"'"' servers failed\n' "$out" >&2
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

section "start the sanitizer jobs' PostgreSQL and MariaDB ($SAN_SERVERS_DIR)"
servers_status=0
san_servers status >/dev/null 2>&1 || servers_status=$?
if ((servers_status == 3)); then
  stop_san_servers=1
else
  echo "servers were already (partly) running: using them, leaving them running"
fi
san_servers start

section "configure ($BUILD_DIR)"
cmake -S . -B "$BUILD_DIR" -G Ninja \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DFERRY_WERROR=ON

section "build ($(nproc) jobs)"
cmake --build "$BUILD_DIR" -j"$(nproc)"

# --- Background jobs (CPU-bound, niced so that ctest keeps its pace). ---------
# Each job writes NAME.log, then NAME.time and NAME.rc (last: the job is over).
JOB_LOGS="$ROOT/$BUILD_DIR/ci-jobs"
rm -rf "$JOB_LOGS"
mkdir -p "$JOB_LOGS"
export JOB_LOGS

run_job() {
  local name="$1" start=$SECONDS rc=0
  shift
  "$@" >"$JOB_LOGS/$name.log" 2>&1 || rc=$?
  echo $((SECONDS - start)) >"$JOB_LOGS/$name.time"
  echo "$rc" >"$JOB_LOGS/$name.rc"
}

# A job whose prerequisite job failed is marked skipped (rc "skipped").
run_job_after() {
  local needs="$1"
  shift
  if [[ "$(cat "$JOB_LOGS/$needs.rc")" == 0 ]]; then
    run_job "$@"
  else
    echo "not run: $needs failed" >"$JOB_LOGS/$1.log"
    echo 0 >"$JOB_LOGS/$1.time"
    echo skipped >"$JOB_LOGS/$1.rc"
  fi
}
export -f run_job run_job_after

# Waits until job NAME is over.
await_job() {
  while [[ ! -f "$JOB_LOGS/$1.rc" ]]; do sleep 2; done
}
export -f await_job

section "start background jobs: asan/tsan builds, unit tests, clang-tidy; asan CDC tests"
echo "logs: $JOB_LOGS/<job>.log"
# CPU-bound, one after another. tidy reads the compilation database of $BUILD_DIR.
setsid bash -c '
  run_job asan-build nice -n 10 scripts/sanitizer-tests.sh build asan
  run_job tsan-build nice -n 10 scripts/sanitizer-tests.sh build tsan
  run_job_after asan-build asan-unit nice -n 10 scripts/sanitizer-tests.sh unit asan
  run_job_after tsan-build tsan-unit nice -n 10 scripts/sanitizer-tests.sh unit tsan
  FERRY_BUILD_DIR="'"$BUILD_DIR"'" run_job tidy nice -n 10 scripts/tidy.sh
' </dev/null &
jobs_pid=$!
# The ASan CDC tests on the sanitizer servers, as soon as their build is ready (it is the
# faster one to build; its CDC run is the longer one, best overlapped with ctest).
setsid bash -c '
  await_job asan-build
  run_job_after asan-build asan-cdc nice -n 10 bash -c "eval \"\$(san_servers env)\" &&
    exec scripts/sanitizer-tests.sh cdc asan"
' </dev/null &
cdc_jobs_pid=$!

# --- Results: every job is run and reported; the summary says what failed. ---
job_names=()
declare -A job_result job_time

record() {  # NAME RC SECONDS
  job_names+=("$1")
  job_result[$1]="$2"
  job_time[$1]="$3"
}

# Waits for a background job, prints its result (the whole log when it did not pass, its
# last lines otherwise) and records it.
wait_job() {
  local name="$1"
  while [[ ! -f "$JOB_LOGS/$name.rc" ]]; do
    if ! kill -0 "$jobs_pid" 2>/dev/null && ! kill -0 "$cdc_jobs_pid" 2>/dev/null &&
      [[ ! -f "$JOB_LOGS/$name.rc" ]]; then
      record "$name" "lost" "?"
      printf '==== job %s: FAILED (the background jobs ended without its result)\n' "$name"
      return
    fi
    sleep 2
  done
  local rc time
  rc="$(cat "$JOB_LOGS/$name.rc")"
  time="$(cat "$JOB_LOGS/$name.time")"
  record "$name" "$rc" "$time"
  if [[ "$rc" == 0 ]]; then
    printf '==== job %s: passed (%ss); last lines of %s:\n' "$name" "$time" "$JOB_LOGS/$name.log"
    tail -n 3 "$JOB_LOGS/$name.log"
  elif [[ "$rc" == skipped ]]; then
    printf '==== job %s: skipped (%s)\n' "$name" "$(cat "$JOB_LOGS/$name.log")"
  else
    printf '==== job %s: FAILED (exit %s, %ss); its log (%s):\n' "$name" "$rc" "$time" \
      "$JOB_LOGS/$name.log"
    cat "$JOB_LOGS/$name.log"
    printf '==== end of job %s: FAILED\n' "$name"
  fi
}

# Runs a job in the foreground (its output in the log as it goes) and records it.
fg_job() {
  local name="$1" start=$SECONDS rc=0
  shift
  "$@" || rc=$?
  record "$name" "$rc" $((SECONDS - start))
  if ((rc == 0)); then
    printf '==== job %s: passed\n' "$name"
  else
    printf '==== job %s: FAILED (exit %d)\n' "$name" "$rc"
  fi
}

section "test (ctest -j2)"
# --no-tests=error: a run that finds no test at all is a failure, not a pass.
fg_job ctest ctest --test-dir "$BUILD_DIR" --output-on-failure -j2 --no-tests=error

section "tsan: wait for its build"
wait_job tsan-build
section "tsan: CDC integration tests (scripts/sanitizer-tests.sh cdc tsan)"
if [[ "${job_result[tsan-build]}" == 0 ]]; then
  # On the ctest servers: ctest is over, and the ASan job has the other pair.
  fg_job tsan-cdc nice -n 10 scripts/sanitizer-tests.sh cdc tsan
else
  echo "not run: tsan-build failed"
  record tsan-cdc skipped 0
fi

section "wait for the background jobs"
for name in asan-build asan-cdc asan-unit tsan-unit tidy; do
  wait_job "$name"
done

section "summary"
failed=()
for name in "${job_names[@]}"; do
  result="${job_result[$name]}"
  if [[ "$result" == 0 ]]; then
    printf '  %-12s passed  %5ss\n' "$name" "${job_time[$name]}"
  elif [[ "$result" == skipped ]]; then
    printf '  %-12s skipped         (its build failed)\n' "$name"
  else
    printf '  %-12s FAILED  %5ss  (%s)\n' "$name" "${job_time[$name]}" \
      "$([[ "$result" =~ ^[0-9]+$ ]] && echo "exit $result" || echo "$result")"
    failed+=("$name")
  fi
done
if ((${#failed[@]})); then
  section_name="summary: failed job(s): ${failed[*]}"
  exit 1
fi
end_section
printf '==== all jobs passed in %ds\n' "$SECONDS"
