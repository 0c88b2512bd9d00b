#!/usr/bin/env bash
# Installs dependencies, builds, and runs every test (unit, in-process, SDK end-to-end).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
cd build
ctest --output-on-failure -j 2 --timeout 600
