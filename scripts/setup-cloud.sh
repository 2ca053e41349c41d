#!/usr/bin/env bash
# Installs what the local cloud (harness/cloud/) needs from Debian's packages, as root, when it is missing:
# iproute2 (ip netns, veth, bridge), nftables (security groups), util-linux (unshare, setpriv, nsenter) and
# iputils-ping (ICMP checks). Idempotent: a no-op when every tool is present. Used by .ci/run and by
# harness/cloud/netns.ts (ensureCloudTools).
set -euo pipefail

log() { printf 'setup-cloud: %s\n' "$*" >&2; }

declare -A package_of=(
  [ip]=iproute2
  [nft]=nftables
  [unshare]=util-linux
  [setpriv]=util-linux
  [nsenter]=util-linux
  [ping]=iputils-ping
)

missing=()
for tool in "${!package_of[@]}"; do
  if ! PATH="/usr/sbin:/usr/bin:/sbin:/bin:${PATH}" command -v "$tool" >/dev/null 2>&1; then
    missing+=("${package_of[$tool]}")
  fi
done
if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  log "missing ${missing[*]} and not root: install them with apt-get as root"
  exit 1
fi
mapfile -t packages < <(printf '%s\n' "${missing[@]}" | sort -u)
log "installing ${packages[*]}"
export DEBIAN_FRONTEND=noninteractive
# Another apt-get may hold the lock (parallel sessions): wait for it rather than fail.
apt-get -o DPkg::Lock::Timeout=300 update -q >/dev/null
apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends "${packages[@]}" >/dev/null
log "installed ${packages[*]}"
