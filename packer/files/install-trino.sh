#!/usr/bin/env bash
# Packer provisioner (Amazon Linux 2023, as root): JDK, Trino (pinned, checksum-verified) with its plugin set, the
# boot renderer and its templates, systemd units, the CloudWatch agent, secondary-ENI networking and the
# instance-storage cache.
#
# Inputs (environment):
#   TRINO_VERSION        Trino release, e.g. 476.
#   TRINO_DISTRIBUTION   server (default up to 476) | core (default from 477). Both are fully pinned:
#                        server = io.trino:trino-server:<v>:tar.gz (every plugin inside; bin/, lib/ and only the
#                                 plugin directories of TRINO_PLUGINS are kept);
#                        core   = io.trino:trino-server-core:<v>:tar.gz (a few plugins inside) plus one
#                                 io.trino:trino-<plugin>:<v>:zip per plugin of TRINO_PLUGINS the core lacks.
#                        Maven Central publishes the full tarball only up to 476 (docs/deploy.md, "AMI").
#   TRINO_PLUGINS        Plugin directory names, space-separated (default: DEFAULT_PLUGINS below). plugin/ holds
#                        exactly this set, whatever the distribution.
#   JDK_PACKAGE          The JDK package the release needs.
#   MAVEN_BASE_URL       Maven repository root (default Maven Central).
#   FILES_DIR            Where Packer uploaded packer/files.
# Every downloaded file must be listed in trino-artifacts.sha256 (fails closed). /opt/trino/ARTIFACTS records
# which pinned file each part of the installation came from.
set -euo pipefail

: "${TRINO_VERSION:?}"
: "${JDK_PACKAGE:?}"
: "${FILES_DIR:?}"
MAVEN_BASE_URL="${MAVEN_BASE_URL:-https://repo.maven.apache.org/maven2}"
DEFAULT_PLUGINS="tpch hive iceberg delta-lake memory jmx http-event-listener password-authenticators resource-group-managers session-property-managers exchange-filesystem"
TRINO_PLUGINS="${TRINO_PLUGINS:-$DEFAULT_PLUGINS}"
[[ "$TRINO_VERSION" =~ ^[0-9]+$ ]] || { echo "install-trino: TRINO_VERSION must be a release number (got ${TRINO_VERSION})" >&2; exit 1; }
if [ -z "${TRINO_DISTRIBUTION:-}" ]; then
  if [ "$TRINO_VERSION" -le 476 ]; then TRINO_DISTRIBUTION=server; else TRINO_DISTRIBUTION=core; fi
fi

log() { printf 'install-trino: %s\n' "$*" >&2; }
die() {
  log "ERROR: $*"
  exit 1
}

pinned_sha256() {
  awk -v f="$1" '$2 == f { print $1 }' "${FILES_DIR}/trino-artifacts.sha256"
}

fetch_verified() {
  # fetch_verified <maven path> <file name>: download into the work dir and verify against the pinned manifest.
  local path="$1" file="$2" want
  want="$(pinned_sha256 "$file")"
  [ -n "$want" ] || die "no pinned SHA-256 for ${file} in trino-artifacts.sha256 (a file Maven Central does not serve cannot be pinned; see docs/deploy.md)"
  log "downloading ${file}"
  curl -fsSL --retry 3 -o "${work}/${file}" "${MAVEN_BASE_URL}/${path}/${file}"
  printf '%s  %s\n' "$want" "${work}/${file}" | sha256sum -c --quiet - || die "SHA-256 mismatch for ${file}"
  printf 'artifact %s %s\n' "$file" "$want" >>"${work}/ARTIFACTS"
}

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
: >"${work}/ARTIFACTS"

log "packages"
dnf -y -q install "$JDK_PACKAGE" amazon-cloudwatch-agent amazon-ec2-net-utils gettext awscli-2 unzip python3 nvme-cli xfsprogs mdadm
java -version

log "Trino ${TRINO_VERSION} (${TRINO_DISTRIBUTION}; plugins: ${TRINO_PLUGINS})"
useradd --system --home-dir /var/lib/trino --shell /sbin/nologin trino
install -d -o trino -g trino /var/lib/trino /var/lib/trino/data
install -d /opt/trino-server
case "$TRINO_DISTRIBUTION" in
  server) top="trino-server-${TRINO_VERSION}" ;;
  core) top="trino-server-core-${TRINO_VERSION}" ;;
  *) die "TRINO_DISTRIBUTION must be server or core (got ${TRINO_DISTRIBUTION})" ;;
esac
fetch_verified "io/trino/${top%-"${TRINO_VERSION}"}/${TRINO_VERSION}" "${top}.tar.gz"
# The whole plugin/ tree is extracted, then pruned to the set: the tarballs hard-link identical jars across plugin
# directories (iceberg's netty jars are links to bigquery's), so extracting single plugin directories fails.
tar -xzf "${work}/${top}.tar.gz" -C /opt/trino-server "${top}/bin" "${top}/lib" "${top}/plugin"
plugin_dir="/opt/trino-server/${top}/plugin"
for bundled in "$plugin_dir"/*; do
  name="$(basename "$bundled")"
  case " ${TRINO_PLUGINS} " in
    *" ${name} "*) printf 'plugin %s %s.tar.gz\n' "$name" "$top" >>"${work}/ARTIFACTS" ;;
    *) rm -rf "$bundled" ;;
  esac
done
for plugin in $TRINO_PLUGINS; do
  [ -d "${plugin_dir}/${plugin}" ] && continue
  [ "$TRINO_DISTRIBUTION" = core ] || die "plugin ${plugin} is not in ${top}.tar.gz"
  fetch_verified "io/trino/trino-${plugin}/${TRINO_VERSION}" "trino-${plugin}-${TRINO_VERSION}.zip"
  # Each zip holds one directory, trino-<plugin>-<version>/: it becomes plugin/<plugin>.
  unzip -q "${work}/trino-${plugin}-${TRINO_VERSION}.zip" -d "$plugin_dir"
  mv "${plugin_dir}/trino-${plugin}-${TRINO_VERSION}" "${plugin_dir}/${plugin}"
  printf 'plugin %s trino-%s-%s.zip\n' "$plugin" "$plugin" "$TRINO_VERSION" >>"${work}/ARTIFACTS"
done
ln -sfn "/opt/trino-server/${top}" /opt/trino
printf '%s\n' "$TRINO_VERSION" >/opt/trino/TRINO_VERSION
install -m 0644 "${work}/ARTIFACTS" /opt/trino/ARTIFACTS

log "renderer, templates, units"
install -d /etc/trino-sentinel /opt/trino-sentinel/templates
install -o trino -g trino -d /etc/trino /etc/trino/catalog
install -m 0755 "${FILES_DIR}/render-config.sh" /usr/local/bin/trino-render-config
install -m 0755 "${FILES_DIR}/graceful-stop.sh" /usr/local/bin/trino-graceful-stop
install -m 0755 "${FILES_DIR}/prepare-instance-storage.sh" /usr/local/bin/trino-prepare-instance-storage
install -m 0644 "${FILES_DIR}"/templates/*.tmpl /opt/trino-sentinel/templates/
install -m 0644 "${FILES_DIR}"/systemd/*.service /etc/systemd/system/
# Render as root (SSM, IMDS, S3), then hand the tree to trino; the agent config goes where the agent reads it.
install -d /etc/systemd/system/trino-render.service.d
cat >/etc/systemd/system/trino-render.service.d/10-paths.conf <<'UNIT'
[Service]
Environment=CLOUDWATCH_AGENT_CONFIG=/opt/aws/amazon-cloudwatch-agent/etc/amazon-cloudwatch-agent.json
Environment=FS_CACHE_DIR=/mnt/trino-cache
ExecStartPre=/usr/local/bin/trino-prepare-instance-storage /mnt/trino-cache
ExecStartPost=/bin/chown -R trino:trino /etc/trino /var/lib/trino
ExecStartPost=-/bin/systemctl try-restart amazon-cloudwatch-agent.service
UNIT
systemctl daemon-reload
systemctl enable trino-render.service trino.service amazon-cloudwatch-agent.service

log "kernel and limits"
cat >/etc/sysctl.d/90-trino.conf <<'SYSCTL'
vm.max_map_count=262144
vm.swappiness=1
SYSCTL
log "done"
