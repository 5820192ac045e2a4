#!/usr/bin/env bash
# Soak: `mlrb watch` at a 1 s check interval for DURATION seconds (default 3600) against a real
# Prometheus and MLflow, with an error rate that flaps between healthy and breached every 2 s
# (two breaches, then a success: the consecutive rule must never fire). Reports RSS and open
# file descriptors early and at the end (both should be flat), CPU share of a core, the number
# of checks, and that no rollback happened.
# Usage: bench/soak.sh [DURATION]
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-3600}
# shellcheck source=bench/watch-env.sh
. bench/watch-env.sh
"$BIN" watch recsys --log-format json >"$W/watch.out" 2>"$W/watch.log" &
PID=$!
( v=0; while kill -0 "$PID" 2>/dev/null; do
    if [ $v = 0 ]; then echo 'bench_error_rate 0.08' >"$W/exp/metrics"; v=1; else echo 'bench_error_rate 0.01' >"$W/exp/metrics"; v=0; fi
    sleep 2
  done ) &
sample() { printf '%s rss_kb=%s fds=%s\n' "$1" "$(awk '/VmRSS/ {print $2}' /proc/$PID/status)" "$(ls /proc/$PID/fd | wc -l)"; }
sleep 30; early=$(sample "after 30 s:")
sleep $(( DURATION > 30 ? DURATION - 30 : 1 )); late=$(sample "after $DURATION s:")
read -r ut st < <(awk '{print $14, $15}' "/proc/$PID/stat")
hz=$(getconf CLK_TCK)
breaches=$(grep -c '"event":"breach"' "$W/watch.log" || true)
checks=$(( $(grep -c '"event":"check"' "$W/watch.log" || true) + breaches ))
rollbacks=$(grep -c '"type":"started"' "$W/state/journal.jsonl" 2>/dev/null || true)
echo "$early"; echo "$late"
awk -v u="$ut" -v s="$st" -v hz="$hz" -v d="$DURATION" -v n="$checks" -v b="$breaches" -v r="$rollbacks" 'BEGIN {
  cpu = (u + s) / hz;
  printf "soak: %d s, %d checks, %d breach checks, %d rollbacks, CPU %.2f s = %.3f%% of a core\n", d, n, b, r, cpu, 100 * cpu / d }'
kill -TERM "$PID"; wait "$PID" || true
