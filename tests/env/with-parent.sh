#!/usr/bin/env bash
# Run CMD in its own process group and kill that whole group when PARENT_PID goes away.
#
# Usage: tests/env/with-parent.sh PARENT_PID CMD [ARGS...]
#
# CMD is started with setsid (new session + process group, inheriting this script's stdin, stdout
# and stderr). Every 0.5 s the wrapper checks PARENT_PID; once the parent has exited (or is a
# zombie, or its PID was reused by another process), or the wrapper receives SIGTERM/SIGINT/SIGHUP,
# CMD's process group gets SIGTERM, then SIGKILL after 5 s. When CMD exits by itself, leftovers in
# its group are cleaned up the same way and the wrapper exits with CMD's status.
# If WITH_PARENT_PIDFILE is set, CMD's pid (== its process group id) is written there.
# The test harness uses this so servers it starts die with the test process, even on panic/kill.
set -euo pipefail
set +m # no job control: the background child must not be a group leader before setsid

if [ $# -lt 2 ] || ! [[ $1 =~ ^[0-9]+$ ]]; then
  echo "usage: $0 PARENT_PID CMD [ARGS...]" >&2
  exit 2
fi
parent=$1
shift

# Field 22 of /proc/PID/stat (start time) identifies the process across PID reuse.
starttime() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) } # drop "pid (comm) ", comm may contain spaces
  # shellcheck disable=SC2086 # word splitting wanted
  set -- $stat
  [ "$1" != Z ] || return 1 # zombie: exited, only waiting to be reaped
  echo "${20}"
}

parent_start=$(starttime "$parent") || {
  echo "with-parent.sh: parent $parent is not running" >&2
  exit 1
}
parent_alive() { [ "$(starttime "$parent" 2>/dev/null || true)" = "$parent_start" ]; }

# Without job control, bash gives background jobs /dev/null as stdin; pass ours through.
setsid "$@" <&0 &
child=$! # setsid did not fork (we are not a group leader), so pgid == child pid
# Optional: tell the caller CMD's pid (== its process group id), e.g. for a stop script.
if [ -n "${WITH_PARENT_PIDFILE:-}" ]; then echo "$child" >"$WITH_PARENT_PIDFILE"; fi

group_alive() { kill -0 -- "-$child" 2>/dev/null; }

kill_group() {
  local i
  group_alive || return 0
  kill -TERM -- "-$child" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    group_alive || return 0
    sleep 0.1
  done
  kill -KILL -- "-$child" 2>/dev/null || true
}

# shellcheck disable=SC2317 # invoked from the traps below
on_signal() {
  trap '' TERM INT HUP
  kill_group
  wait "$child" 2>/dev/null || true
  exit "$1"
}
trap 'on_signal 143' TERM
trap 'on_signal 130' INT
trap 'on_signal 129' HUP

# bash reaps the child as soon as it exits, after which kill -0 on its PID fails.
while kill -0 "$child" 2>/dev/null; do
  if ! parent_alive; then
    kill_group
    break
  fi
  sleep 0.5 &
  wait $! || true # returns at once when a trapped signal arrives
done

status=0
wait "$child" || status=$?
kill_group # grandchildren CMD left behind in its group
exit "$status"
