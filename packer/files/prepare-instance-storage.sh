#!/usr/bin/env bash
# Formats and mounts the NVMe instance-store volumes (if the instance type has any) at $1 for Trino's file-system
# cache; a single volume is used as is, several are striped with mdadm (RAID 0). Idempotent; no-op without
# instance storage (the renderer then leaves the cache off).
set -euo pipefail
mount_point="${1:?usage: prepare-instance-storage.sh <mount point>}"

if mountpoint -q "$mount_point"; then
  exit 0
fi
mapfile -t devices < <(nvme list 2>/dev/null | awk '/Amazon EC2 NVMe Instance Storage/ { print $1 }')
if [ "${#devices[@]}" -eq 0 ]; then
  echo "prepare-instance-storage: no instance storage; file-system cache disabled" >&2
  rmdir "$mount_point" 2>/dev/null || true
  exit 0
fi
if [ "${#devices[@]}" -eq 1 ]; then
  device="${devices[0]}"
else
  device=/dev/md0
  mdadm --create "$device" --run --level=0 --raid-devices="${#devices[@]}" "${devices[@]}"
fi
mkfs.xfs -f "$device"
mkdir -p "$mount_point"
mount -o noatime "$device" "$mount_point"
chown trino:trino "$mount_point"
echo "prepare-instance-storage: ${#devices[@]} volume(s) on ${mount_point}" >&2
