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
#   1. whole process: `mlrb rollback model seed5 --yes -q` vs the reference and the floors, all
#      in one hyperfine run: (a) the 14 requests a stage-mode rollback needs, by curl over one
#      kept-alive connection, and (a∥) the same with the 10 audit tags sent at once; (b) mlrb's
#      own requests (read from `mlrb -v` in the smoke run) replayed by curl with mlrb's own
#      concurrency (what mlrb sent at once, at once: one curl per group), and (b-seq) the same
#      one after the other over one connection (bench/floor.py writes them)  (BENCH_RUNS_ROLLBACK, 10)
#   2. time from process start until the target is live (its transition returned): mlrb
#      (bench/live.py) beside floors (a) and (b) cut after that request      (BENCH_RUNS_ROLLBACK)
#   3. `mlrb candidate seed2010` on a 2 010-version model                          (BENCH_RUNS_CANDIDATE, 30)
#   4. `mlrb --version`                                                            (BENCH_RUNS_VERSION, 100)
#   5. scale, seed10k (10 000 versions): status, candidate, rollback --dry-run, and a whole
#      rollback v10000 -> v9950 (reset before each)                               (BENCH_RUNS_SCALE, 5)
# Prints a markdown table and writes it to bench/results/latest.md (+ hyperfine JSON beside it).
#
# Creating the fixtures takes minutes (10 000 versions over REST), so the server's database, as
# it stands right after they were created, is kept in $MLRB_TEST_CACHE/bench/ (keyed by the MLflow
# version and fixture.py) and copied into the temp dir by the next run; BENCH_FRESH=1 ignores it.
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
RUNS_SCALE="${BENCH_RUNS_SCALE:-5}"
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
MLFLOW_VERSION=$("$VPY" -c 'import importlib.metadata as m; print(m.version("mlflow"))' 2>/dev/null || echo unknown)
FIXTURE_DB="$CACHE/bench/fixtures-mlflow$MLFLOW_VERSION-$(sha1sum "$BENCH/fixture.py" | cut -c1-12).db"
CACHED=0
if [[ ${BENCH_FRESH:-0} != 1 && -s $FIXTURE_DB ]]; then
    cp "$FIXTURE_DB" "$TMP/mlflow.db" && CACHED=1
fi
say "starting MLflow on $URI (log: $TMP/mlflow.log)"
# setsid: the server (gunicorn/uvicorn and its workers) gets its own process group, which
# cleanup() stops as a whole.
MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false setsid "$MLFLOW" server \
    --backend-store-uri "sqlite:///$TMP/mlflow.db" --default-artifact-root "$TMP/art" \
    --host 127.0.0.1 --port "$PORT" --workers 1 >"$TMP/mlflow.log" 2>&1 &
SERVER_PID=$!
python3 "$BENCH/fixture.py" wait --base "$URI" --timeout 180 \
    || { tail -20 "$TMP/mlflow.log" >&2; die "MLflow did not become healthy"; }

if (( CACHED )); then
    say "fixtures seed5, seed2010, seed10k from $FIXTURE_DB"
else
    say "creating fixtures: seed5 (stage layout), seed2010 (2 010 versions), seed10k (10 000 versions; minutes)"
    python3 "$BENCH/fixture.py" create --base "$URI" seed5 5 --stage-layout
    python3 "$BENCH/fixture.py" create --base "$URI" seed2010 2010 --healthy-every 50
    python3 "$BENCH/fixture.py" create --base "$URI" seed10k 10000 --healthy-every 50
    # A consistent copy of the server's database (SQLite's online backup) for the next run.
    mkdir -p "$(dirname "$FIXTURE_DB")"
    python3 -c 'import sqlite3, sys; sqlite3.connect(sys.argv[1]).backup(sqlite3.connect(sys.argv[2]))' \
        "$TMP/mlflow.db" "$FIXTURE_DB.tmp" && mv "$FIXTURE_DB.tmp" "$FIXTURE_DB"
fi

# ---------------------------------------------------------------- quiet machine?
busy() { pgrep -f "$BUSY_PATTERN" >/dev/null; }
waited=0
while busy && (( waited < ${BENCH_WAIT_IDLE:-0} )); do
    (( waited == 0 )) && say "background build running; waiting up to ${BENCH_WAIT_IDLE}s for it to finish"
    sleep 30; waited=$((waited + 30))
done
if busy; then
    BACKGROUND="**yes — a background build was running, numbers are noisy** ($( { pgrep -af "$BUSY_PATTERN" || true; } | sed -n 1p | cut -c1-80))"
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
RESET10K=(python3 "$BENCH/fixture.py" reset --base "$URI" seed10k 10000 --target 9950 --state-dir "$TMP/state")
CHECK10K=(python3 "$BENCH/fixture.py" check-rolled-back --base "$URI" seed10k 10000 --target 9950)

# ---------------------------------------------------------------- smoke run (also warms caches)
say "smoke: one rollback each, checked; mlrb's requests traced (-v) for floor (b)"
"${RESET[@]}"
"$MLRB" -v rollback model seed5 --yes >/dev/null 2>"$TMP/trace.txt" || die "mlrb rollback failed: $(tail -5 "$TMP/trace.txt")"
"${CHECK[@]}" || die "mlrb rollback did not leave the registry rolled back"
REQUESTS=$(grep -c '^http: →' "$TMP/trace.txt")
LIVE_AT=$(grep -E '^http: →|✓ \[1/' "$TMP/trace.txt" | grep -n '✓ \[1/' | head -1 | cut -d: -f1)
REQUESTS_TO_LIVE=$(( ${LIVE_AT:-1} - 1 ))
REQUESTS_AFTER_OUTCOME=$(sed -n '/^rolled back seed5/,$p' "$TMP/trace.txt" | grep -c '^http: →' || true)
"${RESET[@]}"
"${REF_CMD[@]}" >/dev/null 2>"$TMP/ref-timing.json" || die "reference rollback failed: $(cat "$TMP/ref-timing.json")"
"${CHECK[@]}" || die "reference rollback did not leave the registry rolled back"
"$MLRB" candidate seed2010 -q >/dev/null || die "mlrb candidate seed2010 failed"
"${RESET10K[@]}"
"$MLRB" -v rollback model seed10k --yes >/dev/null 2>"$TMP/trace10k.txt" || die "mlrb rollback of seed10k failed: $(tail -5 "$TMP/trace10k.txt")"
"${CHECK10K[@]}" || die "mlrb rollback did not leave seed10k rolled back"
REQUESTS10K=$(grep -c '^http: →' "$TMP/trace10k.txt")

# The floors: curl configs, each smoke-run once (every answer 200, the registry rolled back).
# A floor is a curl config (`curl --config F`, one connection) or, where requests go at once, a
# shell script of curls (`sh F`); floor.py says which on stderr (kept for the report).
floor() { local out=$1; shift; python3 "$BENCH/floor.py" "$@" >"$TMP/$out" 2>"$TMP/$out.info"; }
floor floor-a.curl minimal --base "$URI" seed5 5 4
floor floor-a-par.sh minimal --base "$URI" seed5 5 4 --parallel
floor floor-a-live.curl minimal --base "$URI" seed5 5 4 --upto-live
floor floor-b.sh replay --base "$URI" seed5 5 4 "$TMP/trace.txt"
floor floor-b-seq.curl replay --base "$URI" seed5 5 4 "$TMP/trace.txt" --sequential
floor floor-b-live.sh replay --base "$URI" seed5 5 4 "$TMP/trace.txt" --upto-live
floor floor-a10k.curl minimal --base "$URI" seed10k 10000 9950
floor floor-a10k-par.sh minimal --base "$URI" seed10k 10000 9950 --parallel
floor floor-b10k.sh replay --base "$URI" seed10k 10000 9950 "$TMP/trace10k.txt"
run_floor() { if [[ $1 == *.sh ]]; then sh "$1"; else curl --config "$1"; fi; }
floor_cmd() { if [[ $1 == *.sh ]]; then q sh "$TMP/$1"; else q curl --config "$TMP/$1"; fi; }
q() { printf '%q ' "$@"; }   # one command line for hyperfine -N (shell-words quoting)
for f in floor-a.curl floor-a-par.sh floor-b.sh floor-b-seq.curl floor-a10k.curl floor-a10k-par.sh floor-b10k.sh; do
    if [[ $f == *10k* ]]; then reset=("${RESET10K[@]}") check=("${CHECK10K[@]}"); else reset=("${RESET[@]}") check=("${CHECK[@]}"); fi
    "${reset[@]}"
    # The schema gate's MLmodel reads (labelled `artifact`) answer what the fixture holds.
    codes=$(run_floor "$TMP/$f" | grep -v '^artifact ' | sort -u | tr '\n' ' ')
    [[ $codes == "200 " ]] || die "$f: answers $codes"
    "${check[@]}" || die "$f did not leave the registry rolled back"
done
FLOOR_A_REQUESTS=$(grep -c '^url = ' "$TMP/floor-a.curl")
FLOOR_B_SHAPE=$(sed 's/^floor: //' "$TMP/floor-b.sh.info")

# ---------------------------------------------------------------- measure
mkdir -p "$RESULTS"
HF=(hyperfine -N --style basic)

say "1/5 whole-process rollback: mlrb vs floors (a), (b) and the reference, $RUNS_RB runs each, reset before every run"
MARKER="$TMP/reset-marker"; rm -f "$MARKER"
"${HF[@]}" --runs "$RUNS_RB" --warmup 1 \
    --prepare "$(q "${RESET[@]}" --marker "$MARKER")" \
    --export-json "$RESULTS/latest-rollback.json" \
    --command-name "mlrb rollback model seed5 --yes -q" "$(q "$MLRB" rollback model seed5 --yes -q)" \
    --command-name "floor (a): $FLOOR_A_REQUESTS requests by curl" "$(floor_cmd floor-a.curl)" \
    --command-name "floor (a∥): the same, the audit tags at once" "$(floor_cmd floor-a-par.sh)" \
    --command-name "floor (b): mlrb's $REQUESTS requests by curl, its groups at once" "$(floor_cmd floor-b.sh)" \
    --command-name "floor (b-seq): mlrb's $REQUESTS requests by curl, one at a time" "$(floor_cmd floor-b-seq.curl)" \
    --command-name "reference seed_rollback.py --model seed5 --current 5" "$(q "${REF_CMD[@]}")"
"${CHECK[@]}" || die "the last reference run did not roll back"

say "2/5 time until the target is live: mlrb (its first step line) vs the floors cut after the transition, $RUNS_RB runs each"
python3 "$BENCH/live.py" --runs "$RUNS_RB" --prepare "$(q "${RESET[@]}")" --out "$RESULTS/latest-live.json" \
    -- "$MLRB" rollback model seed5 --yes >/dev/null
"${HF[@]}" --runs "$RUNS_RB" --warmup 1 --prepare "$(q "${RESET[@]}")" \
    --export-json "$RESULTS/latest-live-floors.json" \
    --command-name "floor (a) until live" "$(floor_cmd floor-a-live.curl)" \
    --command-name "floor (b) until live" "$(floor_cmd floor-b-live.sh)"

say "3/5 mlrb candidate seed2010, $RUNS_CAND runs"
"${HF[@]}" --runs "$RUNS_CAND" --warmup 3 --export-json "$RESULTS/latest-candidate.json" \
    --command-name "mlrb candidate seed2010" "$(q "$MLRB" candidate seed2010)"

say "4/5 mlrb --version, $RUNS_VER runs"
"${HF[@]}" --runs "$RUNS_VER" --warmup 5 --export-json "$RESULTS/latest-version.json" \
    --command-name "mlrb --version" "$(q "$MLRB" --version)"

say "5/5 scale: seed10k (10 000 versions), $RUNS_SCALE runs each"
"${RESET10K[@]}"
"${HF[@]}" --runs "$RUNS_SCALE" --warmup 1 --export-json "$RESULTS/latest-scale.json" \
    --command-name "mlrb status seed10k" "$(q "$MLRB" status seed10k)" \
    --command-name "mlrb candidate seed10k" "$(q "$MLRB" candidate seed10k)" \
    --command-name "mlrb rollback model seed10k --dry-run" "$(q "$MLRB" rollback model seed10k --dry-run)"
MARKER10K="$TMP/reset-marker-10k"; rm -f "$MARKER10K"
"${HF[@]}" --runs "$RUNS_SCALE" --warmup 1 \
    --prepare "$(q "${RESET10K[@]}" --marker "$MARKER10K")" \
    --export-json "$RESULTS/latest-scale-rollback.json" \
    --command-name "mlrb rollback model seed10k --yes -q" "$(q "$MLRB" rollback model seed10k --yes -q)" \
    --command-name "floor (a) on seed10k: $FLOOR_A_REQUESTS requests by curl" "$(floor_cmd floor-a10k.curl)" \
    --command-name "floor (a∥) on seed10k: the same, the audit tags at once" "$(floor_cmd floor-a10k-par.sh)" \
    --command-name "floor (b) on seed10k: mlrb's $REQUESTS10K requests by curl, its groups at once" "$(floor_cmd floor-b10k.sh)"
"${CHECK10K[@]}" || die "the last seed10k rollback did not roll back"

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
    "${RESET10K[@]}"
    { echo; python3 "$BENCH/anatomy.py" --title "mlrb rollback model seed10k" -- "$MLRB" rollback model seed10k --yes -q; } >>"$ANATOMY"
    "${CHECK10K[@]}" || die "traced seed10k rollback did not roll back"
    { echo; python3 "$BENCH/anatomy.py" --title "mlrb status seed10k" -- "$MLRB" status seed10k; } >>"$ANATOMY"
else
    echo; echo "(strace not installed: no per-request breakdown)" >>"$ANATOMY"
fi

# ---------------------------------------------------------------- report
LOADAVG="$LOADAVG at start, $(cut -d' ' -f1-3 /proc/loadavg) at end"
BM_DATE=$(date -u '+%Y-%m-%d %H:%M UTC') BM_NPROC=$(nproc) BM_UNAME=$(uname -r) BM_LOADAVG=$LOADAVG \
BM_BACKGROUND=$BACKGROUND BM_MLRB_VERSION=$("$MLRB" --version | awk '{print $2}') \
BM_GIT="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$ROOT" diff --quiet HEAD -- src Cargo.toml Cargo.lock 2>/dev/null || echo ' + uncommitted changes')" \
BM_REFERENCE=$(basename "$REF") \
BM_MLFLOW_VERSION=$MLFLOW_VERSION BM_REQUESTS=$REQUESTS BM_REQUESTS10K=$REQUESTS10K BM_REQUESTS_TO_LIVE=$REQUESTS_TO_LIVE \
BM_REQUESTS_AFTER_OUTCOME=$REQUESTS_AFTER_OUTCOME BM_FLOOR_A_REQUESTS=$FLOOR_A_REQUESTS \
BM_FLOOR_B_SHAPE=$FLOOR_B_SHAPE \
BM_FIXTURES=$( (( CACHED )) && echo "from the cache ($(basename "$FIXTURE_DB"))" || echo "created by this run") \
BM_HYPERFINE=$(hyperfine --version | awk '{print $2}') \
BM_COMMAND="bench/run.sh $1  (runs: rollback $RUNS_RB each, candidate $RUNS_CAND, --version $RUNS_VER, scale $RUNS_SCALE)" \
python3 -c 'import json, os, sys
json.dump({k[3:].lower(): v for k, v in os.environ.items() if k.startswith("BM_")}, open(sys.argv[1], "w"), indent=1)' "$TMP/meta.json"
echo
python3 "$BENCH/summarize.py" --out "$RESULTS/latest.md" --meta "$TMP/meta.json" --results "$RESULTS" \
    --anatomy "$ANATOMY"
say "written $RESULTS/latest.md"
