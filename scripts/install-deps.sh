#!/usr/bin/env bash
# Installs everything regionlab needs to build, run and test on Debian 12.
# Idempotent: safe to run again; it installs only what is missing.
#   bash scripts/install-deps.sh          what building, running and testing need
#   bash scripts/install-deps.sh --bench  also the side-by-side benchmark tools (wrk, nginx-light)
set -euo pipefail

PKGS=(
  build-essential cmake ninja-build ccache pkg-config git
  librocksdb-dev
  libboost-dev libboost-system-dev
  libprotobuf-dev protobuf-compiler
  libspdlog-dev libfmt-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  nlohmann-json3-dev libsimdjson-dev
  libcli11-dev
  libssl-dev
  libgoogle-perftools-dev
  duktape-dev
  nodejs
  python3 python3-azure-cosmos
  curl procps xxd
  chromium
)
if [[ "${1:-}" == "--bench" ]]; then
  PKGS+=(wrk nginx-light)
fi

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  if [ "$(id -u)" -eq 0 ]; then SUDO=; else SUDO=sudo; fi
  $SUDO apt-get update -y >&2
  $SUDO apt-get install -y --no-install-recommends "${missing[@]}" >&2
fi

# npm ships with nodejs from some repositories and separately in Debian's.
if ! command -v npm >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  if [ "$(id -u)" -eq 0 ]; then SUDO=; else SUDO=sudo; fi
  $SUDO apt-get update -y >&2
  $SUDO apt-get install -y --no-install-recommends npm >&2
fi
echo "install-deps: ok" >&2
