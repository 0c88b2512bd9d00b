#!/usr/bin/env bash
# Runs the console's browser tests (Debian's chromium driven by puppeteer-core)
# against a regionlab binary.
#   tests/console/run.sh [path/to/regionlab] [extra node --test args...]
# Env: CHROMIUM_BIN (default /usr/bin/chromium), CONSOLE_SCREENSHOTS (default
# ./screenshots under the current directory: the build's test directory under ctest).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

if [[ $# -ge 1 && "$1" != -* ]]; then
  REGIONLAB_BIN="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
  shift
fi
: "${REGIONLAB_BIN:=$HERE/../../build/server/regionlab}"
: "${CHROMIUM_BIN:=/usr/bin/chromium}"
: "${CONSOLE_SCREENSHOTS:=$PWD/screenshots}"
export REGIONLAB_BIN CHROMIUM_BIN CONSOLE_SCREENSHOTS
if [[ ! -x "$REGIONLAB_BIN" ]]; then
  echo "run.sh: regionlab binary not found or not executable: $REGIONLAB_BIN" >&2
  exit 1
fi
if [[ ! -x "$CHROMIUM_BIN" ]]; then
  echo "run.sh: chromium not found at $CHROMIUM_BIN (bash scripts/install-deps.sh installs it)" >&2
  exit 1
fi
mkdir -p "$CONSOLE_SCREENSHOTS"

cd "$HERE"
# (Re)install the pinned puppeteer-core when node_modules is missing or was made from another lock file.
stamp="node_modules/.regionlab-lock.sha256"
want="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want" > "$stamp"
fi

exec node --test --test-reporter="${CONSOLE_TEST_REPORTER:-spec}" "$@" ./*.test.mjs
