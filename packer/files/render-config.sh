#!/usr/bin/env bash
# Renders a Trino node's configuration at boot (trino-render.service runs it as /usr/local/bin/trino-render-config)
# from envsubst templates, so the same code works on an instance and in a local smoke test.
#
# Values come, in increasing priority, from: built-in defaults < BOOT_ENV_FILE (written by the launch template's user
# data) < CONFIG_ENV_FILE < the process environment < SSM parameters under ${SSM_PREFIX}/config/<NAME> (only when
# SSM_PREFIX is set; SecureString values are decrypted). Extra files (catalog/*.properties, config-extra.properties,
# access control, password files) come from CONFIG_S3_URI, or from the local directory EXTRA_CONFIG_DIR.
#
# NODE_ROLE: coordinator | standby | worker. On EC2 a "coordinator" instance is the active one when the coordinator
# ENI (COORDINATOR_ENI_ID) is attached to it, or when it can claim the ENI while the ENI is free; otherwise it renders
# as a standby: a full coordinator whose discovery URI is its own loopback, so it never joins the active cluster
# until the failover function moves the ENI to it. Workers and the active coordinator use the ENI address.
#
# Local use (no AWS; give each local node its own NODE_ID):  NO_IMDS=1 NODE_ID=w1 NODE_ROLE=worker COORDINATOR_ADDRESS=127.0.0.1 TRINO_HTTP_PORT=8081 \
#   TRINO_ETC_DIR=/tmp/etc TRINO_DATA_DIR=/tmp/data TEMPLATE_DIR=packer/files/templates bash packer/files/render-config.sh
set -euo pipefail

log() { printf '%s trino-render: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# ---------------------------------------------------------------------------------------------------- inputs
BOOT_ENV_FILE="${BOOT_ENV_FILE:-/etc/trino-sentinel/boot.env}"
load_env_file() {
  # KEY=VALUE lines only (no shell evaluation); keeps variables already set in the environment.
  local file="$1" line key value
  [ -r "$file" ] || return 0
  while IFS= read -r line || [ -n "$line" ]; do
    case "$line" in '' | '#'*) continue ;; esac
    key="${line%%=*}"
    value="${line#*=}"
    [[ "$key" =~ ^[A-Z_][A-Z0-9_]*$ ]] || die "bad line in ${file}: ${key}"
    if [ -z "${!key+set}" ]; then
      export "${key}=${value}"
    fi
  done <"$file"
}
load_env_file "${CONFIG_ENV_FILE:-/dev/null}"
load_env_file "$BOOT_ENV_FILE"

imds_token=""
imds() {
  # Instance metadata (IMDSv2); empty output off EC2 or with NO_IMDS=1 (local runs).
  [ "${NO_IMDS:-0}" != 1 ] || return 0
  if [ -z "$imds_token" ]; then
    imds_token="$(curl -sf -m 2 -X PUT http://169.254.169.254/latest/api/token \
      -H 'X-aws-ec2-metadata-token-ttl-seconds: 300' || true)"
  fi
  [ -n "$imds_token" ] || return 0
  curl -sf -m 2 -H "X-aws-ec2-metadata-token: ${imds_token}" "http://169.254.169.254/latest/meta-data/$1" || true
}

if [ -n "${SSM_PREFIX:-}" ]; then
  command -v aws >/dev/null || die "SSM_PREFIX is set but the aws CLI is missing"
  log "reading parameters under ${SSM_PREFIX}/config/"
  while IFS=$'\t' read -r name value; do
    [ -n "$name" ] || continue
    key="${name##*/}"
    [[ "$key" =~ ^[A-Z_][A-Z0-9_]*$ ]] || { log "skipping parameter ${name} (not an UPPER_CASE name)"; continue; }
    export "${key}=${value}"
  done < <(aws ssm get-parameters-by-path --path "${SSM_PREFIX}/config" --recursive --with-decryption \
    --query 'Parameters[].[Name,Value]' --output text)
fi

# ---------------------------------------------------------------------------------------------------- defaults
: "${NODE_ROLE:?NODE_ROLE must be coordinator, standby or worker}"
: "${COORDINATOR_ADDRESS:?COORDINATOR_ADDRESS (the coordinator ENI address) is required}"
export CLUSTER_NAME="${CLUSTER_NAME:-trino}"
export NODE_ENVIRONMENT="${NODE_ENVIRONMENT:-${CLUSTER_NAME//-/_}}"
export TRINO_HTTP_SCHEME="${TRINO_HTTP_SCHEME:-http}"
export TRINO_HTTP_PORT="${TRINO_HTTP_PORT:-8080}"
# With https, TRINO_HTTP_PORT is the HTTPS port and plain HTTP stays on TRINO_PLAIN_HTTP_PORT.
if [ "$TRINO_HTTP_SCHEME" = https ]; then
  export TRINO_PLAIN_HTTP_PORT="${TRINO_PLAIN_HTTP_PORT:-8080}"
else
  # Over plain HTTP the node listens where clients and workers connect, unless told otherwise (a local smoke test
  # runs every node on one address and needs distinct ports).
  export TRINO_PLAIN_HTTP_PORT="${TRINO_PLAIN_HTTP_PORT:-$TRINO_HTTP_PORT}"
fi
export TRINO_ETC_DIR="${TRINO_ETC_DIR:-/etc/trino}"
export TRINO_DATA_DIR="${TRINO_DATA_DIR:-/var/lib/trino/data}"
export TEMPLATE_DIR="${TEMPLATE_DIR:-/opt/trino-sentinel/templates}"
export SHUTDOWN_GRACE_PERIOD="${SHUTDOWN_GRACE_PERIOD:-2m}"
export EVENT_LISTENER_URI="${EVENT_LISTENER_URI:-}"
export EVENT_LISTENER_RETRY_COUNT="${EVENT_LISTENER_RETRY_COUNT:-5}"
export LOG_GROUP="${LOG_GROUP:-/trino-sentinel/${CLUSTER_NAME}/trino}"
export FS_CACHE_DIR="${FS_CACHE_DIR:-}"
if [ -z "${TRINO_HEAP:-}" ]; then
  # 70% of physical memory, in MB.
  mem_kb="$(awk '/^MemTotal:/ { print $2 }' /proc/meminfo)"
  TRINO_HEAP="$((mem_kb * 7 / 10 / 1024))M"
fi
export TRINO_HEAP
export QUERY_MAX_MEMORY="${QUERY_MAX_MEMORY:-20GB}"

instance_id="$(imds instance-id)"
export NODE_ID="${NODE_ID:-${instance_id:-$(hostname -s)}}"
export NODE_ID="${NODE_ID//[^A-Za-z0-9_-]/_}"
local_ip="$(imds local-ipv4)"

# ---------------------------------------------------------------------------------------------------- role
eni_is_mine() {
  # True when an interface of this instance holds COORDINATOR_ADDRESS.
  local mac
  for mac in $(imds network/interfaces/macs/); do
    if imds "network/interfaces/macs/${mac%/}/local-ipv4s" | grep -qx "${COORDINATOR_ADDRESS}"; then
      return 0
    fi
  done
  return 1
}

claim_eni() {
  # Fresh cluster: the first coordinator to boot attaches the free ENI at device index 1. AWS refuses a second
  # attachment, so concurrent boots cannot both win; the loser renders as a standby.
  [ -n "${COORDINATOR_ENI_ID:-}" ] && [ -n "$instance_id" ] && command -v aws >/dev/null || return 1
  local status
  status="$(aws ec2 describe-network-interfaces --network-interface-ids "$COORDINATOR_ENI_ID" \
    --query 'NetworkInterfaces[0].Status' --output text 2>/dev/null || true)"
  [ "$status" = available ] || return 1
  log "claiming free coordinator ENI ${COORDINATOR_ENI_ID}"
  aws ec2 attach-network-interface --network-interface-id "$COORDINATOR_ENI_ID" --instance-id "$instance_id" \
    --device-index 1 >/dev/null 2>&1 || return 1
  # amazon-ec2-net-utils configures the secondary interface (policy routing) once the attachment lands.
  local i
  for i in $(seq 1 30); do
    eni_is_mine && return 0
    log "waiting for the ENI address (${i}/30)"
    sleep 2
  done
  return 1
}

role="$NODE_ROLE"
if [ "$role" = coordinator ] && [ -n "$instance_id" ]; then
  if eni_is_mine || claim_eni; then
    role=coordinator
  else
    role=standby
  fi
fi

case "$role" in
  coordinator | worker)
    export DISCOVERY_URI="${TRINO_HTTP_SCHEME}://${COORDINATOR_ADDRESS}:${TRINO_HTTP_PORT}"
    ;;
  standby)
    export DISCOVERY_URI="${TRINO_HTTP_SCHEME}://127.0.0.1:${TRINO_HTTP_PORT}"
    ;;
  *) die "NODE_ROLE must be coordinator, standby or worker (got ${role})" ;;
esac
if [ "$role" = coordinator ]; then
  export NODE_INTERNAL_ADDRESS="${NODE_INTERNAL_ADDRESS:-${COORDINATOR_ADDRESS}}"
else
  export NODE_INTERNAL_ADDRESS="${NODE_INTERNAL_ADDRESS:-${local_ip:-127.0.0.1}}"
fi
log "role=${role} node.id=${NODE_ID} discovery.uri=${DISCOVERY_URI}"

# ---------------------------------------------------------------------------------------------------- render
# Only our variables are substituted; Trino's own ${ENV:…} and the agent's ${aws:…} placeholders pass through.
# shellcheck disable=SC2016 # the list names the variables for envsubst; it must not expand here
VARS='${CLUSTER_NAME} ${NODE_ENVIRONMENT} ${NODE_ID} ${NODE_INTERNAL_ADDRESS} ${TRINO_DATA_DIR} ${TRINO_HEAP}
${TRINO_HTTP_PORT} ${TRINO_PLAIN_HTTP_PORT} ${DISCOVERY_URI} ${QUERY_MAX_MEMORY} ${SHUTDOWN_GRACE_PERIOD} ${EVENT_LISTENER_URI}
${EVENT_LISTENER_RETRY_COUNT} ${LOG_GROUP} ${FS_CACHE_DIR}'
render() { envsubst "$VARS" <"${TEMPLATE_DIR}/$1" >"$2"; }

etc="$TRINO_ETC_DIR"
mkdir -p "$etc/catalog" "$TRINO_DATA_DIR"
render node.properties.tmpl "$etc/node.properties"
render jvm.config.tmpl "$etc/jvm.config"
render log.properties.tmpl "$etc/log.properties"
if [ "$role" = worker ]; then
  render config-worker.properties.tmpl "$etc/config.properties"
else
  render config-coordinator.properties.tmpl "$etc/config.properties"
fi
rm -f "$etc/event-listener.properties"
if [ "$role" != worker ] && [ -n "$EVENT_LISTENER_URI" ]; then
  render event-listener.properties.tmpl "$etc/event-listener.properties"
fi

# Extra files: S3 on an instance, a local directory in a smoke test.
extra="${EXTRA_CONFIG_DIR:-}"
if [ -n "${CONFIG_S3_URI:-}" ]; then
  extra="$(mktemp -d)"
  trap 'rm -rf "$extra"' EXIT
  log "copying ${CONFIG_S3_URI}"
  aws s3 cp --recursive --only-show-errors "${CONFIG_S3_URI%/}/" "$extra/"
fi
if [ -n "$extra" ] && [ -d "$extra" ]; then
  if [ -d "$extra/catalog" ]; then
    cp "$extra"/catalog/*.properties "$etc/catalog/" 2>/dev/null || true
  fi
  if [ -f "$extra/config-extra.properties" ]; then
    cat "$extra/config-extra.properties" >>"$etc/config.properties"
  fi
  for f in access-control.properties password-authenticator.properties password.db rules.json group-provider.properties; do
    if [ -f "$extra/$f" ]; then cp "$extra/$f" "$etc/$f"; fi
  done
fi
if [ "$TRINO_HTTP_SCHEME" = https ]; then
  # TLS_KEYSTORE_PEM (an SSM SecureString under config/): key + certificate chain covering the ENI address.
  keystore="${TLS_KEYSTORE_PATH:-$etc/tls/keystore.pem}"
  if [ -n "${TLS_KEYSTORE_PEM:-}" ]; then
    mkdir -p "$(dirname "$keystore")"
    (umask 077 && printf '%s\n' "$TLS_KEYSTORE_PEM" >"$keystore")
  fi
  [ -r "$keystore" ] || die "TRINO_HTTP_SCHEME=https needs TLS_KEYSTORE_PEM or a readable TLS_KEYSTORE_PATH"
  printf 'http-server.https.enabled=true\nhttp-server.https.port=%s\nhttp-server.https.keystore.path=%s\n' \
    "$TRINO_HTTP_PORT" "$keystore" >>"$etc/config.properties"
fi
if [ -n "${INTERNAL_SHARED_SECRET:-}" ]; then
  printf 'internal-communication.shared-secret=%s\n' "$INTERNAL_SHARED_SECRET" >>"$etc/config.properties"
fi

# File-system cache on instance storage (set up by prepare-instance-storage.sh): enable it on the object-store
# catalogs of workers.
if [ "$role" = worker ] && [ -n "$FS_CACHE_DIR" ] && [ -d "$FS_CACHE_DIR" ]; then
  for catalog in "$etc"/catalog/*.properties; do
    [ -e "$catalog" ] || continue
    if grep -Eq '^connector\.name=(hive|iceberg|delta_lake|hudi)$' "$catalog" && ! grep -q '^fs\.cache\.enabled=' "$catalog"; then
      printf 'fs.cache.enabled=true\nfs.cache.directories=%s\n' "$FS_CACHE_DIR" >>"$catalog"
    fi
  done
fi

if [ -n "${CLOUDWATCH_AGENT_CONFIG:-}" ]; then
  render amazon-cloudwatch-agent.json.tmpl "$CLOUDWATCH_AGENT_CONFIG"
fi
printf '%s\n' "$role" >"$etc/role"
log "rendered ${etc}"
