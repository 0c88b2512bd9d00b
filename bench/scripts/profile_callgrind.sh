#!/usr/bin/env bash
# Instruction-level profile of the server (and of the load generator) under
# the bench workload, with valgrind's callgrind. Used for docs/benchmarks.md
# because `perf` has no hardware counters on this VM
# (`perf stat -e instructions true` says "<not supported>").
#
#   bench/scripts/profile_callgrind.sh [REGIONLAB_BINARY] [OUT_DIR]
#
# Environment:
#   OPS    operations per profiled phase (default 4000)
#   CONNS  connections (default 4)
#   DATA_DIR      profile the durable store in this directory (default: --ephemeral)
#   PRELOAD_DOCS  with DATA_DIR: first create this many documents with a normal
#                 (unprofiled) server, then profile only reads of them, so the
#                 read path meets a store of realistic size (SST files, not
#                 memtables)
# Produces in OUT_DIR:
#   server.<pid>.1   server profile of OPS creates   (not with PRELOAD_DOCS)
#   server.<pid>.2   server profile of OPS point reads (.1 with PRELOAD_DOCS)
#   client.read      profile of the bench process itself doing OPS reads
# Summaries: bench/scripts/callgrind_summary.py FILE --ops OPS [--inclusive].
set -euo pipefail
BIN=$(realpath "${1:-build/server/regionlab}")
OUT=${2:-/tmp/regionlab-callgrind}
OPS=${OPS:-4000}
CONNS=${CONNS:-4}
PRELOAD_DOCS=${PRELOAD_DOCS:-0}
mkdir -p "$OUT"
rm -f "$OUT"/server.* "$OUT"/client.* "$OUT"/ready.txt

STORE=(--ephemeral)
if [[ -n "${DATA_DIR:-}" ]]; then STORE=(--data-dir "$DATA_DIR"); fi
if (( PRELOAD_DOCS > 0 )) && [[ -z "${DATA_DIR:-}" ]]; then
  echo "PRELOAD_DOCS needs DATA_DIR" >&2
  exit 2
fi

endpoint_of() { sed -E 's/.*"endpoint":"([^"]*)".*/\1/' "$1"; }
wait_ready() { for _ in $(seq 1200); do [[ -s "$1" ]] && return 0; sleep 0.1; done; return 1; }

if (( PRELOAD_DOCS > 0 )); then
  "$BIN" --log-level warn up --regions uksouth --port 0 --admin-port 0 "${STORE[@]}" \
    >"$OUT/ready.txt" 2>"$OUT/server.err" &
  PID=$!
  wait_ready "$OUT/ready.txt"
  "$BIN" --log-level warn bench --endpoint "$(endpoint_of "$OUT/ready.txt")" --phases create \
    --ops "$PRELOAD_DOCS" --warmup-s 0 --seed 1 >"$OUT/preload.txt"
  kill -TERM "$PID"
  wait "$PID" || true
  rm -f "$OUT/ready.txt"
fi

valgrind --tool=callgrind --callgrind-out-file="$OUT/server.%p" \
  "$BIN" --log-level warn up --regions uksouth --port 0 --admin-port 0 "${STORE[@]}" \
  >"$OUT/ready.txt" 2>"$OUT/server.err" &
VPID=$!
trap 'kill $VPID 2>/dev/null || true' EXIT
wait_ready "$OUT/ready.txt"
EP=$(endpoint_of "$OUT/ready.txt")
echo "server (pid $VPID) at $EP" >&2

if (( PRELOAD_DOCS > 0 )); then
  # Let the first requests (connections, container lookups) happen unprofiled.
  "$BIN" --log-level warn bench --endpoint "$EP" --phases read --ops 100 --warmup-s 0 \
    --connections "$CONNS" --seed 1 --existing-docs "$PRELOAD_DOCS" >/dev/null
  callgrind_control -z "$VPID" >/dev/null
  "$BIN" --log-level warn bench --endpoint "$EP" --phases read --ops "$OPS" --warmup-s 0 \
    --connections "$CONNS" --seed 1 --existing-docs "$PRELOAD_DOCS" >"$OUT/read.txt"
  callgrind_control -d read "$VPID" >/dev/null
  EXISTING=$PRELOAD_DOCS
else
  callgrind_control -z "$VPID" >/dev/null
  "$BIN" --log-level warn bench --endpoint "$EP" --phases create --ops "$OPS" --warmup-s 0 \
    --connections "$CONNS" --seed 1 >"$OUT/create.txt"
  callgrind_control -d create "$VPID" >/dev/null
  "$BIN" --log-level warn bench --endpoint "$EP" --phases read --ops "$OPS" --warmup-s 0 \
    --connections "$CONNS" --seed 1 --existing-docs "$OPS" >"$OUT/read.txt"
  callgrind_control -d read "$VPID" >/dev/null
  EXISTING=$OPS
fi

# The load generator itself, one connection, reads only.
valgrind --tool=callgrind --callgrind-out-file="$OUT/client.read" \
  "$BIN" --log-level warn bench --endpoint "$EP" --phases read --ops "$OPS" --warmup-s 0 \
  --connections 1 --seed 1 --existing-docs "$EXISTING" >/dev/null 2>"$OUT/client.err"

kill -TERM "$VPID"
wait "$VPID" || true
trap - EXIT
ls -la "$OUT" >&2
