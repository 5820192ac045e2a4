#!/usr/bin/env bash
# `mlrb changes` at scale: a feature repository with 10 000 commits (every 10th touching the
# pipeline path) and an embedded registry model with 2 000 versions, both within the window.
# Times the whole process with hyperfine (target: < 1 s). Usage: bench/changes.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-10}
cargo build --release -q
BIN=$PWD/target/release/mlrb
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
python3 - "$W" <<'PY'
import json, subprocess, sys, time
w = sys.argv[1]
now = int(time.time())
# 10 000 commits through git fast-import: seconds, not minutes.
lines = []
for i in range(1, 10001):
    path = "feature_pipeline/embed.py" if i % 10 == 0 else f"docs/note{i % 97}.md"
    body = f"v{i}\n".encode()
    t = now - (10000 - i) * 60
    lines.append(f"commit refs/heads/main\nmark :{i}\ncommitter ml <ml@example.com> {t} +0000\n"
                 f"data {len(f'change {i}')}\nchange {i}\n" + (f"from :{i-1}\n" if i > 1 else "") +
                 f"M 100644 inline {path}\ndata {len(body)}\n")
    lines.append(body.decode() + "\n")
subprocess.run(["git", "init", "-q", "-b", "main", f"{w}/repo"], check=True)
subprocess.run(["git", "fast-import", "--quiet"], input="".join(lines).encode(), cwd=f"{w}/repo", check=True)
subprocess.run(["git", "checkout", "-q", "main"], cwd=f"{w}/repo", check=True)
# 2 000 versions, the newest in Production, created over the last 2 000 minutes.
def iso(t): return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))
versions = [{"version": v, "stage": "Production" if v == 2000 else "Archived", "source": f"s3://m/recsys/{v}",
             "tags": {"rollback.healthy_baseline": "true"} if v % 50 == 0 else {},
             "created_at": iso(now - (2000 - v) * 60), "updated_at": iso(now - (2000 - v) * 60)} for v in range(1, 2001)]
json.dump({"schema": "mlrb-registry", "schema_version": 1, "models": {"recsys": {"versions": versions}}},
          open(f"{w}/registry.json", "w"))
open(f"{w}/mlrb.toml", "w").write(
    f'[registry]\nkind = "file"\npath = "{w}/registry.json"\n'
    f'[models.recsys.features]\nrepo = "{w}/repo"\npath = "feature_pipeline"\ndvc = false\n')
PY
export MLRB_CONFIG="$W/mlrb.toml" MLRB_STATE_DIR="$W/state"
"$BIN" changes recsys --since 7d -o json | python3 -c 'import json,sys; d=json.load(sys.stdin); print("changes listed:", len(d.get("changes", [])), "| hint:", d.get("hint"))'
hyperfine -N --style basic --runs "$RUNS" --warmup 1 "$BIN changes recsys --since 7d"
