#!/usr/bin/env bash
# Renders a Trino node's configuration at boot (trino-render.service runs it as root, as
# /usr/local/bin/trino-render-config) from envsubst templates, so the same code works on an instance and in a test.
#
# Values come, in increasing priority, from: built-in defaults < BOOT_ENV_FILE (written by the launch template's
# user data) < CONFIG_ENV_FILE < the process environment < SSM parameters under ${SSM_PREFIX}/common/<NAME> < those
# under ${SSM_PREFIX}/<role>/<NAME>, role coordinator (coordinators and standbys) or worker (only when SSM_PREFIX is
# set; SecureString values are decrypted; read as JSON, so multi-line values such as a PEM keep every line). Each
# node role may read only common/ and its own prefix (infra/trino-cluster.yaml, NodeBasePolicy and
# <Role>ConfigPolicy): a worker cannot read the coordinator's TLS key. Coordinators also read two names the control
# plane owns: ${SSM_PREFIX}/config/EVENT_LISTENER_URI and ${SSM_PREFIX}/query-log-secret. Extra files (catalogs, access control, resource groups …) come from CONFIG_S3_URI or the local
# directory EXTRA_CONFIG_DIR, each with the prefixes common/, coordinator/ and worker/ (allow-list below).
#
# Checks first that the AMI's Trino release (/opt/trino/TRINO_VERSION) is the cluster's TRINO_VERSION: Trino marks
# nodes of another version INACTIVE, so a skewed node fails its boot with a log line and the metric
# TrinoVersionSkew (namespace CWAgent/<cluster>, dimension ClusterName).
#
# NODE_ROLE: coordinator | standby | worker. On EC2 a "coordinator" instance is the active one only when the
# coordinator ENI (address COORDINATOR_ADDRESS) is already attached to it at boot; otherwise it renders as a
# standby: a full coordinator whose discovery URI is its own loopback, so it never joins the active cluster until
# the control plane moves the ENI to it (only the control plane moves the ENI).
#
# Ports: clients reach the coordinator on TRINO_HTTP_PORT (TRINO_HTTP_SCHEME https: TLS + the keystore below);
# nodes talk plain HTTP on INTERNAL_HTTP_PORT (default 8080) with the internal shared secret: discovery.uri is
# http://<coordinator ENI address>:<INTERNAL_HTTP_PORT>. With TRINO_HTTP_SCHEME=http both ports are TRINO_HTTP_PORT.
#
# Local use (no AWS; give each local node its own NODE_ID):
#   NO_IMDS=1 NODE_ID=w1 NODE_ROLE=worker COORDINATOR_ADDRESS=127.0.0.1 TRINO_ETC_DIR=/tmp/etc \
#   TRINO_DATA_DIR=/tmp/data TEMPLATE_DIR=packer/files/templates bash packer/files/render-config.sh
set -euo pipefail

log() { printf '%s trino-render: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >&2; }
die() {
  log "ERROR: $*"
  exit 1
}

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
chmod 0700 "$tmp"

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
export CLUSTER_NAME="${CLUSTER_NAME:-trino}"
NODE_METRICS_NAMESPACE="${NODE_METRICS_NAMESPACE:-CWAgent/${CLUSTER_NAME}}"

json_values() {
  # Reads an AWS CLI JSON answer on stdin and writes NUL-terminated fields: "Name\0Value\0" per SSM parameter
  # (get-parameters-by-path, get-parameter), or "SecretString\0" (secretsmanager get-secret-value).
  python3 -c '
import json, sys
answer = json.load(sys.stdin)
if "SecretString" in answer:
    sys.stdout.write(answer["SecretString"] + "\0")
else:
    for p in answer.get("Parameters", [answer.get("Parameter")] if "Parameter" in answer else []):
        sys.stdout.write(p["Name"] + "\0" + p["Value"] + "\0")
'
}

aws_json() {
  # aws_json <what> <aws args…>: runs the AWS CLI with JSON output into $tmp/answer.json; dies with its message.
  local what="$1"
  shift
  command -v aws >/dev/null || die "${what}: the aws CLI is missing"
  (umask 077 && aws "$@" --output json >"$tmp/answer.json" 2>"$tmp/aws.err") ||
    die "${what}: $(tr '\n' ' ' <"$tmp/aws.err")"
}

publish_metric() {
  # publish_metric <name>: one data point (value 1, Count) in NODE_METRICS_NAMESPACE, dimension ClusterName.
  command -v aws >/dev/null || {
    log "cannot publish metric $1: the aws CLI is missing"
    return 0
  }
  aws cloudwatch put-metric-data --namespace "$NODE_METRICS_NAMESPACE" --metric-name "$1" \
    --dimensions "ClusterName=${CLUSTER_NAME}" --value 1 --unit Count ||
    log "could not publish metric $1 to ${NODE_METRICS_NAMESPACE}"
}

# ---------------------------------------------------------------------------------------------------- version
# TRINO_VERSION (boot.env, from the stack's TrinoVersion) against the release baked into the AMI.
TRINO_HOME="${TRINO_HOME:-/opt/trino}"
if [ -n "${TRINO_VERSION:-}" ]; then
  installed="$(cat "${TRINO_HOME}/TRINO_VERSION" 2>/dev/null || true)"
  if [ "$installed" != "$TRINO_VERSION" ]; then
    log "ERROR: version skew: this AMI has Trino ${installed:-<none: no ${TRINO_HOME}/TRINO_VERSION>}, the cluster runs Trino ${TRINO_VERSION} (TrinoVersion); Trino would mark this node INACTIVE, so it does not start. Launch the AMI built for ${TRINO_VERSION}, or set TrinoVersion to the AMI's release."
    publish_metric TrinoVersionSkew
    exit 1
  fi
  log "Trino ${installed} (the AMI's release) matches TrinoVersion"
else
  log "TRINO_VERSION is not set: version check skipped"
fi

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

: "${NODE_ROLE:?NODE_ROLE must be coordinator, standby or worker}"
# SSM, S3 and EXTRA_CONFIG_DIR prefix of this node's own configuration: standbys are coordinators.
if [ "$NODE_ROLE" = worker ]; then config_role=worker; else config_role=coordinator; fi

if [ -n "${SSM_PREFIX:-}" ]; then
  for ssm_dir in common "$config_role"; do
    log "reading parameters under ${SSM_PREFIX}/${ssm_dir}/"
    aws_json "reading ${SSM_PREFIX}/${ssm_dir}/" ssm get-parameters-by-path --path "${SSM_PREFIX}/${ssm_dir}" \
      --recursive --with-decryption
    json_values <"$tmp/answer.json" >"$tmp/pairs" || die "could not parse the SSM answer"
    while IFS= read -r -d '' name && IFS= read -r -d '' value; do
      key="${name##*/}"
      [[ "$key" =~ ^[A-Z_][A-Z0-9_]*$ ]] || {
        log "skipping parameter ${name} (not an UPPER_CASE name)"
        continue
      }
      export "${key}=${value}"
    done <"$tmp/pairs"
  done
fi

# ---------------------------------------------------------------------------------------------------- defaults
: "${COORDINATOR_ADDRESS:?COORDINATOR_ADDRESS (the coordinator ENI address) is required}"
export NODE_ENVIRONMENT="${NODE_ENVIRONMENT:-${CLUSTER_NAME//-/_}}"
export TRINO_HTTP_SCHEME="${TRINO_HTTP_SCHEME:-http}"
export TRINO_HTTP_PORT="${TRINO_HTTP_PORT:-8080}"
case "$TRINO_HTTP_SCHEME" in
  https)
    export INTERNAL_HTTP_PORT="${INTERNAL_HTTP_PORT:-8080}"
    [ "$INTERNAL_HTTP_PORT" != "$TRINO_HTTP_PORT" ] ||
      die "INTERNAL_HTTP_PORT (plain HTTP between nodes) must differ from TRINO_HTTP_PORT (HTTPS for clients): both are ${TRINO_HTTP_PORT}"
    ;;
  http)
    if [ -n "${INTERNAL_HTTP_PORT:-}" ] && [ "$INTERNAL_HTTP_PORT" != "$TRINO_HTTP_PORT" ]; then
      log "TRINO_HTTP_SCHEME=http: clients and nodes share TRINO_HTTP_PORT ${TRINO_HTTP_PORT}; INTERNAL_HTTP_PORT ${INTERNAL_HTTP_PORT} is ignored"
    fi
    export INTERNAL_HTTP_PORT="$TRINO_HTTP_PORT"
    ;;
  *) die "TRINO_HTTP_SCHEME must be http or https (got ${TRINO_HTTP_SCHEME})" ;;
esac
export TRINO_ETC_DIR="${TRINO_ETC_DIR:-/etc/trino}"
export TRINO_DATA_DIR="${TRINO_DATA_DIR:-/var/lib/trino/data}"
# Trino's log.path: airlift writes <path>-<start time> files and keeps <path> a symlink to the current one; the
# CloudWatch agent ships <path>-* (its glob takes the most recently modified file).
export TRINO_LOG_FILE="${TRINO_DATA_DIR}/var/log/server.log"
export TEMPLATE_DIR="${TEMPLATE_DIR:-/opt/trino-sentinel/templates}"
export SHUTDOWN_GRACE_PERIOD="${SHUTDOWN_GRACE_PERIOD:-2m}"
export EVENT_LISTENER_URI="${EVENT_LISTENER_URI:-}"
export EVENT_LISTENER_RETRY_COUNT="${EVENT_LISTENER_RETRY_COUNT:-12}"
export LOG_GROUP="${LOG_GROUP:-/trino-sentinel/${CLUSTER_NAME}/trino}"
export FS_CACHE_DIR="${FS_CACHE_DIR:-}"
if [ -z "${TRINO_HEAP:-}" ]; then
  # 70% of physical memory, in MB.
  mem_kb="$(awk '/^MemTotal:/ { print $2 }' /proc/meminfo)"
  TRINO_HEAP="$((mem_kb * 7 / 10 / 1024))M"
fi
export TRINO_HEAP
export QUERY_MAX_MEMORY="${QUERY_MAX_MEMORY:-20GB}"
GRACEFUL_STOP_USER="${GRACEFUL_STOP_USER:-sentinel}"
GRACEFUL_STOP_TIMEOUT_SECONDS="${GRACEFUL_STOP_TIMEOUT_SECONDS:-600}"
[[ "$GRACEFUL_STOP_TIMEOUT_SECONDS" =~ ^[0-9]+$ ]] || die "GRACEFUL_STOP_TIMEOUT_SECONDS must be a number of seconds"
if [ "$GRACEFUL_STOP_TIMEOUT_SECONDS" -gt 630 ]; then
  # trino.service has TimeoutStopSec=660: the wait must end before systemd's own deadline.
  log "GRACEFUL_STOP_TIMEOUT_SECONDS ${GRACEFUL_STOP_TIMEOUT_SECONDS} is above 630 (trino.service TimeoutStopSec=660): using 630"
  GRACEFUL_STOP_TIMEOUT_SECONDS=630
fi

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

role="$NODE_ROLE"
if [ "$role" = coordinator ] && [ -n "$instance_id" ]; then
  if eni_is_mine; then
    role=coordinator
  else
    log "the coordinator ENI (${COORDINATOR_ADDRESS}) is not attached to this instance: standby (only the control plane moves the ENI)"
    role=standby
  fi
fi

case "$role" in
  coordinator | worker) export DISCOVERY_URI="http://${COORDINATOR_ADDRESS}:${INTERNAL_HTTP_PORT}" ;;
  standby) export DISCOVERY_URI="http://127.0.0.1:${INTERNAL_HTTP_PORT}" ;;
  *) die "NODE_ROLE must be coordinator, standby or worker (got ${role})" ;;
esac
if [ "$role" = coordinator ]; then
  export NODE_INTERNAL_ADDRESS="${NODE_INTERNAL_ADDRESS:-${COORDINATOR_ADDRESS}}"
else
  export NODE_INTERNAL_ADDRESS="${NODE_INTERNAL_ADDRESS:-${local_ip:-127.0.0.1}}"
fi
log "role=${role} node.id=${NODE_ID} discovery.uri=${DISCOVERY_URI} internal port ${INTERNAL_HTTP_PORT}, client port ${TRINO_HTTP_PORT} (${TRINO_HTTP_SCHEME})"

# ---------------------------------------------------------------------------------------------------- listener
# The control plane's deployment (`serverless deploy`) writes ${SSM_PREFIX}/config/EVENT_LISTENER_URI; coordinators
# read that one name (no node reads anything else under config/). On a new cluster the coordinators boot before the
# control plane exists (infra/ first), and Trino reads the listener's settings only at start, so a coordinator
# started without them would never ship a query event. With EVENT_LISTENER_WAIT_SECONDS > 0 (infra's
# QueryLogListenerWaitSeconds) a coordinator or standby waits for the parameter before Trino starts; nothing serves
# before the control plane exists anyway (only the control plane attaches the coordinator ENI). With 0 it reads the
# parameter once: absent = no listener; any other failure (access denied) fails the boot rather than silently
# dropping every query event.
if [ "$role" != worker ] && [ -z "$EVENT_LISTENER_URI" ] && [ -n "${SSM_PREFIX:-}" ]; then
  listener_wait="${EVENT_LISTENER_WAIT_SECONDS:-0}"
  wait_deadline=$((SECONDS + listener_wait))
  [ "$listener_wait" -le 0 ] ||
    log "waiting up to ${listener_wait} s for ${SSM_PREFIX}/config/EVENT_LISTENER_URI (written by the control plane's deployment)"
  while :; do
    if aws ssm get-parameter --name "${SSM_PREFIX}/config/EVENT_LISTENER_URI" --query Parameter.Value --output text \
      >"$tmp/listener-uri" 2>"$tmp/aws.err"; then
      EVENT_LISTENER_URI="$(tr -d '\r\n' <"$tmp/listener-uri")"
      [ -z "$EVENT_LISTENER_URI" ] || break
    elif ! grep -q ParameterNotFound "$tmp/aws.err"; then
      [ "$listener_wait" -gt 0 ] ||
        die "reading ${SSM_PREFIX}/config/EVENT_LISTENER_URI: $(tr '\n' ' ' <"$tmp/aws.err")"
      log "reading ${SSM_PREFIX}/config/EVENT_LISTENER_URI: $(tr '\n' ' ' <"$tmp/aws.err") (retrying)"
    fi
    if [ "$listener_wait" -le 0 ]; then
      log "no ${SSM_PREFIX}/config/EVENT_LISTENER_URI: query-log listener off"
      break
    fi
    [ "$SECONDS" -lt "$wait_deadline" ] ||
      die "no ${SSM_PREFIX}/config/EVENT_LISTENER_URI after ${listener_wait} s: deploy the control plane (serverless deploy) or set QueryLogListenerWaitSeconds=0"
    sleep "${EVENT_LISTENER_POLL_SECONDS:-15}"
  done
  [ -z "$EVENT_LISTENER_URI" ] || log "query-log listener URI found: ${EVENT_LISTENER_URI}"
  export EVENT_LISTENER_URI
fi
EVENT_LISTENER_HEADERS=""
if [ "$role" != worker ] && [ -n "$EVENT_LISTENER_URI" ]; then
  # The ingest function answers 401 (never retried by Trino) without the shared secret: no secret, no boot.
  if [ -z "${QUERY_LOG_SECRET:-}" ]; then
    [ -n "${SSM_PREFIX:-}" ] ||
      die "EVENT_LISTENER_URI is set but there is no query-log secret (QUERY_LOG_SECRET, or the SecureString \${SSM_PREFIX}/query-log-secret)"
    aws_json "EVENT_LISTENER_URI is set; reading the SecureString ${SSM_PREFIX}/query-log-secret" ssm get-parameter \
      --name "${SSM_PREFIX}/query-log-secret" --with-decryption
    json_values <"$tmp/answer.json" >"$tmp/pairs" || die "could not parse the SSM answer"
    { IFS= read -r -d '' _ && IFS= read -r -d '' QUERY_LOG_SECRET; } <"$tmp/pairs" ||
      die "the SSM answer for ${SSM_PREFIX}/query-log-secret has no value"
  fi
  # Several accepted secrets (a rotation) are stored one per line: Trino sends the first.
  secret="${QUERY_LOG_SECRET%%$'\n'*}"
  secret="${secret%$'\r'}"
  header="${QUERY_LOG_SECRET_HEADER:-x-trino-sentinel-secret}"
  header_re="^[-A-Za-z0-9!#\$%&'*+.^_\`|~]+\$"
  [[ "$header" =~ $header_re ]] || die "QUERY_LOG_SECRET_HEADER is not an HTTP header name"
  # Trino 476 reads connect-http-headers as a comma-separated list of Name:value (split at the first ':'), from a
  # Java properties file ('\' escapes) where ${ENV:…} is substituted: the secret must avoid those.
  unsafe_re='[[:space:],\]'
  if [ -z "$secret" ] || [[ "$secret" =~ $unsafe_re ]] || [[ "$secret" == *"\${"* ]]; then
    die "the query-log secret must be non-empty, without spaces, ',', '\\' or '\${' (use base64url or hex)"
  fi
  EVENT_LISTENER_HEADERS="${header}:${secret}"
fi
export EVENT_LISTENER_HEADERS

# ---------------------------------------------------------------------------------------------------- render
# Only our variables are substituted; Trino's own ${ENV:…} and the agent's ${aws:…} placeholders pass through.
# shellcheck disable=SC2016 # the list names the variables for envsubst; it must not expand here
VARS='${CLUSTER_NAME} ${NODE_ENVIRONMENT} ${NODE_ID} ${NODE_INTERNAL_ADDRESS} ${TRINO_DATA_DIR} ${TRINO_HEAP}
${INTERNAL_HTTP_PORT} ${DISCOVERY_URI} ${QUERY_MAX_MEMORY} ${SHUTDOWN_GRACE_PERIOD} ${EVENT_LISTENER_URI}
${EVENT_LISTENER_HEADERS} ${EVENT_LISTENER_RETRY_COUNT} ${LOG_GROUP} ${FS_CACHE_DIR} ${TRINO_LOG_FILE}'
render() { envsubst "$VARS" <"${TEMPLATE_DIR}/$1" >"$2"; }

etc="$TRINO_ETC_DIR"
mkdir -p "$etc/catalog" "$TRINO_DATA_DIR"
# Trino would create its log directory owner-only; the CloudWatch agent (run_as_user cwagent) must read it.
mkdir -p "$(dirname "$TRINO_LOG_FILE")"
chmod 0755 "$TRINO_DATA_DIR/var" "$(dirname "$TRINO_LOG_FILE")"
render node.properties.tmpl "$etc/node.properties"
render jvm.config.tmpl "$etc/jvm.config"
render log.properties.tmpl "$etc/log.properties"
# config.properties and event-listener.properties carry secrets: owner only (trino after ExecStartPost's chown).
rm -f "$etc/config.properties" "$etc/event-listener.properties"
if [ "$role" = worker ]; then
  (umask 077 && render config-worker.properties.tmpl "$etc/config.properties")
else
  (umask 077 && render config-coordinator.properties.tmpl "$etc/config.properties")
fi
if [ -n "$EVENT_LISTENER_HEADERS" ]; then
  (umask 077 && render event-listener.properties.tmpl "$etc/event-listener.properties")
  # Keeps the event small enough for the ingest path (docs/query-logs-ingest.md).
  printf 'event.max-output-stage-size=1kB\n' >>"$etc/config.properties"
fi

if [ "$TRINO_HTTP_SCHEME" = https ] && [ "$role" != worker ]; then
  # Key + certificate chain (PEM) for the coordinator ENI address and the DNS name <ClusterName>: the SecureString
  # TLS_KEYSTORE_PEM under coordinator/ (standard tier up to 4 KB, advanced up to 8 KB), or a Secrets Manager secret
  # (up to 64 KB) named by TLS_KEYSTORE_SECRET_ID, or a file at TLS_KEYSTORE_PATH.
  keystore="${TLS_KEYSTORE_PATH:-$etc/tls/keystore.pem}"
  if [ -n "${TLS_KEYSTORE_SECRET_ID:-}" ]; then
    aws_json "reading the keystore secret ${TLS_KEYSTORE_SECRET_ID}" secretsmanager get-secret-value \
      --secret-id "$TLS_KEYSTORE_SECRET_ID"
    json_values <"$tmp/answer.json" >"$tmp/secret" || die "could not parse the Secrets Manager answer"
    TLS_KEYSTORE_PEM="$(tr -d '\0' <"$tmp/secret")"
  fi
  if [ -n "${TLS_KEYSTORE_PEM:-}" ]; then
    mkdir -p "$(dirname "$keystore")"
    (umask 077 && printf '%s\n' "$TLS_KEYSTORE_PEM" >"$keystore")
  fi
  [ -r "$keystore" ] ||
    die "TRINO_HTTP_SCHEME=https needs TLS_KEYSTORE_PEM (SSM), TLS_KEYSTORE_SECRET_ID (Secrets Manager) or a readable TLS_KEYSTORE_PATH"
  if ! grep -q -- '-----BEGIN .*PRIVATE KEY-----' "$keystore" || ! grep -q -- '-----END CERTIFICATE-----' "$keystore"; then
    die "the keystore ${keystore} needs a private key and a certificate chain in PEM (a truncated value?)"
  fi
  printf 'http-server.https.enabled=true\nhttp-server.https.port=%s\nhttp-server.https.keystore.path=%s\n' \
    "$TRINO_HTTP_PORT" "$keystore" >>"$etc/config.properties"
fi
if [ -n "${INTERNAL_SHARED_SECRET:-}" ]; then
  printf 'internal-communication.shared-secret=%s\n' "$INTERNAL_SHARED_SECRET" >>"$etc/config.properties"
fi

# ---------------------------------------------------------------------------------------------------- extra files
# Layout (S3 or EXTRA_CONFIG_DIR): common/ for every node, then coordinator/ (coordinators and standbys) or
# worker/; a file of the role's prefix replaces the same file of common/, config-extra.properties of both is
# appended to config.properties (common first). Only these names are copied; anything else is logged and ignored.
ALLOWED_FILES="access-control.properties rules.json password-authenticator.properties password.db
group-provider.properties group.txt resource-groups.properties resource-groups.json exchange-manager.properties
session-property-config.properties session-property-config.json"
apply_config_dir() {
  local dir="$1" rel name
  [ -d "$dir" ] || return 0
  while IFS= read -r -d '' rel; do
    rel="${rel#./}"
    name="$(basename "$rel")"
    if [ "$rel" = config-extra.properties ]; then
      # A last line without its newline would run into the next file's first line.
      { cat "$dir/$rel"; [ -z "$(tail -c1 "$dir/$rel")" ] || echo; } >>"$etc/config.properties"
    elif [[ "$rel" =~ ^catalog/[a-z0-9_]+\.properties$ ]]; then
      # Catalogs may hold credentials (JDBC passwords, keys): owner only, like config.properties.
      (umask 077 && cp "$dir/$rel" "$etc/catalog/$name")
    elif [ "$rel" = "$name" ] && [[ " ${ALLOWED_FILES//$'\n'/ } " == *" ${name} "* ]]; then
      (umask 077 && cp "$dir/$rel" "$etc/$name")
    else
      log "ignoring ${dir##*/}/${rel} (not in the allow-list: catalog/<name>.properties, config-extra.properties, ${ALLOWED_FILES//$'\n'/ })"
    fi
  done < <(cd "$dir" && find . -type f -print0 | sort -z)
}
extra=""
if [ -n "${CONFIG_S3_URI:-}" ]; then
  extra="$tmp/extra"
  base="${CONFIG_S3_URI%/}"
  for prefix in common "$config_role"; do
    log "copying ${base}/${prefix}/"
    mkdir -p "$extra/$prefix"
    aws s3 cp --recursive --only-show-errors "${base}/${prefix}/" "$extra/$prefix/" ||
      die "copying ${base}/${prefix}/ failed"
  done
  stray="$(aws s3 ls "${base}/" 2>/dev/null | awk '$1 != "PRE" { print $4 }' | tr '\n' ' ' || true)"
  [ -z "$stray" ] || log "WARNING: ignoring files at the top of ${base}/ (${stray% }): put them under common/, coordinator/ or worker/"
elif [ -n "${EXTRA_CONFIG_DIR:-}" ]; then
  extra="$EXTRA_CONFIG_DIR"
fi
if [ -n "$extra" ]; then
  apply_config_dir "$extra/common"
  apply_config_dir "$extra/$config_role"
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
  mkdir -p "$(dirname "$CLOUDWATCH_AGENT_CONFIG")"
  render amazon-cloudwatch-agent.json.tmpl "$CLOUDWATCH_AGENT_CONFIG"
fi
# What trino.service's ExecStop (trino-graceful-stop) needs.
printf 'NODE_ROLE=%s\nINTERNAL_HTTP_PORT=%s\nGRACEFUL_STOP_USER=%s\nGRACEFUL_STOP_TIMEOUT_SECONDS=%s\n' \
  "$role" "$INTERNAL_HTTP_PORT" "$GRACEFUL_STOP_USER" "$GRACEFUL_STOP_TIMEOUT_SECONDS" >"$etc/graceful-stop.env"
printf '%s\n' "$role" >"$etc/role"
log "rendered ${etc}"
