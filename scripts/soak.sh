#!/usr/bin/env bash
# A soak of "no acknowledged write is ever lost": two regions, writers in both recording every
# acknowledged write and their session reads, through partitions, regions offline, clock skews and
# kill -9 restarts, then `regionlab check` on the history (examples/history-recorder/soak.mjs).
#   bash scripts/soak.sh                 1 minute, both regions writing the same ids (conflicts)
#   bash scripts/soak.sh 30              30 minutes (or SOAK_SECONDS=1800)
#   SOAK_SHARED=0 bash scripts/soak.sh   each region on its own ids (no conflicts)
# Needs a build (build/server/regionlab) and `npm ci` in tests/sdk. Exit status: the checker's.
set -euo pipefail
cd "$(dirname "$0")/.."
export REGIONLAB_BIN="${REGIONLAB_BIN:-$PWD/build/server/regionlab}"
if [[ -n "${1:-}" ]]; then export SOAK_SECONDS=$(( $1 * 60 )); fi
cd tests/sdk
exec node soak-driver.mjs
