#!/usr/bin/env bash
# Installs (when missing) and starts, on loopback only, the real services the
# test suite uses, then prints the environment that points tests at them.
#
#   scripts/services.sh up      # install + start; prints `export VAR=…` lines
#   scripts/services.sh down    # stop what `up` started
#   scripts/services.sh env     # print the environment only
#
# Services: PostgreSQL (Debian `postgresql`), Redis (`redis-server`), NATS with
# JetStream (`nats-server`), an S3-compatible server (moto, from PyPI, in a
# throwaway venv), and a Python venv for interop tests (report/SARIF schema
# validation). Every wait loop is bounded. Nothing listens beyond 127.0.0.1.
set -euo pipefail

STATE="${MLSECOPS_SERVICES_DIR:-${TMPDIR:-/tmp}/mlsecops-services}"
PG_PORT="${MLSECOPS_PG_PORT:-55432}"
REDIS_PORT="${MLSECOPS_REDIS_PORT:-56379}"
NATS_PORT="${MLSECOPS_NATS_PORT:-54222}"
S3_PORT="${MLSECOPS_S3_PORT:-59000}"
PYVENV="${MLSECOPS_TEST_VENV:-$STATE/py}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"

log() { printf 'services: %s\n' "$*" >&2; }

wait_for() { # wait_for NAME SECONDS CMD...
  local name=$1 secs=$2; shift 2
  for _ in $(seq 1 "$secs"); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 1
  done
  log "$name did not become ready within ${secs}s"; return 1
}

need_apt() { # need_apt BINARY PACKAGE
  if ! command -v "$1" >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/"$1" >/dev/null 2>&1; then
    log "installing $2"
    if [ "$(id -u)" -ne 0 ]; then log "need root to install $2"; return 1; fi
    if [ ! -f "$STATE/.apt-updated" ]; then apt-get update -qq >/dev/null; touch "$STATE/.apt-updated"; fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$2" >/dev/null
  fi
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1; }

start_postgres() {
  need_apt initdb postgresql
  local bin; bin="$(pg_bin)"
  local data="$STATE/pg"
  if port_open "$PG_PORT"; then return 0; fi
  local run_as=()
  if [ "$(id -u)" -eq 0 ]; then
    chown -R postgres:postgres "$STATE" 2>/dev/null || true
    run_as=(runuser -u postgres --)
  fi
  if [ ! -f "$data/PG_VERSION" ]; then
    mkdir -p "$data"; [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$data"
    "${run_as[@]}" "$bin/initdb" -D "$data" -U postgres --auth=trust -E UTF8 >/dev/null
  fi
  "${run_as[@]}" "$bin/pg_ctl" -D "$data" -l "$data/log" -w -t 30 \
    -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $data -c fsync=off" start >/dev/null
  wait_for postgres 30 "$bin/pg_isready" -h 127.0.0.1 -p "$PG_PORT"
  "$bin/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='mlsecops_test'" | grep -q 1 \
    || "$bin/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -qc "CREATE DATABASE mlsecops_test" >/dev/null
}

start_redis() {
  need_apt redis-server redis-server
  port_open "$REDIS_PORT" && return 0
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save '' --appendonly no \
    --daemonize yes --pidfile "$STATE/redis.pid" --logfile "$STATE/redis.log" --protected-mode yes
  wait_for redis 30 port_open "$REDIS_PORT"
}

start_nats() {
  need_apt nats-server nats-server
  port_open "$NATS_PORT" && return 0
  mkdir -p "$STATE/nats"
  nohup nats-server -a 127.0.0.1 -p "$NATS_PORT" -js -sd "$STATE/nats" >"$STATE/nats.log" 2>&1 &
  echo $! >"$STATE/nats.pid"
  wait_for nats 30 port_open "$NATS_PORT"
}

start_python() {
  local req="$ROOT/scripts/test-requirements.txt" stamp want
  if [ ! -x "$PYVENV/bin/python" ]; then
    log "creating the interop venv"
    python3 -m venv "$PYVENV"
  fi
  # Reinstall whenever the pinned requirements change.
  stamp="$PYVENV/.requirements.sha256"
  want="$(sha256sum "$req" | cut -d' ' -f1)"
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    log "installing the interop requirements"
    "$PYVENV/bin/pip" install -q -r "$req"
    echo "$want" >"$stamp"
  fi
}

start_sarif() {
  # Microsoft's SARIF multitool: the reference validator (schema + rules).
  local dir="$STATE/sarif"
  if [ ! -x "$dir/node_modules/.bin/sarif-multitool" ]; then
    if ! command -v npm >/dev/null 2>&1; then log "npm not found: SARIF validator unavailable"; return 0; fi
    log "installing the SARIF validator"
    mkdir -p "$dir"
    (cd "$dir" && npm install --silent --no-audit --no-fund @microsoft/sarif-multitool@5.7.0 >/dev/null 2>&1) \
      || { log "SARIF validator install failed"; return 0; }
  fi
}

start_s3() {
  start_python
  port_open "$S3_PORT" && return 0
  nohup "$PYVENV/bin/moto_server" -H 127.0.0.1 -p "$S3_PORT" >"$STATE/s3.log" 2>&1 &
  echo $! >"$STATE/s3.pid"
  wait_for s3 30 port_open "$S3_PORT"
}

print_env() {
  cat <<ENV
export MLSECOPS_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:$PG_PORT/mlsecops_test
export MLSECOPS_TEST_REDIS_URL=redis://127.0.0.1:$REDIS_PORT
export MLSECOPS_TEST_NATS_URL=nats://127.0.0.1:$NATS_PORT
export MLSECOPS_TEST_S3_ENDPOINT=http://127.0.0.1:$S3_PORT
export MLSECOPS_TEST_PYTHON=$PYVENV/bin/python
ENV
  local tool="$STATE/sarif/node_modules/.bin/sarif-multitool"
  local schema="$STATE/sarif/node_modules/@microsoft/sarif-multitool-linux/sarif-2.1.0.json"
  if [ -x "$tool" ]; then echo "export MLSECOPS_TEST_SARIF_MULTITOOL=$tool"; fi
  if [ -f "$schema" ]; then echo "export MLSECOPS_TEST_SARIF_SCHEMA=$schema"; fi
}

stop_pidfile() { [ -f "$1" ] && kill "$(cat "$1")" 2>/dev/null || true; rm -f "$1"; }

case "${1:-up}" in
  up)
    mkdir -p "$STATE"
    start_python
    start_sarif
    start_postgres
    start_redis
    start_nats
    start_s3
    print_env
    ;;
  env) print_env ;;
  down)
    bin="$(pg_bin)"
    if [ -n "$bin" ] && [ -f "$STATE/pg/postmaster.pid" ]; then
      if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$bin/pg_ctl" -D "$STATE/pg" stop -m fast >/dev/null || true
      else "$bin/pg_ctl" -D "$STATE/pg" stop -m fast >/dev/null || true; fi
    fi
    stop_pidfile "$STATE/redis.pid"; stop_pidfile "$STATE/nats.pid"; stop_pidfile "$STATE/s3.pid"
    ;;
  *) echo "usage: $0 up|down|env" >&2; exit 2 ;;
esac
