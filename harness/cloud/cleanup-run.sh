#!/usr/bin/env bash
# Removes what a local-cloud run created (harness/cloud/netns.ts): kills every process inside the run's network
# namespaces, deletes their interfaces and the namespaces, removes the run's cgroups and its state directory.
# Used by cleanup() and by the watchdog that runs it when the Node process that owns the run dies.
#
#   cleanup-run.sh <prefix> <registry file | -> <state dir | -> [pid to spare ...]
#
# With a registry file, only the namespaces listed in it (one name a line) are removed; with "-", every namespace
# whose name starts with "<prefix>-" (the whole run). The state directory is removed only when given (not "-").
# The pids to spare are the caller itself (it may live inside the outer namespace) and this script.
set -u
prefix="$1"
registry="$2"
state="$3"
shift 3
spare=" $$ $* "

case "$prefix" in
  ts[0-9a-f][0-9a-f][0-9a-f][0-9a-f]) ;;
  *) echo "cleanup-run: refusing prefix '${prefix}' (expected ts + 4 hex digits)" >&2; exit 2 ;;
esac

namespaces() {
  if [ "$registry" = - ]; then
    ip netns list 2>/dev/null | awk -v p="${prefix}-" 'index($1, p) == 1 { print $1 }'
  elif [ -f "$registry" ]; then
    # Only names of this run, and only those that still exist.
    existing="$(ip netns list 2>/dev/null | awk '{ print $1 }')"
    while IFS= read -r name; do
      case "$name" in "${prefix}"-*) ;; *) continue ;; esac
      if printf '%s\n' "$existing" | grep -qxF -- "$name"; then printf '%s\n' "$name"; fi
    done <"$registry"
  fi
}

kill_all() {
  local ns pid
  for ns in $targets; do
    for pid in $(ip netns pids "$ns" 2>/dev/null); do
      case "$spare" in *" ${pid} "*) continue ;; esac
      kill -9 "$pid" 2>/dev/null
    done
  done
}

# The namespaces are listed once, before anything is deleted.
targets="$(namespaces)"

# Twice: a process may have been forking while the first pass ran.
kill_all
sleep 0.2
kill_all

for ns in $targets; do
  # Delete the links explicitly: a socket still open in the namespace would otherwise keep its veths alive.
  for link in $(ip -n "$ns" -o link show 2>/dev/null | awk -F': ' '{ print $2 }' | cut -d@ -f1); do
    [ "$link" = lo ] || ip -n "$ns" link del "$link" 2>/dev/null
  done
  ip netns del "$ns" 2>/dev/null
done

# The instance runners put each unit in a cgroup trino-sentinel/<prefix>/<namespace>/<unit> of the cgroup2
# hierarchy; remove what is left (deepest first), killing anything still in it. cgroup2 is mounted in a private
# mount namespace. Registry mode: the cgroups of the listed namespaces; whole-run mode: trino-sentinel/<prefix>.
if [ "$registry" = - ]; then cgroups="$prefix"; else cgroups="$(for ns in $targets; do printf '%s/%s ' "$prefix" "$ns"; done)"; fi
if [ -n "$cgroups" ] && grep -qw cgroup2 /proc/filesystems 2>/dev/null; then
  # shellcheck disable=SC2016,SC2086 # $vars expand in the inner shell; $cgroups is split on purpose
  unshare --mount --propagation private sh -c '
    mnt="$(mktemp -d)"
    if mount -t cgroup2 none "$mnt" 2>/dev/null; then
      for sub in "$@"; do
        root="$mnt/trino-sentinel/$sub"
        [ -d "$root" ] || continue
        find "$root" -depth -type d | while IFS= read -r dir; do
          [ -f "$dir/cgroup.kill" ] && echo 1 >"$dir/cgroup.kill" 2>/dev/null
          rmdir "$dir" 2>/dev/null || { sleep 0.2; rmdir "$dir" 2>/dev/null; }
        done
      done
      rmdir "$mnt/trino-sentinel" 2>/dev/null
      umount "$mnt"
    fi
    rmdir "$mnt"
  ' cleanup-cgroups $cgroups
fi

if [ "$state" != - ]; then
  case "$state" in
    */trino-sentinel-cloud/"$prefix" | */trino-sentinel-cloud/"$prefix"/*) rm -rf -- "$state" ;;
    *) echo "cleanup-run: not removing unexpected state directory '${state}'" >&2 ;;
  esac
fi
exit 0
