#!/usr/bin/env bash
# Runs the @azure/cosmos end-to-end suite against a regionlab binary.
#   tests/sdk/run.sh [path/to/regionlab] [extra node --test args...]
# Env: SDK_TEST_CONCURRENCY (default 1) = test files run in parallel (each starts its own server).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

if [[ $# -ge 1 && "$1" != -* ]]; then
  REGIONLAB_BIN="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
  export REGIONLAB_BIN
  shift
fi
: "${REGIONLAB_BIN:=$HERE/../../build/server/regionlab}"
export REGIONLAB_BIN
if [[ ! -x "$REGIONLAB_BIN" ]]; then
  echo "run.sh: regionlab binary not found or not executable: $REGIONLAB_BIN" >&2
  exit 1
fi

cd "$HERE"
# (Re)install the pinned SDK when node_modules is missing or was made from another lock file.
stamp="node_modules/.regionlab-lock.sha256"
want="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want" > "$stamp"
fi

exec node --test --test-reporter="${SDK_TEST_REPORTER:-spec}" --test-concurrency="${SDK_TEST_CONCURRENCY:-1}" "$@" ./*.test.mjs
