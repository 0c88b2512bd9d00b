#!/usr/bin/env bash
# The runs behind docs/benchmarks.md. Each writes one JSON result (the
# `regionlab bench --json` object) to OUT_DIR/<name>.json and its table to
# OUT_DIR/<name>.txt.
#
#   bench/scripts/run_all.sh [REGIONLAB_BINARY] [OUT_DIR]
#
# Before each run it waits (up to QUIET_WAIT_S, default 600 s) until the rest of
# the machine is quiet: less than QUIET_PCT (default 10) percent of all CPUs
# busy over 3 s. On a shared machine that may never happen, so the runs are
# started with `nice -n $NICE` (default -10: about 90% of a contended CPU goes
# to the benchmark and its server). Every phase also records how much CPU
# other processes used ("other %" in the table, otherCpuS in the JSON), so a
# noisy run shows.
set -uo pipefail
BIN=$(realpath "${1:-build/server/regionlab}")
OUT=${2:-bench/results/$(date -u +%Y-%m-%d)}
QUIET_WAIT_S=${QUIET_WAIT_S:-600}
QUIET_PCT=${QUIET_PCT:-10}
ONLY=${ONLY:-}
NICE=${NICE:--10}
mkdir -p "$OUT"

busy_pct() {  # percent of all CPUs busy over 3 s
  read -r _ u1 n1 s1 i1 w1 q1 sq1 st1 _ < /proc/stat
  sleep 3
  read -r _ u2 n2 s2 i2 w2 q2 sq2 st2 _ < /proc/stat
  local busy=$(( (u2+n2+s2+q2+sq2+st2) - (u1+n1+s1+q1+sq1+st1) ))
  local idle=$(( (i2+w2) - (i1+w1) ))
  echo $(( 100 * busy / (busy + idle) ))
}

wait_quiet() {
  local start=$SECONDS p
  while true; do
    p=$(busy_pct)
    if (( p < QUIET_PCT )); then echo "machine quiet ($p% busy)" >&2; return 0; fi
    if (( SECONDS - start > QUIET_WAIT_S )); then
      echo "machine still $p% busy after ${QUIET_WAIT_S}s; running anyway" >&2; return 0
    fi
    sleep 5
  done
}

run() {  # run NAME ARGS...
  local name=$1; shift
  if [[ -n "$ONLY" && ! " $ONLY " == *" $name "* ]]; then return 0; fi
  wait_quiet
  echo "== $name: nice -n $NICE regionlab bench $* --json" >&2
  nice -n "$NICE" "$BIN" --log-level warn bench "$@" --json >"$OUT/$name.json" 2>"$OUT/$name.err"
  python3 - "$OUT/$name.json" >"$OUT/$name.txt" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print(r["command"])
s = r.get("server", {})
if "timeToReadyMs" in s:
    print(f'ready {s["timeToReadyMs"]} ms, idle RSS {s.get("idleRssKb")} KiB, peak {s.get("peakRssKb")} KiB')
if "startup" in r:
    st = r["startup"]
    print(f'startup median {st["medianMs"]} ms, p90 {st["p90Ms"]} ms, min {st["minMs"]}, max {st["maxMs"]}, idle RSS {st["idleRssKbMedian"]} KiB')
for p in r["phases"]:
    l = p["latencyUs"]
    print(f'{p["name"]:6} c={p["connections"]:3} docs={p.get("documentsBefore")} {p["opsPerS"]:9.0f}/s p50 {l["p50"]/1000:.2f} p99 {l["p99"]/1000:.2f} max {l["max"]/1000:.2f} ms '
          f'err {p["errors"]} srv {p.get("serverCpuUsPerOp")} us/op bench {p.get("benchCpuUsPerOp")} us/op other {p.get("otherCpuS")} s')
for t in r["targets"]:
    print(f'  {t["name"]:24} {t["requirement"]:14} {t["value"]:10} {"met" if t["met"] else "MISSED"}')
PY
  cat "$OUT/$name.txt" >&2
}

# The headline runs: defaults (16 connections, 10 s per phase after 1 s warm-up;
# the read phase reads among everything the create phase wrote).
run ephemeral
run durable --durable
# Reads of a small store (10,000 documents, all in memtables) for comparison.
run read-10k --phases read --preload 10000
run startup-ephemeral --startup-runs 30
run startup-durable --startup-runs 30 --durable
# Where the time goes: the server alone on one CPU, the load generator on the other.
run pinned-ephemeral --server-cpus 0 --bench-cpus 1
# Concurrency and server threads.
for c in 1 4 64; do run "conns-$c" --connections "$c" --duration-s 5; done
for t in 1 2 4; do run "server-threads-$t" --server-threads "$t" --duration-s 5; done
run pinned-durable --server-cpus 0 --bench-cpus 1 --durable
# Run-to-run variation of the headline run.
run ephemeral-repeat
echo "results in $OUT" >&2
