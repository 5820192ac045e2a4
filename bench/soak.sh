#!/usr/bin/env bash
# Soak: `mlrb watch` at a 1 s check interval for DURATION seconds (default 3600) against a real
# Prometheus and MLflow, with an error rate that flaps: breached for 1 s, healthy for 2 s. Scraped
# every second, a 1 s breach is visible for at most two scrapes, so the consecutive rule (3) must
# never fire. (A 2 s/2 s flap drifts against the scrape and the check: now and then it shows
# three breaches in a row, and the rule then rolls back, as it should.) Reports RSS and open file
# descriptors early and at the end (both should be flat), CPU share of a core, the number of
# checks, the longest run of consecutive breach checks, and that no rollback happened. When one
# did, the watch log is kept in bench/results/soak-watch.log.
# Usage: bench/soak.sh [DURATION]   (SOAK_BREACH_S / SOAK_HEALTHY_S change the flap, default 1 / 2)
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-3600}
BREACH_S=${SOAK_BREACH_S:-1}
HEALTHY_S=${SOAK_HEALTHY_S:-2}
# shellcheck source=bench/watch-env.sh
. bench/watch-env.sh
"$BIN" watch recsys --log-format json >"$W/watch.out" 2>"$W/watch.log" &
PID=$!
( while kill -0 "$PID" 2>/dev/null; do
    echo 'bench_error_rate 0.08' >"$W/exp/metrics"; sleep "$BREACH_S"
    echo 'bench_error_rate 0.01' >"$W/exp/metrics"; sleep "$HEALTHY_S"
  done ) &
sample() { printf '%s rss_kb=%s fds=%s\n' "$1" "$(awk '/VmRSS/ {print $2}' /proc/$PID/status)" "$(ls /proc/$PID/fd | wc -l)"; }
sleep 30; early=$(sample "after 30 s:")
sleep $(( DURATION > 30 ? DURATION - 30 : 1 )); late=$(sample "after $DURATION s:")
read -r ut st < <(awk '{print $14, $15}' "/proc/$PID/stat")
hz=$(getconf CLK_TCK)
breaches=$(grep -c '"event":"breach"' "$W/watch.log" || true)
checks=$(( $(grep -c '"event":"check"' "$W/watch.log" || true) + breaches ))
rollbacks=$(grep -c '"type":"started"' "$W/state/journal.jsonl" 2>/dev/null || true)
longest=$(grep -oE '"event":"(check|breach)"' "$W/watch.log" | awk '/breach/ {n++; if (n > m) m = n; next} {n = 0} END {print m + 0}')
if [ "${rollbacks:-0}" != 0 ]; then mkdir -p bench/results; cp "$W/watch.log" bench/results/soak-watch.log; fi
echo "$early"; echo "$late"
awk -v u="$ut" -v s="$st" -v hz="$hz" -v d="$DURATION" -v n="$checks" -v b="$breaches" -v r="$rollbacks" -v l="$longest" 'BEGIN {
  cpu = (u + s) / hz;
  printf "soak: %d s, %d checks, %d breach checks (longest run %d), %d rollbacks, CPU %.2f s = %.3f%% of a core\n", d, n, b, l, r, cpu, 100 * cpu / d }'
kill -TERM "$PID"; wait "$PID" || true
