#!/usr/bin/env bash
# Install the Debian packages needed to build and test ferry.
#
# Usage: scripts/install-deps.sh [--servers]
#
#   --servers   also install PostgreSQL 15 and MariaDB server/client packages,
#               needed by scripts/servers.sh (integration tests, CI, benches).
#
# Idempotent and fast on repeat: when every requested package is already
# installed (checked with dpkg-query) apt is not touched at all, so no
# `apt-get update` happens. Works as root; as another user it uses sudo.
set -euo pipefail

# Print the comment block at the top of this file.
usage() {
  awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
}

# Packages needed to configure, build and run the unit tests.
packages=(
  build-essential
  cmake
  ninja-build
  pkg-config
  g++
  libpq-dev
  libmariadb-dev
  libsqlite3-dev
  zlib1g-dev    # MariaDB compressed binlog events
  libzstd-dev   # MySQL binlog TRANSACTION_PAYLOAD
  sqlite3
  python3  # scripts/check-layers.py (ctest layering)
  nlohmann-json3-dev
  libcli11-dev
  libfmt-dev
  libspdlog-dev
  libgtest-dev
  libgmock-dev
  libssl-dev
  ca-certificates
  # Sanitizer builds (clang builds them about twice as fast as g++) and scripts/tidy.sh.
  clang
  libclang-rt-14-dev
  clang-tidy
)

# Database servers and their clients (scripts/servers.sh).
server_packages=(
  postgresql-15
  postgresql-client-15
  mariadb-server
  mariadb-client
  openssl  # servers.sh makes the test CA and server certificate
)

for arg in "$@"; do
  case "$arg" in
    --servers) packages+=("${server_packages[@]}") ;;
    -h | --help)
      usage
      exit 0
      ;;
    *)
      echo "install-deps.sh: unknown argument: $arg" >&2
      usage >&2
      exit 2
      ;;
  esac
done

# Collect the packages that are not fully installed yet.
missing=()
for pkg in "${packages[@]}"; do
  status="$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)"
  if [[ "$status" != "installed" ]]; then
    missing+=("$pkg")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "install-deps.sh: all ${#packages[@]} packages already installed"
  exit 0
fi

# Run as root directly, otherwise through sudo when it exists.
as_root=()
if ((EUID != 0)); then
  if command -v sudo >/dev/null 2>&1; then
    as_root=(sudo)
  else
    echo "install-deps.sh: not root and sudo not found; cannot install: ${missing[*]}" >&2
    exit 1
  fi
fi

echo "install-deps.sh: installing ${missing[*]}"
"${as_root[@]}" apt-get update
# `env` so the variable survives sudo's environment reset.
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y --no-install-recommends "${missing[@]}"
