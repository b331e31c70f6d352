#!/usr/bin/env bash
# clang-tidy (bugprone-* and performance-*, configured in .clang-tidy) over the .cc files
# changed since a base revision. A finding fails (exit 1).
#
# Usage: scripts/tidy.sh [BASE]
#
#   BASE   a git revision; default: the merge-base of HEAD with main (origin/main when there
#          is no local main), or HEAD~1 when that is HEAD itself (CI on main: the last commit,
#          i.e. the whole of a merged branch) or does not exist.
#
# Files: the .cc files under src/, tests/, fuzz/ and bench/ added, copied, modified or renamed
# between BASE and the working tree that have an entry in the compilation database. Findings
# in headers are reported only for headers changed as well (they are checked through the
# changed .cc files that include them).
#
# Environment:
#   FERRY_BUILD_DIR   build directory with compile_commands.json (default build/ci; it only
#                     needs to be configured, not built)
#   FERRY_TIDY_JOBS   parallel clang-tidy processes (default: nproc)
#   CLANG_TIDY        the clang-tidy binary (default: clang-tidy, else clang-tidy-14)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

BUILD_DIR="${FERRY_BUILD_DIR:-build/ci}"
JOBS="${FERRY_TIDY_JOBS:-$(nproc)}"
TIDY="${CLANG_TIDY:-}"
if [[ -z "$TIDY" ]]; then
  TIDY="$(command -v clang-tidy || command -v clang-tidy-14 || true)"
fi
if [[ -z "$TIDY" ]]; then
  echo "tidy.sh: clang-tidy not found (scripts/install-deps.sh installs it)" >&2
  exit 2
fi
if [[ ! -f "$BUILD_DIR/compile_commands.json" ]]; then
  echo "tidy.sh: $BUILD_DIR/compile_commands.json missing: configure $BUILD_DIR first" >&2
  exit 2
fi

base="${1:-}"
if [[ -z "$base" ]]; then
  main_ref=""
  for ref in main origin/main; do
    if git rev-parse --verify --quiet "$ref^{commit}" >/dev/null; then
      main_ref="$ref"
      break
    fi
  done
  if [[ -n "$main_ref" ]]; then
    base="$(git merge-base HEAD "$main_ref" || true)"
  fi
  if [[ -z "$base" || "$base" == "$(git rev-parse HEAD)" ]]; then
    if git rev-parse --verify --quiet 'HEAD~1^{commit}' >/dev/null; then
      base="$(git rev-parse HEAD~1)"
    else
      base=""  # a single commit: everything is new
    fi
  fi
fi

if [[ -n "$base" ]]; then
  mapfile -t changed < <(git diff --name-only --diff-filter=ACMR "$base" -- \
    'src/' 'tests/' 'fuzz/' 'bench/')
  echo "tidy.sh: files changed since $(git rev-parse --short "$base")"
else
  mapfile -t changed < <(git ls-files -- 'src/' 'tests/' 'fuzz/' 'bench/')
  echo "tidy.sh: no base revision: every file"
fi

# Only the sources the compilation database knows (it has absolute paths).
mapfile -t known < <(python3 -c '
import json, sys
for entry in json.load(open(sys.argv[1])):
    print(entry["file"])' "$BUILD_DIR/compile_commands.json" | sort -u)
files=()
headers=()
for f in "${changed[@]}"; do
  case "$f" in
    *.cc)
      if printf '%s\n' "${known[@]}" | grep -qxF "$ROOT/$f"; then files+=("$f"); fi
      ;;
    *.h) headers+=("$f") ;;
  esac
done

if ((${#files[@]} == 0)); then
  echo "tidy.sh: no changed .cc file to check"
  exit 0
fi

# Report a header's findings only when it changed too: an anchored regex of their paths. A
# header of src/F/ is included through its library's include directory, <build>/include/F/
# (a symlink F -> src/F, CMakeLists.txt), and clang names it by that path.
alternation() { printf '%s|' "$@" | sed -e 's/[.]/\\./g' -e 's/|$//'; }
src_headers=()
other_headers=()
for h in "${headers[@]}"; do
  case "$h" in
    src/*) src_headers+=("${h#src/}") ;;
    *) other_headers+=("$h") ;;
  esac
done
filters=()
if ((${#src_headers[@]})); then
  filters+=("^($ROOT/src/|.*/include/[a-z0-9_]+/)($(alternation "${src_headers[@]}"))\$")
fi
if ((${#other_headers[@]})); then
  filters+=("^$ROOT/($(alternation "${other_headers[@]}"))\$")
fi
header_filter='^$'
if ((${#filters[@]})); then
  header_filter="$(IFS='|'; echo "${filters[*]}")"
fi

echo "tidy.sh: $("$TIDY" --version | grep -o 'version [0-9.]*'), ${#files[@]} file(s), $JOBS job(s):"
printf '  %s\n' "${files[@]}"

# -Wno-error: the compiler's warnings are the build's business (FERRY_WERROR), and clang's
# differ from g++'s; only the enabled checks fail here (WarningsAsErrors in .clang-tidy).
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
status=0
printf '%s\0' "${files[@]}" |
  xargs -0 -n1 -P"$JOBS" "$TIDY" -p "$BUILD_DIR" --quiet --extra-arg=-Wno-error \
    --header-filter="$header_filter" >"$log" 2>&1 || status=$?
# clang-tidy prints "N warnings generated." for suppressed ones; keep the findings.
grep -v -E '^[0-9]+ warnings? (and [0-9]+ errors? )?generated\.$|^Suppressed [0-9]+ warnings|^Use -header-filter|^Use -system-headers' "$log" || true
if ((status != 0)); then
  echo "tidy.sh: clang-tidy findings (or errors) above: FAILED" >&2
  exit 1
fi
echo "tidy.sh: clean"
