#!/usr/bin/env bash
# ExecStop of trino.service (installed as /usr/local/bin/trino-graceful-stop; runs as the unit's User=trino).
#
# Worker: asks Trino for a graceful shutdown (PUT /v1/info/state "SHUTTING_DOWN" on the node's internal HTTP port,
# as X-Trino-User GRACEFUL_STOP_USER, which the node's access control must allow to write system_information),
# then waits until the unit's main process ($MAINPID, set by systemd) has exited, at most
# GRACEFUL_STOP_TIMEOUT_SECONDS. Trino finishes its running tasks and exits by itself; systemd then has nothing
# left to kill. When the request is refused or the deadline passes, it says so and returns: systemd sends
# KillSignal (SIGTERM) to what is left, and SIGKILL after TimeoutStopSec.
# Coordinator or standby: returns at once (a coordinator refuses SHUTTING_DOWN; systemd stops it with SIGTERM).
#
# Settings: STOP_ENV_FILE (default /etc/trino/graceful-stop.env, written by trino-render-config) with
# NODE_ROLE, INTERNAL_HTTP_PORT, GRACEFUL_STOP_USER, GRACEFUL_STOP_TIMEOUT_SECONDS.
# Source: Trino's GracefulShutdownHandler (PUT /v1/info/state, MANAGEMENT_WRITE); systemd.service(5) ExecStop.
set -uo pipefail

log() { printf '%s trino-graceful-stop: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >&2; }

STOP_ENV_FILE="${STOP_ENV_FILE:-/etc/trino/graceful-stop.env}"
if [ -r "$STOP_ENV_FILE" ]; then
  while IFS='=' read -r key value; do
    case "$key" in
      NODE_ROLE | INTERNAL_HTTP_PORT | GRACEFUL_STOP_USER | GRACEFUL_STOP_TIMEOUT_SECONDS) printf -v "$key" '%s' "$value" ;;
    esac
  done <"$STOP_ENV_FILE"
fi
role="${NODE_ROLE:-unknown}"
port="${INTERNAL_HTTP_PORT:-8080}"
user="${GRACEFUL_STOP_USER:-sentinel}"
timeout="${GRACEFUL_STOP_TIMEOUT_SECONDS:-600}"
pid="${MAINPID:-}"

if [ "$role" != worker ]; then
  log "role ${role}: no graceful shutdown (systemd stops the process with SIGTERM)"
  exit 0
fi
if [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null; then
  log "Trino is not running (MAINPID='${pid}')"
  exit 0
fi

url="http://127.0.0.1:${port}/v1/info/state"
code="$(curl -sS -o /dev/null -w '%{http_code}' -m 10 -X PUT -H 'Content-Type: application/json' \
  -H "X-Trino-User: ${user}" --data '"SHUTTING_DOWN"' "$url" 2>&1)"
if [ "$code" != 200 ]; then
  log "graceful shutdown refused: PUT ${url} as ${user} answered '${code}' (the node's access control must let ${user} write system_information); systemd stops the process with SIGTERM"
  exit 0
fi
log "SHUTTING_DOWN requested as ${user}; waiting up to ${timeout} s for process ${pid} to finish its tasks and exit"
start="$(date +%s)"
for ((i = 0; i < timeout; i++)); do
  if ! kill -0 "$pid" 2>/dev/null; then
    log "Trino exited after $(($(date +%s) - start)) s"
    exit 0
  fi
  sleep 1
done
log "Trino still running after ${timeout} s; systemd stops it with SIGTERM"
exit 0
