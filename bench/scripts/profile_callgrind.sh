#!/usr/bin/env bash
# Instruction-level profile of the server (and of the load generator) under
# the bench workload, with valgrind's callgrind. Used for docs/benchmarks.md
# where `perf` has no hardware counters (virtual machines).
#
#   bench/scripts/profile_callgrind.sh [REGIONLAB_BINARY] [OUT_DIR]
#
# Environment: OPS (default 4000) operations per phase, CONNS (default 4),
# DATA_DIR (default: none = --ephemeral; set it to profile the durable store).
# Produces in OUT_DIR:
#   server.create.*  server profile of OPS creates
#   server.read.*    server profile of OPS point reads
#   client.read.*    profile of the bench process itself doing OPS reads
# and *.txt summaries (callgrind_annotate, inclusive).
set -euo pipefail
BIN=$(realpath "${1:-build/server/regionlab}")
OUT=${2:-/tmp/regionlab-callgrind}
OPS=${OPS:-4000}
CONNS=${CONNS:-4}
mkdir -p "$OUT"
rm -f "$OUT"/server.* "$OUT"/client.* "$OUT"/ready.txt

STORE=(--ephemeral)
if [[ -n "${DATA_DIR:-}" ]]; then STORE=(--data-dir "$DATA_DIR"); fi

valgrind --tool=callgrind --callgrind-out-file="$OUT/server.%p" \
  "$BIN" --log-level warn up --regions uksouth --port 0 --admin-port 0 "${STORE[@]}" \
  >"$OUT/ready.txt" 2>"$OUT/server.err" &
VPID=$!
trap 'kill $VPID 2>/dev/null || true' EXIT
for _ in $(seq 1200); do [[ -s "$OUT/ready.txt" ]] && break; sleep 0.1; done
EP=$(sed -E 's/.*"endpoint":"([^"]*)".*/\1/' "$OUT/ready.txt")
echo "server (pid $VPID) at $EP" >&2

callgrind_control -z "$VPID" >/dev/null
"$BIN" --log-level warn bench --endpoint "$EP" --phases create --ops "$OPS" --warmup-s 0 \
  --connections "$CONNS" --seed 1 >"$OUT/create.txt"
callgrind_control -d create "$VPID" >/dev/null
"$BIN" --log-level warn bench --endpoint "$EP" --phases read --ops "$OPS" --warmup-s 0 \
  --connections "$CONNS" --seed 1 --existing-docs "$OPS" >"$OUT/read.txt"
callgrind_control -d read "$VPID" >/dev/null

# The load generator itself, one connection, reads only.
valgrind --tool=callgrind --callgrind-out-file="$OUT/client.read" \
  "$BIN" --log-level warn bench --endpoint "$EP" --phases read --ops "$OPS" --warmup-s 0 \
  --connections 1 --seed 1 --existing-docs "$OPS" >/dev/null 2>"$OUT/client.err"

kill -TERM "$VPID"
wait "$VPID" || true
trap - EXIT
for f in "$OUT"/server.*.[0-9]* "$OUT"/client.read; do
  [[ -f "$f" ]] || continue
  callgrind_annotate --inclusive=yes "$f" >"$f.inclusive.txt" 2>/dev/null || true
  callgrind_annotate "$f" >"$f.self.txt" 2>/dev/null || true
done
ls -la "$OUT" >&2
