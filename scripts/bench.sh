#!/usr/bin/env bash
# Runs the hub benchmarks of docs/benchmarks.md on this machine: builds the
# hub and cmd/loadgen, starts one hub on embedded defaults pinned to CPU 0,
# runs loadgen pinned to CPU 1, and prints loadgen's report. Traffic stays
# on 127.0.0.1.
#
#   scripts/bench.sh fanout   # (a) 1 room, 1,000 receivers, 100 msg/s
#   scripts/bench.sh idle     # (b) 10,000 idle connections, RSS per connection
#   scripts/bench.sh cluster  # (c) 3 hubs, 3,000 clients in 300 rooms of 10 at 1 msg/s
#                             #     each, with admin room inspection load on hub 1
#   scripts/bench.sh fanout -duration 60s   # extra flags go to loadgen
#
# cluster starts its hubs with scripts/cluster.sh on this machine's
# PostgreSQL, NATS and Redis (database hub_bench, dropped and created anew;
# ports 18710..18712), unpinned: three hubs and their services share the
# cores with loadgen. INSPECT_CONC sets the inspection workers (default 8).
#
# With PROFILE=1 it also saves a 20 s CPU profile of the hub taken during
# the measured window to bench-cpu.prof (and prints its top entries).
set -euo pipefail
cd "$(dirname "$0")/.."
scenario="${1:?usage: scripts/bench.sh fanout|idle|cluster [loadgen flags]}"
shift

bin=$(mktemp -d)
data=$(mktemp -d)
go build -o "$bin/hub" ./cmd/hub
go build -o "$bin/loadgen" ./cmd/loadgen

# run_cluster is the cluster scenario, from start to stop.
run_cluster() {
  export CLUSTER_DIR="$bin/cluster" CLUSTER_BASE_PORT="${CLUSTER_BASE_PORT:-18710}" CLUSTER_DB="${CLUSTER_DB:-hub_bench}"
  export HUB_LOG_LEVEL="${HUB_LOG_LEVEL:-warn}"
  trap 'scripts/cluster.sh down >/dev/null 2>&1 || true; rm -rf "$bin" "$data"' EXIT
  scripts/cluster.sh up 3
  eval "$(scripts/cluster.sh env)"
  local status=0
  GOGC="${LOADGEN_GOGC:-400}" "$bin/loadgen" -hubs "$CLUSTER_HUBS" \
    -scenario rooms -rooms 300 -per-room 10 -rate 1 -duration 60s -warmup 5s \
    -inspect-hub "${CLUSTER_HUBS%%,*}" -inspect-concurrency "${INSPECT_CONC:-8}" -admin "$CLUSTER_ADMIN" \
    "$@" 2>"$bin/lg.err" || status=$?
  if [ "$status" != 0 ]; then
    echo "--- loadgen failed (status $status):" >&2
    tail -n 20 "$bin/lg.err" >&2
  fi
  local i
  for i in 1 2 3; do
    if grep -q 'level=ERROR\|level=WARN' "$CLUSTER_DIR/hub$i.log"; then
      echo "--- hub$i warnings:"
      grep 'level=ERROR\|level=WARN' "$CLUSTER_DIR/hub$i.log" | sed 's/^time=[^ ]* //' | sort | uniq -c | sort -rn | head -10
    fi
  done
  scripts/cluster.sh down
  return "$status"
}
if [ "$scenario" = cluster ]; then
  run_cluster "$@"
  exit
fi

port=18700
debug=18701
pin_hub=() pin_lg=()
if [ "${PIN:-1}" = 1 ] && command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
  pin_hub=(taskset -c 0) pin_lg=(taskset -c 1)
fi

HUB_ADDR=127.0.0.1:$port HUB_DATA_DIR=$data HUB_DEBUG_ADDR=127.0.0.1:$debug HUB_LOG_LEVEL=warn \
  "${pin_hub[@]}" "$bin/hub" 2>"$bin/hub.log" &
hub=$!
trap 'kill $hub 2>/dev/null; wait $hub 2>/dev/null; rm -rf "$bin" "$data"' EXIT
for _ in $(seq 1 100); do
  curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done

case "$scenario" in
  fanout)
    args=(-scenario fanout -receivers 1000 -rate 100 -duration 30s -warmup 5s)
    ;;
  idle)
    args=(-scenario idle -conns 10000 -duration 30s -hub-pid "$hub")
    ;;
  *)
    echo "unknown scenario $scenario" >&2
    exit 2
    ;;
esac

if [ "${PROFILE:-}" = 1 ]; then
  (
    # Wait until loadgen reports it is publishing, then past the warm-up.
    until grep -q "publishing\|holding" "$bin/lg.err" 2>/dev/null; do sleep 0.5; done
    sleep 6
    curl -fs "http://127.0.0.1:$debug/debug/pprof/profile?seconds=20" >bench-cpu.prof
  ) &
  prof=$!
fi
GOGC="${LOADGEN_GOGC:-400}" "${pin_lg[@]}" "$bin/loadgen" -hubs "http://127.0.0.1:$port" "${args[@]}" "$@" 2>"$bin/lg.err"
if [ "${PROFILE:-}" = 1 ]; then
  wait "$prof"
  go tool pprof -top -nodecount=25 "$bin/hub" bench-cpu.prof 2>/dev/null | sed -n '1,35p'
fi
if grep -q 'level=ERROR\|level=WARN' "$bin/hub.log"; then
  echo "--- hub warnings:"
  grep 'level=ERROR\|level=WARN' "$bin/hub.log" | sort | uniq -c | sort -rn | head -10
fi
