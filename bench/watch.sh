#!/usr/bin/env bash
# Benchmark of `mlrb watch` at a 1 s check interval on one model, against a real Prometheus
# (1 s scrape) and a real MLflow server (tests/env/setup.sh mlflow prometheus):
#   1. CPU share of one core and peak RSS of the watch process over DURATION seconds of healthy
#      metrics (default 180; the issue's figure is 600);
#   2. the time from the check that saw the 3rd consecutive breach to the registry change
#      (the target's transition to Production), both from mlrb's own journal/log clock.
# Usage: bench/watch.sh [DURATION]
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-180}
# shellcheck source=bench/watch-env.sh
. bench/watch-env.sh
"$BIN" watch recsys --log-format json >"$W/watch.out" 2>"$W/watch.log" &
PID=$!
sleep "$DURATION"
read -r ut st < <(awk '{print $14, $15}' "/proc/$PID/stat")
start_ticks=$(awk '{print $22}' "/proc/$PID/stat")
uptime_s=$(awk '{print $1}' /proc/uptime)
hz=$(getconf CLK_TCK)
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$PID/status")
checks=$(grep -c '"event":"check"' "$W/watch.log" || true)
awk -v u="$ut" -v s="$st" -v hz="$hz" -v up="$uptime_s" -v st0="$start_ticks" -v hwm="$hwm" -v n="$checks" 'BEGIN {
  wall = up - st0 / hz; cpu = (u + s) / hz;
  printf "healthy watch: %.0f s wall, %d checks, CPU %.3f s = %.3f%% of a core, peak RSS %.1f MB\n", wall, n, cpu, 100 * cpu / wall, hwm / 1024 }'

# The breach: three consecutive checks see 8% errors, then the rollback.
echo 'bench_error_rate 0.08' >"$W/exp/metrics"
for _ in $(seq 1 300); do grep -q '"event":"post_rollback_watch"' "$W/watch.log" && break; sleep 0.1; done
echo 'bench_error_rate 0.01' >"$W/exp/metrics"
third=$(grep '"event":"breach"' "$W/watch.log" | grep 'failure 3/3' | head -1 | python3 -c 'import json,sys; print(json.loads(sys.stdin.read())["ts"])')
flip=$(python3 - "$W/state/journal.jsonl" <<'PY'
import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r.get("type") == "step_finished" and r.get("index") == 0:
        print(r["at"]); break
PY
)
python3 - "$third" "$flip" <<'PY'
import sys
from datetime import datetime
a, b = (datetime.fromisoformat(x.replace("Z", "+00:00")) for x in sys.argv[1:3])
print(f"3rd breach check {a.time()} -> v2 Production in the registry {b.time()}: {(b - a).total_seconds() * 1000:.0f} ms")
PY
kill -TERM "$PID"; wait "$PID" || true
