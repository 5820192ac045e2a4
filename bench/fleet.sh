#!/usr/bin/env bash
# Benchmark of `mlrb watch` on a fleet: N models (default 200) whose three metrics come from
# one query template each, against a real Prometheus (1 s scrape of N × 4 series) and the
# embedded registry, run twice on the same data:
#   shared   - the queries written once with `{model}`: one query per metric per round;
#   separate - the same queries written out per model (no placeholder): one query per metric
#              and model per round, as before fleet reads.
# For each: Prometheus queries per round and time per round (from watch's own /metrics), CPU
# share of one core and peak RSS of the watch process over DURATION seconds (default 60) at a
# 5 s check interval, and the decisions of one `watch --once` (both must be the same).
# Usage: bench/fleet.sh [MODELS] [DURATION]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-200}
DURATION=${2:-60}
tests/env/setup.sh prometheus >/dev/null
cargo build --release -q
BIN=$PWD/target/release/mlrb
W=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$W"' EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# The exporter: N models' series in a static file; every 10th model breaches softly, every
# 25th hard, so decisions differ across the fleet.
mkdir -p "$W/exp"
python3 - "$N" "$W/exp/metrics" <<'PY'
import sys
n, out = int(sys.argv[1]), sys.argv[2]
with open(out, "w") as f:
    for i in range(1, n + 1):
        m = f"model-{i:04d}"
        errors = 9 if i % 25 == 0 else 3 if i % 10 == 0 else 1
        f.write(f'bench_requests_total{{model="{m}"}} 100\n')
        f.write(f'bench_errors_total{{model="{m}"}} {errors}\n')
        f.write(f'bench_latency_p99_ms{{model="{m}",pod="a"}} {120 + i % 7}\n')
        f.write(f'bench_prediction_diversity{{model="{m}"}} 0.73\n')
PY
EP=$(port)
tests/env/with-parent.sh $$ python3 -m http.server "$EP" --bind 127.0.0.1 --directory "$W/exp" >/dev/null 2>&1 &
PP=$(port)
sed "s/__TARGET__/127.0.0.1:$EP/" tests/env/prometheus.yml.tmpl >"$W/prom.yml"
tests/env/with-parent.sh $$ prometheus --config.file="$W/prom.yml" --web.listen-address="127.0.0.1:$PP" \
  --storage.tsdb.path="$W/tsdb" >"$W/prom.log" 2>&1 &
for _ in $(seq 1 300); do
  curl -fsS "http://127.0.0.1:$PP/api/v1/query?query=count(bench_requests_total)" 2>/dev/null | grep -q "\"$N\"" && break
  sleep 0.2
done

# The registry (v3 live, v2 the healthy baseline) and the two configs.
python3 - "$N" "$W" "http://127.0.0.1:$PP" <<'PY'
import json, sys
n, w, url = int(sys.argv[1]), sys.argv[2], sys.argv[3]
t = "2026-01-01T00:00:00Z"
def v(k, stage, tags={}):
    return {"version": k, "stage": stage, "aliases": [], "tags": tags, "source": f"s3://m/v{k}",
            "status": "READY", "created_at": t, "updated_at": t}
models = {}
for i in range(1, n + 1):
    models[f"model-{i:04d}"] = {"created_at": t, "aliases": {}, "tags": {}, "versions": [
        v(1, "Archived"), v(2, "Archived", {"rollback.healthy_baseline": "true"}), v(3, "Production")]}
json.dump({"schema": "mlrb-registry", "schema_version": 1, "models": models}, open(f"{w}/registry.json", "w"))
q = {
    "error_rate": 'sum(bench_errors_total{model="{model}"}) / sum(bench_requests_total{model="{model}"})',
    "latency_p99_ms": 'max(bench_latency_p99_ms{model="{model}"})',
    "prediction_diversity": 'bench_prediction_diversity{model="{model}"}',
}
for variant in ("shared", "separate"):
    with open(f"{w}/{variant}.toml", "w") as f:
        for i in range(1, n + 1):
            m = f"model-{i:04d}"
            f.write(f'[models."{m}".metrics]\nprometheus_url = "{url}"\n')
            for k, tmpl in q.items():
                f.write(f"{k} = '{tmpl if variant == 'shared' else tmpl.replace('{model}', m)}'\n")
            f.write(f'[models."{m}".baseline]\nerror_rate = 0.01\nprediction_diversity = 0.73\nlatency_p99_ms = 120\n')
            f.write(f'[models."{m}".controller]\ncheck_interval = "5s"\nconsecutive_failures_required = 1000000\n')
PY
MODELS=$(python3 -c "print(' '.join(f'model-{i:04d}' for i in range(1, $N + 1)))")
export MLRB_REGISTRY=$W/registry.json MLRB_STATE_DIR=$W/state

for variant in shared separate; do
  export MLRB_CONFIG=$W/$variant.toml
  # shellcheck disable=SC2086
  "$BIN" watch --once --log-format json $MODELS 2>"$W/$variant.once" || true
  LP=$(port)
  # shellcheck disable=SC2086
  "$BIN" watch $MODELS --listen "127.0.0.1:$LP" --log-format json >/dev/null 2>"$W/$variant.log" &
  PID=$!
  sleep "$DURATION"
  metrics=$(curl -fsS "http://127.0.0.1:$LP/metrics")
  read -r ut st < <(awk '{print $14, $15}' "/proc/$PID/stat")
  start_ticks=$(awk '{print $22}' "/proc/$PID/stat")
  uptime_s=$(awk '{print $1}' /proc/uptime)
  hwm=$(awk '/VmHWM/ {print $2}' "/proc/$PID/status")
  kill -TERM "$PID"; wait "$PID" || true
  rounds=$(awk '/^mlrb_watch_round_duration_seconds_count/ {print $2}' <<<"$metrics")
  secs=$(awk '/^mlrb_watch_round_duration_seconds_sum/ {print $2}' <<<"$metrics")
  queries=$(awk '/^mlrb_watch_prometheus_queries_total/ {print $2}' <<<"$metrics")
  checks=$(grep -c '"event":"check"' "$W/$variant.log" || true)
  awk -v v="$variant" -v n="$N" -v r="$rounds" -v s="$secs" -v q="$queries" -v c="$checks" \
    -v u="$ut" -v st="$st" -v hz="$(getconf CLK_TCK)" -v up="$uptime_s" -v st0="$start_ticks" -v hwm="$hwm" 'BEGIN {
    wall = up - st0 / hz; cpu = (u + st) / hz;
    printf "%-8s %d models: %d rounds, %.0f Prometheus queries per round, %.0f ms per round (read), %d checks; CPU %.2f%% of a core, peak RSS %.1f MB\n",
      v, n, r, q / r, 1000 * s / r, c, 100 * cpu / wall, hwm / 1024 }'
done

# Both configurations decide the same for every model.
python3 - "$W/shared.once" "$W/separate.once" <<'PY'
import json, sys
def decisions(p):
    out = {}
    for l in open(p):
        try:
            r = json.loads(l)
        except ValueError:
            continue
        if r.get("event") == "check":
            out[r["model"]] = (r["decision"], json.dumps(r["values"], sort_keys=True))
    return out
a, b = decisions(sys.argv[1]), decisions(sys.argv[2])
kinds = {}
for d, _ in a.values():
    kinds[d] = kinds.get(d, 0) + 1
assert a == b and len(a) > 0, "the shared and separate queries decided differently"
print(f"same decisions for all {len(a)} models: {kinds}")
PY
