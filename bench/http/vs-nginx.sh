#!/usr/bin/env bash
# regionlab's data plane side by side with nginx (issue 17): one run, the same load generator
# (wrk, 1 thread, 16 keep-alive connections, 8 s per workload), on this machine.
#
#   bash bench/http/vs-nginx.sh [path/to/regionlab] [--seconds 8] [--connections 16] [--durable]
#                               [--perf DIR]   # also `perf record -g` regionlab during each workload
#                                              # (PERF_CALLGRAPH=dwarf, PERF_EVENT=page-faults to change it)
#                               [--threads N]   # regionlab's io threads (default: up's default)
#                               [--only-read-create]   # skip upsert, replace, patch and query100
#
# Workloads: nginx serving a static 1,100-byte file (one worker); regionlab point reads of a 1 KB
# document (signed GET with the partition key header); regionlab creates of 1 KB documents
# (signed POST, unique ids, 100 partition keys); upserts (half replace one of 100 documents, half
# create), replaces and one-operation patches of 100 documents; a query returning one page of 100
# 1 KB documents from one partition key ("query100"). A Cosmos signature covers verb, resource type,
# resource link and date, not the body, so one signature per run serves every request of a
# workload (it stays valid 15 minutes). Server CPU is read from /proc/PID/stat before and after.
# Prints one table (stdout) with requests/s, CPU per request, p99 and the ratio to nginx; with
# --durable, "stalls" counts the write stops and slowdowns RocksDB logged during each workload;
# "syscalls/req" counts every system call of the server's threads (perf stat, raw_syscalls).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
BIN="$HERE/../../build/server/regionlab"
if [[ $# -ge 1 && "$1" != --* ]]; then BIN="$1"; shift; fi
SECONDS_PER=8
CONNS=16
DURABLE=0
ALL=1
THREADS=""
PERF_DIR=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --seconds) SECONDS_PER="$2"; shift 2 ;;
    --connections) CONNS="$2"; shift 2 ;;
    --durable) DURABLE=1; shift ;;
    --only-read-create) ALL=0; shift ;;
    --threads) THREADS="$2"; shift 2 ;;
    --perf) PERF_DIR="$2"; mkdir -p "$PERF_DIR"; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
for tool in wrk nginx openssl curl python3; do
  command -v "$tool" >/dev/null || { echo "vs-nginx: $tool is missing (bash scripts/install-deps.sh --bench)" >&2; exit 1; }
done
[[ -x "$BIN" ]] || { echo "vs-nginx: no regionlab binary at $BIN" >&2; exit 1; }

WORK="$(mktemp -d)"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
minor_faults() { awk '{print $10}' "/proc/$1/stat"; }
# Context switches of all of a process's threads (voluntary: a thread blocked,
# on a lock, a futex or epoll; involuntary: it was preempted).
# write(2)-family calls (syscw): a durable region's WAL writes and its flushes' and compactions'
# file writes; its answers go out with sendmsg, which this does not count.
write_calls() { awk '/^syscw:/ {print $2}' "/proc/$1/io"; }
# RocksDB's write stops and slowdowns ("Stopping writes because ...", "Stalling writes because
# ..."), from its LOG: a durable region's only; "-" for nginx and ephemeral regions (their LOG is
# in memory).
write_stalls() {
  if [[ $DURABLE == 1 && $1 != "$NGINX_PID" ]]; then
    cat "$WORK"/data/*/store/LOG 2>/dev/null | grep -c -E 'Stopping writes|Stalling writes' || true
  else
    echo -
  fi
}
ctx_switches() { cat /proc/"$1"/task/*/status 2>/dev/null | awk '/ctxt_switches/ {n += $2} END {print n + 0}'; }
HZ=$(getconf CLK_TCK)

# ---- nginx: one worker, a static file of the size of a 1 KB document's response
NGINX_PORT=$(free_port)
mkdir -p "$WORK/www" "$WORK/nginx"
head -c 1100 /dev/zero | tr '\0' 'x' > "$WORK/www/doc.json"
cat > "$WORK/nginx/nginx.conf" <<CONF
worker_processes 1;
master_process off;
daemon off;
error_log $WORK/nginx/error.log;
pid $WORK/nginx/nginx.pid;
events { worker_connections 1024; }
http {
  access_log off;
  keepalive_requests 1000000;
  server { listen 127.0.0.1:$NGINX_PORT; root $WORK/www; }
}
CONF
nginx -c "$WORK/nginx/nginx.conf" -p "$WORK/nginx" &
PIDS+=($!)

# ---- regionlab: one region
ARGS=(--log-level warn up --regions uksouth --port 0 --admin-port 0)
[[ -n $THREADS ]] && ARGS+=(--threads "$THREADS")
if [[ $DURABLE == 1 ]]; then ARGS+=(--data-dir "$WORK/data"); else ARGS+=(--ephemeral); fi
"$BIN" "${ARGS[@]}" > "$WORK/ready" 2> "$WORK/regionlab.log" &
RL_PID=$!
PIDS+=($RL_PID)
for _ in $(seq 1 200); do [[ -s "$WORK/ready" ]] && break; sleep 0.05; done
ENDPOINT=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["regions"][0]["endpoint"].rstrip("/"))' "$WORK/ready")
for _ in $(seq 1 200); do curl -s -o /dev/null "http://127.0.0.1:$NGINX_PORT/doc.json" && break; sleep 0.05; done
NGINX_PID=$(cat "$WORK/nginx/nginx.pid")

KEY="C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw=="
DATE=$(LC_ALL=C date -u '+%a, %d %b %Y %H:%M:%S GMT')
sign() {  # verb type link -> the url-encoded authorization header value
  local sig
  sig=$(printf '%s\n%s\n%s\n%s\n\n' "$1" "$2" "$3" "$(echo "$DATE" | tr 'A-Z' 'a-z')" | openssl dgst -sha256 -mac HMAC -macopt "hexkey:$(echo "$KEY" | base64 -d | xxd -p -c 256)" -binary | base64)
  python3 -c 'import sys,urllib.parse; print(urllib.parse.quote("type=master&ver=1.0&sig="+sys.argv[1], safe=""))' "$sig"
}
req() {  # method path type link [body] [extra header]
  curl -s -o /dev/null -w '%{http_code}' -X "$1" "$ENDPOINT$2" -H "x-ms-date: $DATE" -H "x-ms-version: 2020-07-15" \
    -H "authorization: $(sign "$(echo "$1" | tr 'A-Z' 'a-z')" "$3" "$4")" -H 'content-type: application/json' \
    ${6:+-H "$6"} ${5:+--data "$5"}
}
[[ $(req POST /dbs dbs "" '{"id":"bench"}') == 201 ]]
[[ $(req POST /dbs/bench/colls colls dbs/bench '{"id":"c","partitionKey":{"paths":["/pk"],"kind":"Hash"}}') == 201 ]]
PAD=$(head -c 980 /dev/zero | tr '\0' 'p')
[[ $(req POST /dbs/bench/colls/c/docs docs dbs/bench/colls/c "{\"id\":\"doc-1\",\"pk\":\"p0\",\"pad\":\"$PAD\"}" 'x-ms-documentdb-partitionkey: ["p0"]') == 201 ]]

# Upserts, replaces and patches go to 100 documents (r0..r99, one per partition key p0..p99),
# queries read one page of 100 documents from partition key "q". A replace or patch signs its
# document's link, so the Lua scripts carry one signature per document.
# One Python process over one keep-alive connection (200 curl, openssl and python forks took
# minutes on a busy 2-CPU machine).
python3 - "$KEY" "$DATE" "$ENDPOINT" "${PAD:0:960}" <<'PY'
import base64, hashlib, hmac, http.client, sys, urllib.parse
key, date, endpoint, pad = base64.b64decode(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
sig = base64.b64encode(hmac.new(key, f"post\ndocs\ndbs/bench/colls/c\n{date.lower()}\n\n".encode(), hashlib.sha256).digest()).decode()
host = urllib.parse.urlparse(endpoint)
conn = http.client.HTTPConnection(host.hostname, host.port)
def create(doc_id, pk, n):
    body = f'{{"id":"{doc_id}","pk":"{pk}","n":{n},"pad":"{pad}"}}'
    conn.request("POST", "/dbs/bench/colls/c/docs", body, {
        "x-ms-date": date, "x-ms-version": "2020-07-15", "content-type": "application/json",
        "authorization": urllib.parse.quote("type=master&ver=1.0&sig=" + sig, safe=""),
        "x-ms-documentdb-partitionkey": f'["{pk}"]'})
    r = conn.getresponse(); r.read()
    if r.status != 201: sys.exit(f"seeding {doc_id}: HTTP {r.status}")
for i in range(100):
    create(f"r{i}", f"p{i}", 0)
    create(f"q{i}", "q", i)
PY
python3 - "$KEY" "$DATE" > "$WORK/sigs.lua" <<'PY'
import base64, hashlib, hmac, sys, urllib.parse
key, date = base64.b64decode(sys.argv[1]), sys.argv[2].lower()
def sign(verb, typ, link):
    sig = base64.b64encode(hmac.new(key, f"{verb}\n{typ}\n{link}\n{date}\n\n".encode(), hashlib.sha256).digest()).decode()
    return urllib.parse.quote("type=master&ver=1.0&sig=" + sig, safe="")
print("local put_sigs = {}")
print("local patch_sigs = {}")
for i in range(100):
    print(f'put_sigs[{i}] = "{sign("put", "docs", f"dbs/bench/colls/c/docs/r{i}")}"')
    print(f'patch_sigs[{i}] = "{sign("patch", "docs", f"dbs/bench/colls/c/docs/r{i}")}"')
PY
cat > "$WORK/read.lua" <<LUA
wrk.method = "GET"
wrk.headers["x-ms-date"] = "$DATE"
wrk.headers["x-ms-version"] = "2020-07-15"
wrk.headers["authorization"] = "$(sign get docs dbs/bench/colls/c/docs/doc-1)"
wrk.headers["x-ms-documentdb-partitionkey"] = '["p0"]'
LUA
cat > "$WORK/create.lua" <<LUA
local n = 0
local thread_id = tostring(math.random(1, 1e9))
local pad = string.rep("p", 940)
wrk.method = "POST"
wrk.headers["x-ms-date"] = "$DATE"
wrk.headers["x-ms-version"] = "2020-07-15"
wrk.headers["content-type"] = "application/json"
wrk.headers["authorization"] = "$(sign post docs dbs/bench/colls/c)"
request = function()
  n = n + 1
  local pk = "p" .. (n % 100)
  wrk.headers["x-ms-documentdb-partitionkey"] = '["' .. pk .. '"]'
  return wrk.format(nil, nil, nil, '{"id":"w' .. thread_id .. '-' .. n .. '","pk":"' .. pk .. '","pad":"' .. pad .. '"}')
end
LUA
# Upserts: half replace one of the 100 documents r0..r99, half create new ones.
cat > "$WORK/upsert.lua" <<LUA
local n = 0
local thread_id = tostring(math.random(1, 1e9))
local pad = string.rep("p", 940)
wrk.method = "POST"
wrk.headers["x-ms-date"] = "$DATE"
wrk.headers["x-ms-version"] = "2020-07-15"
wrk.headers["content-type"] = "application/json"
wrk.headers["x-ms-documentdb-is-upsert"] = "True"
wrk.headers["authorization"] = "$(sign post docs dbs/bench/colls/c)"
request = function()
  n = n + 1
  local i = n % 100
  local pk = "p" .. i
  local id = (n % 2 == 0) and ("r" .. i) or ("u" .. thread_id .. "-" .. n)
  wrk.headers["x-ms-documentdb-partitionkey"] = '["' .. pk .. '"]'
  return wrk.format(nil, nil, nil, '{"id":"' .. id .. '","pk":"' .. pk .. '","n":' .. n .. ',"pad":"' .. pad .. '"}')
end
LUA
cat "$WORK/sigs.lua" > "$WORK/replace.lua"
cat >> "$WORK/replace.lua" <<LUA
local n = 0
local pad = string.rep("p", 950)
wrk.headers["x-ms-date"] = "$DATE"
wrk.headers["x-ms-version"] = "2020-07-15"
wrk.headers["content-type"] = "application/json"
request = function()
  n = n + 1
  local i = n % 100
  wrk.headers["x-ms-documentdb-partitionkey"] = '["p' .. i .. '"]'
  wrk.headers["authorization"] = put_sigs[i]
  return wrk.format("PUT", "/dbs/bench/colls/c/docs/r" .. i, nil, '{"id":"r' .. i .. '","pk":"p' .. i .. '","n":' .. n .. ',"pad":"' .. pad .. '"}')
end
LUA
cat "$WORK/sigs.lua" > "$WORK/patch.lua"
cat >> "$WORK/patch.lua" <<LUA
local n = 0
wrk.headers["x-ms-date"] = "$DATE"
wrk.headers["x-ms-version"] = "2020-07-15"
wrk.headers["content-type"] = "application/json_patch+json"
request = function()
  n = n + 1
  local i = n % 100
  wrk.headers["x-ms-documentdb-partitionkey"] = '["p' .. i .. '"]'
  wrk.headers["authorization"] = patch_sigs[i]
  return wrk.format("PATCH", "/dbs/bench/colls/c/docs/r" .. i, nil, '{"operations":[{"op":"set","path":"/n","value":' .. n .. '}]}')
end
LUA
cat > "$WORK/query.lua" <<LUA
wrk.method = "POST"
wrk.headers["x-ms-date"] = "$DATE"
wrk.headers["x-ms-version"] = "2020-07-15"
wrk.headers["content-type"] = "application/query+json"
wrk.headers["x-ms-documentdb-isquery"] = "True"
wrk.headers["x-ms-max-item-count"] = "100"
wrk.headers["x-ms-documentdb-partitionkey"] = '["q"]'
wrk.headers["authorization"] = "$(sign post docs dbs/bench/colls/c)"
wrk.body = '{"query":"SELECT * FROM c","parameters":[]}'
LUA
cat > "$WORK/report.lua" <<'LUA'
done = function(summary, latency, requests)
  io.write(string.format("RESULT %d %.3f %d %d\n", summary.requests, summary.duration / 1e6,
    latency:percentile(99), summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
LUA

run() {  # name pid url [script]
  local name=$1 pid=$2 url=$3 script=${4:-}
  local before after out faults_before faults_after cs_before cs_after writes_before writes_after stalls_before stalls_after stalls
  before=$(cpu_ticks "$pid")
  writes_before=$(write_calls "$pid")
  stalls_before=$(write_stalls "$pid")
  faults_before=$(minor_faults "$pid")
  cs_before=$(ctx_switches "$pid")
  if [[ -n $script ]]; then
    cat "$script" "$WORK/report.lua" > "$WORK/run.lua"
  else
    cp "$WORK/report.lua" "$WORK/run.lua"
  fi
  local perf_pid=""
  if [[ -n $PERF_DIR && $name != nginx ]]; then
    perf record ${PERF_EVENT:+-e "$PERF_EVENT"} -F 1999 --call-graph "${PERF_CALLGRAPH:-fp}" -p "$pid" -o "$PERF_DIR/$name.data" -- sleep "$SECONDS_PER" 2>/dev/null &
    perf_pid=$!
  fi
  # System calls of every thread of the server (perf's raw_syscalls tracepoint), "-" where
  # perf cannot count them (not installed, or perf_event_paranoid).
  local count_pid=""
  rm -f "$WORK/syscalls"
  if command -v perf >/dev/null; then
    perf stat -x, -e raw_syscalls:sys_enter -p "$pid" -o "$WORK/syscalls" -- sleep "$SECONDS_PER" 2>/dev/null &
    count_pid=$!
  fi
  out=$(wrk -t1 -c"$CONNS" -d"${SECONDS_PER}s" --latency -s "$WORK/run.lua" "$url" | grep '^RESULT')
  after=$(cpu_ticks "$pid")
  faults_after=$(minor_faults "$pid")
  cs_after=$(ctx_switches "$pid")
  writes_after=$(write_calls "$pid")
  stalls_after=$(write_stalls "$pid")
  [[ -n $perf_pid ]] && wait "$perf_pid" || true
  [[ -n $count_pid ]] && wait "$count_pid" || true
  local syscalls
  syscalls=$(awk -F, '/raw_syscalls:sys_enter/ && $1 ~ /^[0-9]+$/ {print $1}' "$WORK/syscalls" 2>/dev/null || true)
  read -r _ reqs secs p99 errs <<<"$out"
  stalls=-
  [[ $stalls_before != - ]] && stalls=$((stalls_after - stalls_before))
  python3 - "$name" "$reqs" "$secs" "$p99" "$errs" "$((after - before))" "$HZ" "$((faults_after - faults_before))" "$((cs_after - cs_before))" "$((writes_after - writes_before))" "$stalls" "${syscalls:--}" <<'PY'
import sys
name, reqs, secs, p99, errs, ticks, hz, faults, cs, writes, stalls, syscalls = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7]), int(sys.argv[8]), int(sys.argv[9]), int(sys.argv[10]), sys.argv[11], sys.argv[12]
rate = reqs / secs
cpu_us = ticks / hz * 1e6 / max(reqs, 1)
calls = f"{int(syscalls) / max(reqs, 1):.2f}" if syscalls.isdigit() else "-"
print(f"{name}\t{rate:.0f}\t{cpu_us:.1f}\t{p99/1000:.2f}\t{errs}\t{faults / max(reqs, 1):.3f}\t{cs / max(reqs, 1):.3f}\t{writes / max(reqs, 1):.3f}\t{stalls}\t{calls}")
PY
}

{
  run nginx "$NGINX_PID" "http://127.0.0.1:$NGINX_PORT/doc.json"
  run read "$RL_PID" "$ENDPOINT/dbs/bench/colls/c/docs/doc-1" "$WORK/read.lua"
  run create "$RL_PID" "$ENDPOINT/dbs/bench/colls/c/docs" "$WORK/create.lua"
  if [[ $ALL == 1 ]]; then
    run upsert "$RL_PID" "$ENDPOINT/dbs/bench/colls/c/docs" "$WORK/upsert.lua"
    run replace "$RL_PID" "$ENDPOINT/dbs/bench/colls/c/docs" "$WORK/replace.lua"
    run patch "$RL_PID" "$ENDPOINT/dbs/bench/colls/c/docs" "$WORK/patch.lua"
    run query100 "$RL_PID" "$ENDPOINT/dbs/bench/colls/c/docs" "$WORK/query.lua"
  fi
} > "$WORK/rows"

python3 - "$WORK/rows" "$SECONDS_PER" "$CONNS" "$DURABLE" <<'PY'
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
nginx = float(rows[0][1])
create = next((float(r[1]) for r in rows if r[0] == "create"), 0.0)
mode = "durable (WAL)" if sys.argv[4] == "1" else "ephemeral"
print(f"wrk -t1 -c{sys.argv[3]} -d{sys.argv[2]}s, one region ({mode}), nginx with one worker")
print(f"{'workload':<10}{'req/s':>10}{'% of nginx':>12}{'% of create':>13}{'CPU us/req':>12}{'p99 ms':>9}{'errors':>8}{'faults/req':>12}{'cswitch/req':>13}{'write(2)/req':>14}{'stalls':>8}{'syscalls/req':>14}")
for name, rate, cpu, p99, errs, faults, cs, writes, stalls, calls in rows:
    vs_create = f"{100*float(rate)/create:>12.1f}%" if name in ("upsert", "replace", "patch") and create else f"{'':>13}"
    print(f"{name:<10}{float(rate):>10.0f}{100*float(rate)/nginx:>11.1f}%{vs_create}{float(cpu):>12.1f}{float(p99):>9.2f}{int(errs):>8}{float(faults):>12.3f}{float(cs):>13.3f}{float(writes):>14.3f}{stalls:>8}{calls:>14}")
PY
