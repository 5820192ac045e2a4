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
CACHE="${MLRB_TEST_CACHE:-$HOME/.cache/mlrb-test}"
tests/env/setup.sh mlflow prometheus >/dev/null
cargo build --release -q
BIN=$PWD/target/release/mlrb
W=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$W"' EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() { for _ in $(seq 1 600); do curl -fsS "$1" >/dev/null 2>&1 && return 0; sleep 0.2; done; echo "timeout: $1" >&2; exit 1; }

# MLflow, seeded with the reference incident: v1 Archived, v2 Archived + healthy baseline, v3 Production.
MP=$(port)
MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false tests/env/with-parent.sh $$ "$CACHE/mlflow/bin/mlflow" server \
  --backend-store-uri "sqlite:///$W/mlflow.db" --default-artifact-root "$W/art" \
  --host 127.0.0.1 --port "$MP" --workers 1 >"$W/mlflow.log" 2>&1 &
wait_http "http://127.0.0.1:$MP/health"
API="http://127.0.0.1:$MP/api/2.0/mlflow"
post() { curl -fsS -X POST -H 'Content-Type: application/json' "$API/$1" -d "$2" >/dev/null; }
post registered-models/create '{"name":"recsys"}'
for v in 1 2 3; do post model-versions/create "{\"name\":\"recsys\",\"source\":\"s3://m/recsys/v$v\"}"; done
post model-versions/transition-stage '{"name":"recsys","version":"1","stage":"Archived","archive_existing_versions":false}'
post model-versions/transition-stage '{"name":"recsys","version":"2","stage":"Archived","archive_existing_versions":false}'
post model-versions/set-tag '{"name":"recsys","version":"2","key":"rollback.healthy_baseline","value":"true"}'
post model-versions/transition-stage '{"name":"recsys","version":"3","stage":"Production","archive_existing_versions":false}'

# The exporter: a static file the benchmark rewrites; Prometheus scrapes it every second.
mkdir -p "$W/exp"
echo 'bench_error_rate 0.01' >"$W/exp/metrics"
EP=$(port)
tests/env/with-parent.sh $$ python3 -m http.server "$EP" --bind 127.0.0.1 --directory "$W/exp" >/dev/null 2>&1 &
PP=$(port)
sed "s/__TARGET__/127.0.0.1:$EP/" tests/env/prometheus.yml.tmpl >"$W/prom.yml"
tests/env/with-parent.sh $$ prometheus --config.file="$W/prom.yml" --web.listen-address="127.0.0.1:$PP" \
  --storage.tsdb.path="$W/tsdb" >"$W/prom.log" 2>&1 &
for _ in $(seq 1 300); do
  curl -fsS "http://127.0.0.1:$PP/api/v1/query?query=bench_error_rate" 2>/dev/null | grep -q '"0.01"' && break
  sleep 0.2
done

cat >"$W/mlrb.toml" <<TOML
[registry]
uri = "http://127.0.0.1:$MP"
[models.recsys.metrics]
prometheus_url = "http://127.0.0.1:$PP"
error_rate = 'bench_error_rate'
[models.recsys.baseline]
error_rate = 0.01
[models.recsys.controller]
check_interval = "1s"
consecutive_failures_required = 3
post_rollback_watch = "1h"
[models.recsys.verify]
timeout = "30s"
interval = "1s"
TOML
export MLRB_CONFIG="$W/mlrb.toml" MLRB_STATE_DIR="$W/state"
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
