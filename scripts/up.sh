#!/usr/bin/env bash
# Installs dependencies, builds, and starts the default two-region cluster
# (uksouth on 8081, westeurope on 8082, admin API on 8090). Extra arguments go to `regionlab up`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
exec ./build/server/regionlab up "$@"
