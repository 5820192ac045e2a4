#!/usr/bin/env bash
# mlrb performance benchmark against one real local MLflow server (--workers 1).
#
#   bench/run.sh REFERENCE_SCRIPT
#
# REFERENCE_SCRIPT is the design document's Python rollback (seed_rollback.py: takes --uri,
# --model, --current); it is not part of this project, so it is an argument. It runs under the
# MLflow venv's python, $MLRB_TEST_CACHE/mlflow/bin/python (default cache ~/.cache/mlrb-test;
# tests/env/setup.sh mlflow installs it). Needs hyperfine (apt-get install -y hyperfine) and,
# for the request breakdown, strace (optional).
#
# Measures (hyperfine -N, fixture reset before every rollback run):
#   1. whole process: `mlrb rollback model seed5 --yes -q` vs the reference      (BENCH_RUNS_ROLLBACK, 10)
#   2. `mlrb candidate seed2010` on a 2 010-version model                          (BENCH_RUNS_CANDIDATE, 30)
#   3. `mlrb --version`                                                            (BENCH_RUNS_VERSION, 100)
# Prints a markdown table and writes it to bench/results/latest.md (+ hyperfine JSON beside it).
#
# Environment: BENCH_WAIT_IDLE=SECONDS waits up to that long for a background compile
# (pgrep -f 'go build|make WHAT|compile') to finish before measuring (default 0: just note it);
# BENCH_NO_BUILD=1 skips `cargo build --release --locked`; BENCH_KEEP=1 keeps the temp dir.
set -euo pipefail

usage() { echo "usage: bench/run.sh REFERENCE_SCRIPT   (e.g. seed_rollback.py)" >&2; exit 2; }
[[ $# -eq 1 ]] || usage
REF=$(realpath -e "$1" 2>/dev/null) || { echo "bench: reference script '$1' not found" >&2; exit 2; }

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH="$ROOT/bench"
RESULTS="$BENCH/results"
CACHE="${MLRB_TEST_CACHE:-$HOME/.cache/mlrb-test}"
VPY="$CACHE/mlflow/bin/python"
MLFLOW="$CACHE/mlflow/bin/mlflow"
RUNS_RB="${BENCH_RUNS_ROLLBACK:-10}"
RUNS_CAND="${BENCH_RUNS_CANDIDATE:-30}"
RUNS_VER="${BENCH_RUNS_VERSION:-100}"
BUSY_PATTERN='go build|make WHAT|compile'

say() { printf '\033[1mbench:\033[0m %s\n' "$*" >&2; }
die() { printf 'bench: %s\n' "$*" >&2; exit 1; }

command -v hyperfine >/dev/null || die "hyperfine not found (apt-get install -y hyperfine)"
[[ -x $VPY && -x $MLFLOW ]] || die "no MLflow venv at $CACHE/mlflow (run tests/env/setup.sh mlflow, or set MLRB_TEST_CACHE)"
command -v python3 >/dev/null || die "python3 not found"

# ---------------------------------------------------------------- temp dir, server, cleanup
TMP=$(mktemp -d "${TMPDIR:-/tmp}/mlrb-bench.XXXXXX")
SERVER_PID=""
cleanup() {
    local rc=$?
    if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM -- "-$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL -- "-$SERVER_PID" 2>/dev/null || true
    fi
    if [[ ${BENCH_KEEP:-0} == 1 ]]; then say "kept $TMP"; else rm -rf "$TMP"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
URI="http://127.0.0.1:$PORT"
mkdir -p "$TMP/art" "$TMP/state" "$TMP/xdg" "$TMP/work"
say "starting MLflow on $URI (log: $TMP/mlflow.log)"
# setsid: the server (gunicorn/uvicorn and its workers) gets its own process group, which
# cleanup() stops as a whole.
MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false setsid "$MLFLOW" server \
    --backend-store-uri "sqlite:///$TMP/mlflow.db" --default-artifact-root "$TMP/art" \
    --host 127.0.0.1 --port "$PORT" --workers 1 >"$TMP/mlflow.log" 2>&1 &
SERVER_PID=$!
python3 "$BENCH/fixture.py" wait --base "$URI" --timeout 180 \
    || { tail -20 "$TMP/mlflow.log" >&2; die "MLflow did not become healthy"; }

say "creating fixtures: seed5 (stage layout) and seed2010 (2 010 versions)"
python3 "$BENCH/fixture.py" create --base "$URI" seed5 5 --stage-layout
python3 "$BENCH/fixture.py" create --base "$URI" seed2010 2010 --healthy-every 50

# ---------------------------------------------------------------- quiet machine?
busy() { pgrep -f "$BUSY_PATTERN" >/dev/null; }
waited=0
while busy && (( waited < ${BENCH_WAIT_IDLE:-0} )); do
    (( waited == 0 )) && say "background build running; waiting up to ${BENCH_WAIT_IDLE}s for it to finish"
    sleep 30; waited=$((waited + 30))
done
if busy; then
    BACKGROUND="**yes — a background build was running, numbers are noisy** ($(pgrep -af "$BUSY_PATTERN" | head -1 | cut -c1-80))"
    say "WARNING: measuring while a background build runs"
else
    BACKGROUND="none"
fi
LOADAVG=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------- binary (rebuilt right before measuring) and environment
if [[ ${BENCH_NO_BUILD:-0} != 1 ]]; then
    say "cargo build --release --locked"
    (cd "$ROOT" && cargo build --release --locked --quiet)
fi
MLRB="$ROOT/target/release/mlrb"
[[ -x $MLRB ]] || die "no $MLRB (cargo build --release)"

# Both processes see the same, isolated environment: no user config file is picked up
# (cwd has no mlrb.toml, XDG_CONFIG_HOME is empty), the journal goes to the temp dir.
export MLFLOW_TRACKING_URI="$URI" MLRB_STATE_DIR="$TMP/state" XDG_CONFIG_HOME="$TMP/xdg"
unset MLRB_CONFIG MLRB_REGISTRY MLFLOW_TRACKING_USERNAME MLFLOW_TRACKING_PASSWORD MLFLOW_TRACKING_TOKEN
cd "$TMP/work"

RESET=(python3 "$BENCH/fixture.py" reset --base "$URI" seed5 5 --state-dir "$TMP/state")
CHECK=(python3 "$BENCH/fixture.py" check-rolled-back --base "$URI" seed5 5)
REF_CMD=("$VPY" "$REF" --uri "$URI" --model seed5 --current 5)

# ---------------------------------------------------------------- smoke run (also warms caches)
say "smoke: one rollback each, checked"
"${RESET[@]}"
"$MLRB" rollback model seed5 --yes -q >/dev/null || die "mlrb rollback failed"
"${CHECK[@]}" || die "mlrb rollback did not leave the registry rolled back"
"${RESET[@]}"
"${REF_CMD[@]}" >/dev/null 2>"$TMP/ref-timing.json" || die "reference rollback failed: $(cat "$TMP/ref-timing.json")"
"${CHECK[@]}" || die "reference rollback did not leave the registry rolled back"
"$MLRB" candidate seed2010 -q >/dev/null || die "mlrb candidate seed2010 failed"

# ---------------------------------------------------------------- measure
mkdir -p "$RESULTS"
HF=(hyperfine -N --style basic)
q() { printf '%q ' "$@"; }   # one command line for hyperfine -N (shell-words quoting)

say "1/3 whole-process rollback: mlrb vs reference, $RUNS_RB runs each, reset before every run"
MARKER="$TMP/reset-marker"; rm -f "$MARKER"
"${HF[@]}" --runs "$RUNS_RB" --warmup 1 \
    --prepare "$(q "${RESET[@]}" --marker "$MARKER")" \
    --export-json "$RESULTS/latest-rollback.json" \
    --command-name "mlrb rollback model seed5 --yes -q" "$(q "$MLRB" rollback model seed5 --yes -q)" \
    --command-name "reference seed_rollback.py --model seed5 --current 5" "$(q "${REF_CMD[@]}")"
"${CHECK[@]}" || die "the last reference run did not roll back"

say "2/3 mlrb candidate seed2010, $RUNS_CAND runs"
"${HF[@]}" --runs "$RUNS_CAND" --warmup 3 --export-json "$RESULTS/latest-candidate.json" \
    --command-name "mlrb candidate seed2010" "$(q "$MLRB" candidate seed2010)"

say "3/3 mlrb --version, $RUNS_VER runs"
"${HF[@]}" --runs "$RUNS_VER" --warmup 5 --export-json "$RESULTS/latest-version.json" \
    --command-name "mlrb --version" "$(q "$MLRB" --version)"

# ---------------------------------------------------------------- where the time goes (one traced run each)
ANATOMY="$TMP/anatomy.md"
{
    echo "## Where the time goes"
    echo
    echo "Reference, one untraced run (its own timer, seconds): \`$(tail -1 "$TMP/ref-timing.json")\`"
    echo "(\`import_s\` = \`import mlflow\`; \`inproc_s\` = client + candidate search + rollback)."
} >"$ANATOMY"
if command -v strace >/dev/null; then
    "${RESET[@]}"
    { echo; python3 "$BENCH/anatomy.py" --title "mlrb rollback model seed5" -- "$MLRB" rollback model seed5 --yes -q; } >>"$ANATOMY"
    "${CHECK[@]}" || die "traced mlrb rollback did not roll back"
    { echo; python3 "$BENCH/anatomy.py" --title "mlrb candidate seed2010" -- "$MLRB" candidate seed2010; } >>"$ANATOMY"
else
    echo; echo "(strace not installed: no per-request breakdown)" >>"$ANATOMY"
fi

# ---------------------------------------------------------------- report
LOADAVG="$LOADAVG at start, $(cut -d' ' -f1-3 /proc/loadavg) at end"
BM_DATE=$(date -u '+%Y-%m-%d %H:%M UTC') BM_NPROC=$(nproc) BM_UNAME=$(uname -r) BM_LOADAVG=$LOADAVG \
BM_BACKGROUND=$BACKGROUND BM_MLRB_VERSION=$("$MLRB" --version | awk '{print $2}') \
BM_GIT="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$ROOT" diff --quiet HEAD -- src Cargo.toml Cargo.lock 2>/dev/null || echo ' + uncommitted changes')" \
BM_REFERENCE=$(basename "$REF") \
BM_MLFLOW_VERSION=$("$VPY" -c 'import importlib.metadata as m; print(m.version("mlflow"))' 2>/dev/null || echo unknown) \
BM_HYPERFINE=$(hyperfine --version | awk '{print $2}') \
BM_COMMAND="bench/run.sh $1  (runs: rollback $RUNS_RB each, candidate $RUNS_CAND, --version $RUNS_VER)" \
python3 -c 'import json, os, sys
json.dump({k[3:].lower(): v for k, v in os.environ.items() if k.startswith("BM_")}, open(sys.argv[1], "w"), indent=1)' "$TMP/meta.json"
echo
python3 "$BENCH/summarize.py" --out "$RESULTS/latest.md" --meta "$TMP/meta.json" \
    "$RESULTS/latest-rollback.json" "$RESULTS/latest-candidate.json" "$RESULTS/latest-version.json" "$ANATOMY"
say "written $RESULTS/latest.md"
