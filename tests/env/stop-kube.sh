#!/usr/bin/env bash
# Stop the control plane tests/env/start-kube.sh started in DIR: fake_kubelet, controller-manager,
# apiserver, etcd, in that order. Each process group gets SIGTERM, then SIGKILL after 5 s; only
# the pids recorded in DIR/*.pid are touched. DIR itself (logs, etcd data) is left in place.
#
# Usage: tests/env/stop-kube.sh DIR
set -euo pipefail

[ $# -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
DIR=$1
[ -d "$DIR" ] || exit 0

group_alive() { kill -0 -- "-$1" 2>/dev/null; }

# stop_group PGID: TERM the process group, KILL it if still there after 5 s.
stop_group() {
  local pg=$1 i
  group_alive "$pg" || return 0
  kill -TERM -- "-$pg" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    group_alive "$pg" || return 0
    sleep 0.1
  done
  kill -KILL -- "-$pg" 2>/dev/null || true
  for ((i = 0; i < 20; i++)); do
    group_alive "$pg" || return 0
    sleep 0.1
  done
  echo "stop-kube.sh: process group $pg survived SIGKILL" >&2
  return 1
}

rc=0
for c in fake_kubelet kcm apiserver etcd; do
  for f in "$DIR/$c.pid" "$DIR/$c.wrapper.pid"; do
    [ -f "$f" ] || continue
    pg=$(cat "$f")
    if [[ $pg =~ ^[0-9]+$ ]]; then
      stop_group "$pg" || rc=1
    fi
    rm -f "$f"
  done
done
exit "$rc"
