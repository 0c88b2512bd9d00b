#!/usr/bin/env bash
# A soak of "no acknowledged write is ever lost": two regions, writers in both recording every
# acknowledged write, partitions and heals, then `regionlab check` on the history.
#   bash scripts/soak.sh                 60 s, both regions writing the same ids (conflicts)
#   SOAK_SECONDS=1800 bash scripts/soak.sh
#   SOAK_SHARED=0 bash scripts/soak.sh   each region on its own ids (no conflicts)
# Needs a build (build/server/regionlab) and `npm ci` in tests/sdk. Exit status: the checker's.
set -euo pipefail
cd "$(dirname "$0")/.."
export REGIONLAB_BIN="${REGIONLAB_BIN:-$PWD/build/server/regionlab}"
cd tests/sdk
exec node soak-driver.mjs
