#!/usr/bin/env bash
# Several hubs as one service, as plain processes on 127.0.0.1, on this
# machine's PostgreSQL (127.0.0.1:5432, user postgres), NATS (127.0.0.1:4222)
# and Redis (127.0.0.1:6379): the topology of compose.yaml without Docker.
#
#   scripts/cluster.sh up [N]        build cmd/hub once, start N hubs (default 3)
#                                    on 127.0.0.1:8081, :8082, … and wait for /readyz
#   scripts/cluster.sh status        each hub's pid, URL and /readyz answer
#   scripts/cluster.sh env           the cluster as shell assignments, for scripts:
#                                    eval "$(scripts/cluster.sh env)"
#   scripts/cluster.sh logs I [-f]   hub I's log (-f: follow it)
#   scripts/cluster.sh kill I        SIGKILL hub I: a crash
#   scripts/cluster.sh stop I        SIGTERM hub I and wait: a graceful drain
#   scripts/cluster.sh start I       start hub I again, with the same settings
#   scripts/cluster.sh down          SIGTERM every hub and wait for them
#
# Every `up` starts a new service: a new token secret, a new NATS subject
# prefix (which is also the hubs' Redis key prefix, so nothing mixes with
# tests or an earlier cluster on the same NATS and Redis) and, unless
# CLUSTER_DATABASE_URL is given, an empty database. `down` leaves the logs
# and data in the state directory; the next `up` clears them.
#
# Settings, from the environment:
#   CLUSTER_DIR            state directory: binary, logs, data dirs, pids (./tmp/cluster)
#   CLUSTER_BASE_PORT      hub 1's port; hub I listens on BASE_PORT+I-1 (8081)
#   CLUSTER_DB             database the script owns on postgres@127.0.0.1:5432,
#                          dropped and created again by every `up` (hub_cluster)
#   CLUSTER_DATABASE_URL   use this database as it is instead (never dropped)
#   CLUSTER_NATS_URL       (nats://127.0.0.1:4222)
#   CLUSTER_REDIS_URL      (redis://127.0.0.1:6379/0)
#   CLUSTER_ADMIN          name:password of the bootstrap admin (admin:<random>)
#   CLUSTER_DEBUG_BASE_PORT  if set, hub I serves pprof on DEBUG_BASE_PORT+I-1
#   CLUSTER_READY_TIMEOUT  seconds to wait for a hub's /readyz (60)
#   CLUSTER_STOP_TIMEOUT   seconds to wait for a drain before SIGKILL (25)
# Any other HUB_* variable in the environment reaches every hub as it is
# (e.g. HUB_LOG_LEVEL=debug, HUB_SEND_RATE).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

dir=${CLUSTER_DIR:-tmp/cluster}
case $dir in
  /*) ;;
  *) dir=$root/$dir ;;
esac
state=$dir/cluster.env
marker=$dir/.hub-cluster # only a directory holding this is ever cleared

die() {
  echo "cluster: $*" >&2
  exit 1
}

usage() {
  sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0" >&2
  exit 2
}

# load reads the settings `up` saved.
load() {
  [ -f "$state" ] || die "no cluster in $dir (start one with: scripts/cluster.sh up)"
  # shellcheck source=/dev/null
  . "$state"
}

# save writes the settings every other command reads.
save() {
  local name
  (
    umask 077
    for name in CLUSTER_N CLUSTER_BASE_PORT CLUSTER_DATABASE_URL CLUSTER_NATS_URL CLUSTER_REDIS_URL \
      CLUSTER_SECRET CLUSTER_ADMIN CLUSTER_PREFIX CLUSTER_DEBUG_BASE_PORT; do
      printf '%s=%q\n' "$name" "${!name}"
    done >"$state"
  )
}

randhex() { # bytes
  od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'
}

port_of() { echo $((CLUSTER_BASE_PORT + $1 - 1)); }
url_of() { echo "http://127.0.0.1:$(port_of "$1")"; }

# index checks that $1 names a hub of the cluster.
index() {
  if ! [[ ${1:-} =~ ^[1-9][0-9]*$ ]] || [ "$1" -gt "$CLUSTER_N" ]; then
    die "hub index must be 1..$CLUSTER_N (got '${1:-}')"
  fi
}

# hub_pid prints hub i's pid if that process is still our hub binary (a pid
# file outliving its process must not make us signal a stranger).
hub_pid() {
  local f=$dir/hub$1.pid pid
  [ -f "$f" ] || return 1
  pid=$(<"$f")
  [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
  if [ -e "/proc/$pid/exe" ] && [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" != "$dir/bin/hub" ]; then
    return 1
  fi
  echo "$pid"
}

tcp_open() { # host port
  (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

readyz() { # i → HTTP status of /readyz, 000 if no answer
  curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$(url_of "$1")/readyz" || true
}

# start_hub starts hub i in the background, in a session of its own so a
# Ctrl-C in the terminal that ran `up` does not reach it.
start_hub() {
  local i=$1 port origins="" j debug=""
  port=$(port_of "$i")
  if hub_pid "$i" >/dev/null; then
    die "hub $i is already running (pid $(hub_pid "$i"))"
  fi
  if tcp_open 127.0.0.1 "$port"; then
    die "127.0.0.1:$port is in use; set CLUSTER_BASE_PORT to another port"
  fi
  for ((j = 1; j <= CLUSTER_N; j++)); do
    origins+="${origins:+,}$(url_of "$j")"
  done
  if [ -n "$CLUSTER_DEBUG_BASE_PORT" ]; then
    debug=127.0.0.1:$((CLUSTER_DEBUG_BASE_PORT + i - 1))
  fi
  mkdir -p "$dir/hub$i/data"
  local launch=()
  if command -v setsid >/dev/null; then
    launch=(setsid)
  fi
  env HUB_ADDR="127.0.0.1:$port" \
    HUB_PUBLIC_URL="$(url_of "$i")" \
    HUB_ALLOWED_ORIGINS="$origins" \
    HUB_DATA_DIR="$dir/hub$i/data" \
    HUB_NODE_ID="hub$i" \
    HUB_DATABASE_URL="$CLUSTER_DATABASE_URL" \
    HUB_NATS_URL="$CLUSTER_NATS_URL" \
    HUB_NATS_SUBJECT_PREFIX="$CLUSTER_PREFIX" \
    HUB_REDIS_URL="$CLUSTER_REDIS_URL" \
    HUB_JWT_SECRET="$CLUSTER_SECRET" \
    HUB_BOOTSTRAP_ADMIN="$CLUSTER_ADMIN" \
    HUB_DEBUG_ADDR="$debug" \
    "${launch[@]}" "$dir/bin/hub" >>"$dir/hub$i.log" 2>&1 </dev/null &
  echo $! >"$dir/hub$i.pid"
}

# wait_ready waits until hub i answers /readyz with 200; it fails, showing
# the end of the log, if the hub exits or the time runs out.
wait_ready() {
  local i=$1 deadline=$((SECONDS + ${CLUSTER_READY_TIMEOUT:-60}))
  while [ "$(readyz "$i")" != 200 ]; do
    if ! hub_pid "$i" >/dev/null; then
      echo "cluster: hub $i exited during start-up; the end of $dir/hub$i.log:" >&2
      tail -n 20 "$dir/hub$i.log" >&2
      return 1
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "cluster: hub $i is not ready after ${CLUSTER_READY_TIMEOUT:-60}s; the end of $dir/hub$i.log:" >&2
      tail -n 20 "$dir/hub$i.log" >&2
      return 1
    fi
    sleep 0.2
  done
}

# signal_and_wait sends sig to the given hubs and waits up to timeout
# seconds for them to exit; stragglers get SIGKILL.
signal_and_wait() { # sig timeout i...
  local sig=$1 timeout=$2 i pid deadline
  shift 2
  local -A pids=()
  for i in "$@"; do
    if pid=$(hub_pid "$i"); then
      kill -"$sig" "$pid" 2>/dev/null || true
      pids[$i]=$pid
    fi
  done
  deadline=$((SECONDS + timeout))
  while [ ${#pids[@]} -gt 0 ]; do
    for i in "${!pids[@]}"; do
      if ! kill -0 "${pids[$i]}" 2>/dev/null; then
        echo "hub$i: stopped (pid ${pids[$i]})"
        unset "pids[$i]"
        rm -f "$dir/hub$i.pid"
      elif [ "$SECONDS" -ge "$deadline" ]; then
        echo "hub$i: still running ${timeout}s after SIG$sig; sending SIGKILL" >&2
        kill -KILL "${pids[$i]}" 2>/dev/null || true
      fi
    done
    [ ${#pids[@]} -eq 0 ] || sleep 0.2
  done
}

all() { seq 1 "$CLUSTER_N"; }

# print_hub prints one line about hub i; it fails if the hub is not ready.
print_hub() {
  local i=$1 pid code
  if pid=$(hub_pid "$i"); then
    code=$(readyz "$i")
    printf 'hub%-3s %-24s pid %-8s readyz %s  log %s\n' "$i" "$(url_of "$i")" "$pid" "$code" "$dir/hub$i.log"
    [ "$code" = 200 ]
  else
    printf 'hub%-3s %-24s not running              log %s\n' "$i" "$(url_of "$i")" "$dir/hub$i.log"
    return 1
  fi
}

# any_running reports whether a hub of the saved cluster still runs. It
# reads the saved settings in a subshell, so they do not replace the
# caller's.
any_running() (
  load
  for i in $(all); do
    hub_pid "$i" >/dev/null && exit 0
  done
  exit 1
)

cmd_up() {
  local n=${1:-3} i ids
  if ! [[ $n =~ ^[1-9][0-9]*$ ]] || [ "$n" -gt 32 ]; then
    die "up: N must be 1..32 (got '$n')"
  fi
  if [ -f "$state" ] && any_running; then
    die "a cluster is already running in $dir (scripts/cluster.sh status; stop it with down)"
  fi
  if [ -d "$dir" ] && [ ! -f "$marker" ] && [ -n "$(ls -A "$dir")" ]; then
    die "$dir is not empty and is not a cluster state directory; set CLUSTER_DIR elsewhere"
  fi
  rm -rf "$dir"
  mkdir -p "$dir/bin"
  touch "$marker"

  CLUSTER_N=$n
  CLUSTER_BASE_PORT=${CLUSTER_BASE_PORT:-8081}
  CLUSTER_DEBUG_BASE_PORT=${CLUSTER_DEBUG_BASE_PORT:-}
  if ! [[ $CLUSTER_BASE_PORT =~ ^[1-9][0-9]*$ ]] || [ $((CLUSTER_BASE_PORT + n - 1)) -gt 65535 ]; then
    die "CLUSTER_BASE_PORT must be a port number with room for $n hubs (got '$CLUSTER_BASE_PORT')"
  fi
  if [ -n "$CLUSTER_DEBUG_BASE_PORT" ] && { ! [[ $CLUSTER_DEBUG_BASE_PORT =~ ^[1-9][0-9]*$ ]] ||
    [ $((CLUSTER_DEBUG_BASE_PORT + n - 1)) -gt 65535 ]; }; then
    die "CLUSTER_DEBUG_BASE_PORT must be a port number with room for $n hubs (got '$CLUSTER_DEBUG_BASE_PORT')"
  fi
  CLUSTER_NATS_URL=${CLUSTER_NATS_URL:-nats://127.0.0.1:4222}
  CLUSTER_REDIS_URL=${CLUSTER_REDIS_URL:-redis://127.0.0.1:6379/0}
  CLUSTER_ADMIN=${CLUSTER_ADMIN:-admin:$(randhex 12)}
  CLUSTER_SECRET=$(head -c 32 /dev/urandom | base64)
  CLUSTER_PREFIX=cluster_$(randhex 4)

  if [ "$CLUSTER_NATS_URL" = nats://127.0.0.1:4222 ] && ! tcp_open 127.0.0.1 4222; then
    die "NATS is not answering on 127.0.0.1:4222 (start it, or set CLUSTER_NATS_URL)"
  fi
  if [ "$CLUSTER_REDIS_URL" = redis://127.0.0.1:6379/0 ] && ! tcp_open 127.0.0.1 6379; then
    die "Redis is not answering on 127.0.0.1:6379 (start it, or set CLUSTER_REDIS_URL)"
  fi
  if [ -z "${CLUSTER_DATABASE_URL:-}" ]; then
    local db=${CLUSTER_DB:-hub_cluster}
    [[ $db =~ ^[a-z_][a-z0-9_]*$ ]] || die "CLUSTER_DB must be a plain lower-case name (got '$db')"
    tcp_open 127.0.0.1 5432 || die "PostgreSQL is not answering on 127.0.0.1:5432 (start it, or set CLUSTER_DATABASE_URL)"
    command -v psql >/dev/null || die "psql is needed to create the database $db (or set CLUSTER_DATABASE_URL)"
    echo "database: $db on postgres@127.0.0.1:5432 (new, empty)"
    psql "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable" -X -q -v ON_ERROR_STOP=1 \
      -c "SET client_min_messages TO warning" -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" -c "CREATE DATABASE \"$db\"" ||
      die "could not create the database $db"
    CLUSTER_DATABASE_URL="postgres://postgres@127.0.0.1:5432/$db?sslmode=disable"
  fi
  save
  for i in $(all); do
    if tcp_open 127.0.0.1 "$(port_of "$i")"; then
      die "127.0.0.1:$(port_of "$i") is in use; set CLUSTER_BASE_PORT to another port"
    fi
  done

  echo "building cmd/hub"
  go build -o "$dir/bin/hub" ./cmd/hub

  for i in $(all); do
    start_hub "$i"
  done
  for i in $(all); do
    if ! wait_ready "$i"; then
      echo "cluster: stopping the hubs started so far" >&2
      mapfile -t ids < <(all)
      signal_and_wait TERM "${CLUSTER_STOP_TIMEOUT:-25}" "${ids[@]}" >&2
      exit 1
    fi
  done
  echo "cluster of $CLUSTER_N hubs ready (NATS subject and Redis key prefix $CLUSTER_PREFIX)"
  for i in $(all); do
    print_hub "$i" || true
  done
  echo "admin: $CLUSTER_ADMIN"
}

cmd_down() {
  local ids
  load
  mapfile -t ids < <(all)
  signal_and_wait TERM "${CLUSTER_STOP_TIMEOUT:-25}" "${ids[@]}"
}

cmd_status() {
  local i ok=0
  load
  for i in $(all); do
    print_hub "$i" || ok=1
  done
  return "$ok"
}

cmd_env() {
  local i pid hubs="" pidlist=""
  load
  for i in $(all); do
    hubs+="${hubs:+,}$(url_of "$i")"
    if pid=$(hub_pid "$i"); then
      pidlist+="${pidlist:+,}$pid"
    fi
  done
  printf 'CLUSTER_DIR=%q\n' "$dir"
  printf 'CLUSTER_N=%q\n' "$CLUSTER_N"
  printf 'CLUSTER_HUBS=%q\n' "$hubs"
  printf 'CLUSTER_PIDS=%q\n' "$pidlist"
  printf 'CLUSTER_ADMIN=%q\n' "$CLUSTER_ADMIN"
  printf 'CLUSTER_PREFIX=%q\n' "$CLUSTER_PREFIX"
  printf 'CLUSTER_DATABASE_URL=%q\n' "$CLUSTER_DATABASE_URL"
}

cmd_logs() {
  load
  index "${1:-}"
  case ${2:-} in
    "") cat "$dir/hub$1.log" ;;
    -f) tail -n 50 -F "$dir/hub$1.log" ;;
    *) usage ;;
  esac
}

cmd_kill() {
  local pid
  load
  index "${1:-}"
  pid=$(hub_pid "$1") || die "hub $1 is not running"
  kill -KILL "$pid"
  while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  rm -f "$dir/hub$1.pid"
  echo "hub$1: killed (pid $pid)"
}

cmd_stop() {
  load
  index "${1:-}"
  hub_pid "$1" >/dev/null || die "hub $1 is not running"
  signal_and_wait TERM "${CLUSTER_STOP_TIMEOUT:-25}" "$1"
}

cmd_start() {
  load
  index "${1:-}"
  start_hub "$1"
  wait_ready "$1"
  print_hub "$1"
}

case ${1:-} in
  up) shift; [ $# -le 1 ] || usage; cmd_up "$@" ;;
  down) [ $# -eq 1 ] || usage; cmd_down ;;
  status) [ $# -eq 1 ] || usage; cmd_status ;;
  env) [ $# -eq 1 ] || usage; cmd_env ;;
  logs) shift; if [ $# -lt 1 ] || [ $# -gt 2 ]; then usage; fi; cmd_logs "$@" ;;
  kill) [ $# -eq 2 ] || usage; cmd_kill "$2" ;;
  stop) [ $# -eq 2 ] || usage; cmd_stop "$2" ;;
  start) [ $# -eq 2 ] || usage; cmd_start "$2" ;;
  *) usage ;;
esac
