#!/usr/bin/env bash
# Bounded fuzzing of every parser that reads input mlrb does not control (config text, the
# journal, MLflow answers, the embedded registry file): SECONDS per target (default 60).
# Needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`). Crashes land in
# fuzz/artifacts/TARGET/; each one found becomes a regression case in tests/it/robustness.rs.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
SECS="${1:-60}"
for t in config journal mlflow_answer registry_file; do
  echo "== $t ($SECS s)"
  cargo +nightly fuzz run "$t" -- -max_total_time="$SECS" -rss_limit_mb=1024 2>&1 | grep -E "^(#[0-9]+.*DONE|Done|==[0-9]+== ERROR|SUMMARY)" || true
done
crashes=$(find artifacts -type f 2>/dev/null | wc -l)
echo "crash artifacts: $crashes"; find artifacts -type f 2>/dev/null | head
