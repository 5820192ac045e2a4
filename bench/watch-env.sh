# The world `mlrb watch` benchmarks run in, sourced by bench/watch.sh and bench/soak.sh:
# a real MLflow server seeded with the reference incident (v1 Archived, v2 Archived + healthy
# baseline, v3 Production), a static exporter file Prometheus scrapes every second
# ($W/exp/metrics, `bench_error_rate`), a real Prometheus, and mlrb.toml with a 1 s check
# interval. Sets W (work dir, removed on exit), BIN, MLRB_CONFIG and MLRB_STATE_DIR.
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
