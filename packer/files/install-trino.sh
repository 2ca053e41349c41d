#!/usr/bin/env bash
# Packer provisioner (Amazon Linux 2023, as root): JDK, Trino (pinned, checksum-verified), the boot renderer and
# its templates, systemd units, the CloudWatch agent, secondary-ENI networking and the instance-storage cache.
# Inputs (environment): TRINO_VERSION, TRINO_PLUGINS (space-separated Maven artifact ids, e.g. "trino-hive"),
# JDK_PACKAGE, MAVEN_BASE_URL, FILES_DIR (where Packer uploaded packer/files).
set -euo pipefail

: "${TRINO_VERSION:?}"
: "${JDK_PACKAGE:?}"
: "${FILES_DIR:?}"
MAVEN_BASE_URL="${MAVEN_BASE_URL:-https://repo.maven.apache.org/maven2}"
TRINO_PLUGINS="${TRINO_PLUGINS:-}"

log() { printf 'install-trino: %s\n' "$*" >&2; }

fetch_verified() {
  # fetch_verified <maven path> <file name>: download into the work dir and verify against the pinned manifest.
  local path="$1" file="$2" want
  want="$(awk -v f="$file" '$2 == f { print $1 }' "${FILES_DIR}/trino-artifacts.sha256")"
  [ -n "$want" ] || { log "no pinned SHA-256 for ${file} in trino-artifacts.sha256"; exit 1; }
  log "downloading ${file}"
  curl -fsSL --retry 3 -o "${work}/${file}" "${MAVEN_BASE_URL}/${path}/${file}"
  printf '%s  %s\n' "$want" "${work}/${file}" | sha256sum -c --quiet -
}

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

log "packages"
dnf -y -q install "$JDK_PACKAGE" amazon-cloudwatch-agent amazon-ec2-net-utils gettext awscli-2 unzip python3 nvme-cli xfsprogs mdadm
java -version

log "Trino ${TRINO_VERSION}"
fetch_verified "io/trino/trino-server-core/${TRINO_VERSION}" "trino-server-core-${TRINO_VERSION}.tar.gz"
useradd --system --home-dir /var/lib/trino --shell /sbin/nologin trino
install -d -o trino -g trino /var/lib/trino /var/lib/trino/data
install -d /opt/trino-server
tar -xzf "${work}/trino-server-core-${TRINO_VERSION}.tar.gz" -C /opt/trino-server
ln -sfn "/opt/trino-server/trino-server-core-${TRINO_VERSION}" /opt/trino
for plugin in $TRINO_PLUGINS; do
  fetch_verified "io/trino/${plugin}/${TRINO_VERSION}" "${plugin}-${TRINO_VERSION}.zip"
  unzip -q "${work}/${plugin}-${TRINO_VERSION}.zip" -d /opt/trino/plugin/
done
printf '%s\n' "$TRINO_VERSION" >/opt/trino/TRINO_VERSION

log "renderer, templates, units"
install -d /etc/trino-sentinel /opt/trino-sentinel/templates
install -o trino -g trino -d /etc/trino /etc/trino/catalog
install -m 0755 "${FILES_DIR}/render-config.sh" /usr/local/bin/trino-render-config
install -m 0755 "${FILES_DIR}/prepare-instance-storage.sh" /usr/local/bin/trino-prepare-instance-storage
install -m 0644 "${FILES_DIR}"/templates/*.tmpl /opt/trino-sentinel/templates/
install -m 0644 "${FILES_DIR}"/systemd/*.service /etc/systemd/system/
# Render as root (SSM, IMDS, ENI), then hand the tree to trino; the agent config goes where the agent reads it.
install -d /etc/systemd/system/trino-render.service.d
cat >/etc/systemd/system/trino-render.service.d/10-paths.conf <<'UNIT'
[Service]
Environment=CLOUDWATCH_AGENT_CONFIG=/opt/aws/amazon-cloudwatch-agent/etc/amazon-cloudwatch-agent.json
Environment=FS_CACHE_DIR=/mnt/trino-cache
ExecStartPre=/usr/local/bin/trino-prepare-instance-storage /mnt/trino-cache
ExecStartPost=/bin/chown -R trino:trino /etc/trino /var/lib/trino
ExecStartPost=/bin/systemctl restart amazon-cloudwatch-agent
UNIT
systemctl daemon-reload
systemctl enable trino-render.service trino.service amazon-cloudwatch-agent.service

log "kernel and limits"
cat >/etc/sysctl.d/90-trino.conf <<'SYSCTL'
vm.max_map_count=262144
vm.swappiness=1
SYSCTL
log "done"
