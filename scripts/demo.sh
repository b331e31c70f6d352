#!/usr/bin/env bash
# The README's first command: install what Ferry needs, build it, and run a real migration on
# the embedded default — a sample SQLite database the project creates itself
# (examples/sample.sql: every type Ferry maps, edge values, ~200k rows) migrated into a new
# SQLite database, then both sides fingerprinted with `ferry hash` to show they are identical.
#
# Usage: scripts/demo.sh            (FERRY_DEMO_DIR, default /tmp/ferry-demo)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
DEMO_DIR="${FERRY_DEMO_DIR:-/tmp/ferry-demo}"
BUILD_DIR="${FERRY_BUILD_DIR:-build/release}"

echo "==== install dependencies"
scripts/install-deps.sh

echo "==== build ($BUILD_DIR)"
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DFERRY_BUILD_TESTS=OFF >/dev/null
cmake --build "$BUILD_DIR" -j"$(nproc)" --target ferry
FERRY="$BUILD_DIR/ferry"

echo "==== create the sample database $DEMO_DIR/sample.db"
rm -rf "$DEMO_DIR"
mkdir -p "$DEMO_DIR"
sqlite3 "$DEMO_DIR/sample.db" < examples/sample.sql

echo "==== ferry catalog (what Ferry sees)"
"$FERRY" catalog "sqlite://$DEMO_DIR/sample.db" --schema main | sed -n '1,40p'

echo "==== ferry migrate sqlite -> sqlite"
"$FERRY" migrate --source "sqlite://$DEMO_DIR/sample.db" --target "sqlite://$DEMO_DIR/copy.db" \
  --target-table-prep-mode DROP_AND_CREATE

echo "==== ferry hash: source and target must match table by table"
"$FERRY" hash "sqlite://$DEMO_DIR/sample.db" > "$DEMO_DIR/source.hash"
"$FERRY" hash "sqlite://$DEMO_DIR/copy.db" > "$DEMO_DIR/target.hash"
cat "$DEMO_DIR/target.hash"
if diff -u "$DEMO_DIR/source.hash" "$DEMO_DIR/target.hash"; then
  echo "OK: every table has the same rows and the same canonical hash on both sides"
else
  echo "MISMATCH between source and target" >&2
  exit 1
fi
