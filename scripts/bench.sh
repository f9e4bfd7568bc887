#!/usr/bin/env bash
# Runs the hub benchmarks of docs/benchmarks.md on this machine: builds the
# hub and cmd/loadgen, starts one hub on embedded defaults pinned to CPU 0,
# runs loadgen pinned to CPU 1, and prints loadgen's report. Traffic stays
# on 127.0.0.1.
#
#   scripts/bench.sh fanout   # (a) 1 room, 1,000 receivers, 100 msg/s
#   scripts/bench.sh idle     # (b) 10,000 idle connections, RSS per connection
#   scripts/bench.sh fanout -duration 60s   # extra flags go to loadgen
#
# With PROFILE=1 it also saves a 20 s CPU profile of the hub taken during
# the measured window to bench-cpu.prof (and prints its top entries).
set -euo pipefail
cd "$(dirname "$0")/.."
scenario="${1:?usage: scripts/bench.sh fanout|idle [loadgen flags]}"
shift

bin=$(mktemp -d)
data=$(mktemp -d)
go build -o "$bin/hub" ./cmd/hub
go build -o "$bin/loadgen" ./cmd/loadgen

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
